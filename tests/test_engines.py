"""pyld is the JSON-LD processor of record: the fast pyoxigraph path must give the same graphs."""

from __future__ import annotations

from conftest import OLDER, SAMPLE, SEEDS
from rdflib.compare import isomorphic

from rdfexport.pipeline import ExportOptions, build_graphs


def _graphs(paths, engine):
    items = list(build_graphs(paths, ExportOptions(engine=engine)))
    assert not [i for i in items if isinstance(i, Exception)]
    return {g.figure.figid: g for g in items}


def test_fast_engine_gives_pyld_graphs_on_the_whole_sample():
    for paths in ([SAMPLE, SEEDS], [OLDER / "276e5bbd"], [OLDER / "68c5be5b"]):
        fast, reference = _graphs(paths, "oxigraph"), _graphs(paths, "pyld")
        assert fast.keys() == reference.keys() and fast
        for figid, graph in reference.items():
            assert fast[figid].data == graph.data, figid
            assert fast[figid].digest == graph.digest


def test_isomorphic_by_rdflib_too():
    """Byte equality of canonical N-Quads implies isomorphism; check one the slow way anyway."""
    fast = _graphs([SEEDS], "oxigraph")
    reference = _graphs([SEEDS], "pyld")
    (figid,) = reference
    assert isomorphic(fast[figid].rdflib_graph(), reference[figid].rdflib_graph())
