"""The bundled SHACL shapes themselves: valid SHACL, documented, severities used as SHACL
means them, every rule tied to a real front-matter key, regexes every engine reads alike."""

from __future__ import annotations

import re

import pyshacl
import pytest
import rdflib
from conftest import ROOT, SAMPLE
from rdflib import RDF, RDFS, URIRef
from rdflib.namespace import SH

from rdfexport.pipeline import ExportOptions, read_figures
from rdfexport.validate import FRONT_MATTER_KEY, PFOCRSH, bundled_shapes_dir, load_shapes


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return load_shapes()


def named_shapes(g: rdflib.Graph) -> set[URIRef]:
    found = set(g.subjects(RDF.type, SH.NodeShape)) | set(g.subjects(RDF.type, SH.PropertyShape))
    found |= set(g.objects(None, SH.property))
    return {s for s in found if isinstance(s, URIRef)}


def test_bundled_shapes_are_the_repository_shapes_in_a_checkout():
    assert bundled_shapes_dir() == ROOT / "shapes"
    assert sorted(p.name for p in (ROOT / "shapes").glob("*.ttl")) == ["pfocr.shapes.ttl"]


def test_shapes_conform_to_shacl_for_shacl(shapes):
    conforms, _, text = pyshacl.validate(rdflib.Graph(), shacl_graph=shapes, meta_shacl=True)
    assert conforms, text


def test_every_shape_and_property_is_commented_and_has_a_severity(shapes):
    all_shapes = named_shapes(shapes)
    assert len(all_shapes) >= 40
    for s in all_shapes:
        assert shapes.value(s, RDFS.comment), f"{s} has no rdfs:comment saying why"
        constrained = any(p != RDFS.comment and str(p).startswith(str(SH))
                          and p not in (SH.targetClass, SH.targetSubjectsOf, SH.property)
                          for p in shapes.predicates(s))
        if constrained:
            assert shapes.value(s, SH.severity) in (SH.Violation, SH.Warning, SH.Info), s
            assert shapes.value(s, SH.message) or shapes.value(s, SH.sparql), s


def test_one_node_shape_per_kind_of_node(shapes):
    targets = {str(o).rsplit("/", 1)[-1].rsplit("#", 1)[-1]
               for o in shapes.objects(None, SH.targetClass)}
    assert targets >= {"Figure", "Dataset", "PublicationReference", "Periodical", "Taxon",
                       "GeneProduct", "Metabolite", "MedicalCondition", "GeneMention",
                       "ChemicalMention", "DiseaseMention"}
    assert set(shapes.objects(None, SH.targetSubjectsOf)) == {
        URIRef("http://vocabularies.wikipathways.org/wp#bdbHgncSymbol"),
        URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")}


def test_info_is_only_for_the_exporters_repairs(shapes):
    assert set(shapes.subjects(SH.severity, SH.Info)) == {PFOCRSH.FigureRepair}


def test_every_front_matter_key_named_by_a_shape_exists_in_real_files(shapes):
    seen: set[str] = set()
    for fig in read_figures([SAMPLE], ExportOptions()):
        if not isinstance(fig, Exception):
            seen |= set(fig.lines)
    named = {k for v in shapes.objects(None, FRONT_MATTER_KEY) for k in str(v).split()}
    assert named - seen == set()
    for s in named_shapes(shapes):
        if shapes.value(s, SH.severity) is not None:
            assert (s, FRONT_MATTER_KEY, None) in shapes, f"{s} names no front-matter key"


def test_patterns_use_no_lookaround_or_unicode_classes(shapes):
    """Python re, java.util.regex and Rust regex read these alike only without them."""
    for pattern in shapes.objects(None, SH.pattern):
        text = str(pattern)
        re.compile(text)
        assert "(?" not in text and "\\p{" not in text, text


def test_docs_list_every_rule(shapes):
    doc = (ROOT / "docs" / "VALIDATION.md").read_text(encoding="utf-8")
    rules = {str(s).rsplit("#", 1)[1] for s in shapes.subjects(SH.severity, None)}
    assert {r for r in rules if f"| `{r}` |" not in doc} == set()
