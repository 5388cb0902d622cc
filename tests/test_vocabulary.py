"""Every pfocr: term the export uses is defined in the shipped vocabulary, and only those."""

from __future__ import annotations

from importlib import resources

import pyoxigraph as ox
from conftest import SAMPLE

from rdfexport.pipeline import build_graphs

PFOCR = "https://pfocr.wikipathways.org/vocab#"


def test_pfocr_terms_used_are_defined():
    text = resources.files("rdfexport.ontology").joinpath("pfocr.ttl").read_bytes()
    defined = {q.subject.value for q in ox.parse(text, format=ox.RdfFormat.TURTLE)
               if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(PFOCR)}
    used = set()
    for fg in build_graphs([SAMPLE]):
        for q in fg.quads:
            for term in (q.predicate, q.object):
                if isinstance(term, ox.NamedNode) and term.value.startswith(PFOCR):
                    used.add(term.value)
    assert used and used <= defined, used - defined
