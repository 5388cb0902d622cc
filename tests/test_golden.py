"""Golden graphs for a dozen real figures spanning every format generation.

Compared by graph isomorphism, never by text. After an intended change of the model, regenerate
with ``RDFEXPORT_REGEN_GOLDEN=1 pytest tests/test_golden.py`` and review the diff of tests/golden.
"""

from __future__ import annotations

import os

import pytest
from conftest import FIGURES, OLDER, SEEDS
from rdflib import Graph
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

from rdfexport.pipeline import build_graphs
from rdfexport.vocab import PREFIXES

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")

CASES = {
    # old generation: gene/chemical lists in the front matter, organisms as a string, + table
    "old-lists-and-table": FIGURES / "PMC100003__mb2410470011.md",
    "old-lists": FIGURES / "PMC1127427__thah2499.f1.md",
    "old-organism-string": FIGURES / "PMC5147973__pone.0167768.g006.md",
    # newer generation: journal/doi/keywords, _data tables
    "new-genes-chemicals": FIGURES / "PMC10025411__fncel-17-1105247-g0001.md",
    "crlf-tables-diseases-wpid": FIGURES / "PMC6365454__fnins-13-00025-g0002.md",
    "diseases-table": FIGURES / "PMC6791490__ehp-127-095001-g0003.md",
    "ndex": FIGURES / "PMC1052008__JCI0524178.f1.md",
    "on-no-keywords": FIGURES / "PMC5774495__etm-15-02-1394-g03.md",
    "asterisks-in-caption": FIGURES / "PMC6851703__MMI-112-1284-g001.md",
    "genes-without-count-synonym": FIGURES / "PMC3246694__DRP2012-259170.002.md",
    # earlier versions and the seed record (a .txt, organisms: [NA])
    "older-version": OLDER / "276e5bbd" / "_figures" / "PMC100003__mb2410470011.md",
    "older-version-2014": OLDER / "68c5be5b" / "_figures" / "PMC4037577__MI2014-978463.004.md",
    "seed": SEEDS / "000_01b0406e482cf21b.txt",
}


def exported(path) -> Graph:
    (item,) = list(build_graphs([path]))
    assert not isinstance(item, Exception), str(item)
    return item.rdflib_graph()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    path = CASES[name]
    got = exported(path)
    golden = os.path.join(GOLDEN, f"{name}.ttl")
    if os.environ.get("RDFEXPORT_REGEN_GOLDEN"):
        for prefix, iri in PREFIXES.items():
            got.bind(prefix, iri, override=True, replace=True)
        got.serialize(golden, format="turtle")
    expected = Graph().parse(golden, format="turtle")
    if not isomorphic(got, expected):
        _, missing, extra = graph_diff(to_isomorphic(expected), to_isomorphic(got))
        pytest.fail(f"{path.name} differs from {name}.ttl\n"
                    f"missing:\n{missing.serialize(format='nt')}\n"
                    f"unexpected:\n{extra.serialize(format='nt')}")
