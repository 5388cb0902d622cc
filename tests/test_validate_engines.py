"""pySHACL is the engine of record; shacl-rust, the default engine for speed, is trusted only
because these tests show it reports exactly the same results: on every figure of the sample,
and on the whole sample with a violation of every shape planted into it."""

from __future__ import annotations

import importlib
import os

import pytest
import rdflib
from conftest import SAMPLE
from rdflib import XSD, Literal, URIRef
from rdflib.namespace import SH

from rdfexport.pipeline import ExportOptions, build_graphs
from rdfexport.validate import Severity, Validator

F = "https://pfocr.wikipathways.org/figures/"
OBO = "http://purl.obolibrary.org/obo/"
SCHEMA = rdflib.Namespace("http://schema.org/")
WP = rdflib.Namespace("http://vocabularies.wikipathways.org/wp#")
DC = rdflib.Namespace("http://purl.org/dc/elements/1.1/")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
PFOCR = rdflib.Namespace("https://pfocr.wikipathways.org/vocab#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
SKOS = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
RDF, OWL = rdflib.RDF, rdflib.OWL


def require_module(name: str, why: str):
    """Import a test dependency; skip with the reason, or fail in CI where it must be present."""
    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"{name} not installed ({why}); pip install -e '.[dev]' installs it"
        if os.environ.get("RDFEXPORT_REQUIRE_SERVERS"):
            pytest.fail(message)
        pytest.skip(message)


def planted_triples() -> list[tuple]:
    """A defect for every shape, in terms of real sample nodes (figures, article, gene)."""
    fig = URIRef(F + "PMC10031279__gr8.html")
    old = URIRef(F + "PMC100003__mb2410470011.html")
    article = URIRef("https://identifiers.org/pmc/PMC10031279")
    gene = URIRef("https://identifiers.org/ncbigene/2776")
    mention = URIRef(F + "PMC100003__mb2410470011.html#gene-2776-00000000")
    bad_mention = URIRef(F + "PMC100003__mb2410470011.html#gene-x")
    return [
        (fig, RDF.type, WP.Pathway),
        (fig, DC.title, Literal("Untagged second title")),
        (fig, DC.title, Literal("CreativeWork", lang="en")),
        (fig, SCHEMA.name, Literal("CreativeWork")),
        (fig, DCT.description, Literal("... ; --")),
        (old, DCT.description, Literal("Fig. 2")),
        (old, DCT.identifier, Literal("PMC1__other figure")),
        (fig, DCT.references, URIRef("https://identifiers.org/pmc/12345")),
        (fig, WP.organism, URIRef("https://www.ncbi.nlm.nih.gov/taxonomy/9606")),
        (fig, PFOCR.nerOrganism, Literal("Homo sapiens")),
        (fig, rdflib.FOAF.img, URIRef("https://example.org/img/gr8.jpg")),
        (fig, PFOCR.pathwayScore, Literal("1.5", datatype=XSD.decimal)),
        (old, PFOCR.pathwayScore, Literal("high")),
        (fig, SCHEMA.license, URIRef("https://opensource.org/licenses/MIT")),
        (fig, SCHEMA.keywords, Literal("NA")),
        (fig, SCHEMA.keywords, Literal(" trailing and  double ")),
        (fig, SCHEMA.keywords, Literal("x")),
        (URIRef(F + "PMC1__x.html"), RDF.type, SCHEMA.Dataset),
        (article, DCT.identifier, Literal("PMCX")),
        (article, SCHEMA.datePublished, Literal("1777", datatype=XSD.gYear)),
        (article, SCHEMA.datePublished, Literal("2017")),
        (article, OWL.sameAs, URIRef("https://doi.org/11.1016/x")),
        (article, DCT.bibliographicCitation, Literal("A. Author. J. ;1:2-3.")),
        (article, DC.title, Literal("Titel", lang="de")),
        (URIRef("https://example.org/journals/J"), RDF.type, SCHEMA.Periodical),
        (URIRef(OBO + "NCBITaxon_mouse"), RDF.type, SCHEMA.Taxon),
        (URIRef(OBO + "NCBITaxon_9606"), URIRef(OBO + "NCIT_C179773"), Literal("human")),
        (URIRef("https://identifiers.org/ncbigene/BMX"), RDF.type, WP.GeneProduct),
        (gene, DCT.identifier, Literal("GNAQ")),
        (gene, WP.bdbHgncSymbol, URIRef("https://example.org/GNAQ")),
        (gene, SCHEMA.taxonomicRange, URIRef(OBO + "NCBITaxon_10090")),
        (URIRef("https://identifiers.org/mesh/bombesin"), RDF.type, WP.Metabolite),
        (URIRef("https://identifiers.org/mesh/D001839"), WP.bdbChEBI,
         URIRef("https://identifiers.org/chebi/12345")),
        (URIRef("https://identifiers.org/mesh/D000001"), RDF.type, SCHEMA.MedicalCondition),
        (URIRef("https://identifiers.org/mesh/D000001"), SKOS.exactMatch,
         URIRef("http://purl.obolibrary.org/obo/DOID:4")),
        (bad_mention, RDF.type, PFOCR.GeneMention),
        (mention, RDF.type, PFOCR.GeneMention),
        (mention, DCT.isPartOf, old),
        (mention, DCT.isPartOf, fig),
        (mention, PFOCR.countDirect, Literal(-1)),
        (URIRef("https://identifiers.org/wikipathways/WP-1"), PROV.wasDerivedFrom, fig),
        (URIRef("https://www.ndexbio.org/viewer/networks/42"), PROV.wasDerivedFrom, fig),
        (fig, rdflib.RDFS.seeAlso,
         URIRef("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC149053/figure/fig7/")),
        (fig, URIRef("https://pfocr.wikipathways.org/shapes#duplicateKeyword"), Literal("AR")),
        (old, DC.title, Literal("Summary of the signaling pathw", lang="en")),
        (URIRef("https://example.org/figure/1"), RDF.type, URIRef("http://purl.org/spar/fabio/Figure")),
        (URIRef("https://identifiers.org/ncbigene/660"), SCHEMA.taxonomicRange,
         URIRef("https://example.org/taxon/9606")),
        (URIRef("https://identifiers.org/mesh/flu"), RDF.type, SCHEMA.MedicalCondition),
    ]


@pytest.fixture(scope="module")
def pyshacl_validator() -> Validator:
    return Validator(engine="pyshacl")


@pytest.fixture(scope="module")
def rust_validator() -> Validator:
    require_module("shacl_rust", "the fast SHACL engine under test")
    return Validator(engine="shacl-rust")


@pytest.fixture(scope="module")
def sample_data(pyshacl_validator) -> list[tuple[str, rdflib.Graph]]:
    return [(fg.figure.figid, pyshacl_validator.data_graph(fg))
            for fg in build_graphs([SAMPLE], ExportOptions()) if not isinstance(fg, Exception)]


def defective_sample(sample_data) -> rdflib.Graph:
    merged = rdflib.Graph()
    for _, data in sample_data:
        merged += data
    for t in planted_triples():
        merged.add(t)
    return merged


def keys(validator: Validator, data: rdflib.Graph) -> set[tuple[str, ...]]:
    return {r.key() for r in validator.raw(data)}


def test_shacl_rust_agrees_with_pyshacl_on_every_sample_figure(pyshacl_validator,
                                                               rust_validator, sample_data):
    assert len(sample_data) == 130
    for figid, data in sample_data:
        assert keys(rust_validator, data) == keys(pyshacl_validator, data), figid


def test_shacl_rust_agrees_with_pyshacl_on_the_sample_with_every_shape_violated(
        pyshacl_validator, rust_validator, sample_data):
    data = defective_sample(sample_data)
    reference = keys(pyshacl_validator, data)
    assert keys(rust_validator, data) == reference


def test_every_shape_fires_on_the_defective_sample(pyshacl_validator, sample_data):
    results = pyshacl_validator.raw(defective_sample(sample_data))
    fired = {str(r.shape).rsplit("#", 1)[-1] for r in results}
    shapes = pyshacl_validator.shapes
    named = {str(s).rsplit("#", 1)[-1] for s in shapes.subjects(rdflib.RDF.type, None)
             if isinstance(s, URIRef) and str(s).startswith("https://pfocr.wikipathways.org/shapes#")
             and (s, rdflib.namespace.SH.severity, None) in shapes}
    assert named - fired == set()
    assert {r.severity for r in results} == set(Severity)


def test_findings_are_the_same_with_either_engine(pyshacl_validator, rust_validator):
    fg = next(g for g in build_graphs([SAMPLE], ExportOptions())
              if g.figure.figid == "PMC6791490__ehp-127-095001-g0003")
    assert rust_validator.validate(fg) == pyshacl_validator.validate(fg)


# -- the split of SPARQL shapes (rdfexport/shacl_split.py) ----------------------------------------

SPLIT_OFF = {"FigureIriAgreesWithFigid", "FigureTitleCut", "FigureFiglinkArticle"}


def test_the_sparql_shapes_are_split_off_with_what_they_read(rust_validator):
    split = rust_validator._engine.split
    assert {str(s).rsplit("#", 1)[-1] for s in split.sparql.subjects(SH.sparql, None)} == SPLIT_OFF
    assert not list(split.core.triples((None, SH.sparql, None)))
    assert len(split.core) + len(split.sparql) == len(rust_validator.shapes)
    assert split.predicates == tuple(sorted(f"<{p}>".encode() for p in (
        DC.title, DCT.description, DCT.identifier, DCT.references, rdflib.RDFS.seeAlso)))
    assert split.type_tails == (
        b" <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://purl.org/spar/fabio/Figure> .\n",)


def test_the_bundled_sparql_shapes_run_once_a_batch_not_once_a_figure(rust_validator):
    split = rust_validator._engine.split
    assert {str(s.shape).rsplit("#", 1)[-1] for s in split.selects} == SPLIT_OFF
    assert len(split.rest) == 0


def test_split_runs_report_what_one_run_reports_with_every_shape_violated(rust_validator,
                                                                           sample_data):
    engine = rust_validator._engine
    data = defective_sample(sample_data)
    split = keys(rust_validator, data)
    whole = engine._validate(data.serialize(format="nt", encoding="utf-8"), engine.shapes_text)
    assert split == {r.key() for r in whole}
    assert {k[4].rsplit("#", 1)[-1].rstrip(">") for k in split} >= SPLIT_OFF


def test_the_core_shapes_read_two_thirds_of_a_figure(rust_validator, sample_data):
    """The predicates no core shape reads (labels, sources, mention links...) are left out of
    the core run; rdf:type stays (targets, sh:class)."""
    split = rust_validator._engine.split
    keep = split.core_predicates
    assert f"<{RDF.type}>".encode() in keep and f"<{SCHEMA.keywords}>".encode() in keep
    assert f"<{rdflib.RDFS.label}>".encode() not in keep
    fg = next(iter(build_graphs([SAMPLE], ExportOptions())))
    lines = fg.triple_lines()
    assert 0.3 * len(lines) < len(split.core_lines(lines)) < len(lines)


def test_subclass_of_in_the_data_widens_the_targets_of_split_shapes(pyshacl_validator,
                                                                    rust_validator, sample_data):
    """A subclass of fabio:Figure makes more focus nodes than the rdf:type triples show: the
    split is not used, and the figure typed by the subclass is still checked."""
    sub, other = URIRef("https://example.org/Sub"), URIRef(F + "PMC9__x.html")
    data = rdflib.Graph()
    data += sample_data[0][1]
    data.add((sub, rdflib.RDFS.subClassOf, URIRef("http://purl.org/spar/fabio/Figure")))
    data.add((other, RDF.type, sub))
    data.add((other, DCT.identifier, Literal("PMC9__y")))
    found = keys(rust_validator, data)
    assert found == keys(pyshacl_validator, data)
    assert any(k[1] == f"<{other}>" and k[4].endswith("FigureIriAgreesWithFigid>") for k in found)


SHAPE = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:severity sh:Warning ; %s
    sh:sparql [ sh:select "SELECT $this ?value WHERE { %s }" ] .
"""
P, Q = "<https://example.org/p>", "<https://example.org/q>"


def split_of(extra: str, where: str):
    from rdfexport import shacl_split

    return shacl_split.split(rdflib.Graph().parse(data=SHAPE % (extra, where), format="turtle"))


@pytest.mark.parametrize("extra, where", [
    ("", f"$this {P} ?value . ?value {Q} ?x"),  # another subject
    ("", f"$this {P}/{Q} ?value"),  # a path
    ("", "$this ?p ?value"),  # any predicate
    ("", f"GRAPH ?g {{ $this {P} ?value }}"),
    ("", f"$this {P} ?value FILTER NOT EXISTS {{ ?value {Q} ?x }}"),
    ("", f"$this {P} ?value FILTER (?value = $currentShape)"),
    ("sh:property [ sh:path ex:p ; sh:minCount 1 ] ;", f"$this {P} ?value"),  # not SPARQL only
    ("sh:targetSubjectsOf ex:p ;", f"$this {P} ?value"),
    ("", f"$this {P} ?value ) broken"),
])
def test_a_shape_that_may_read_more_than_its_focus_runs_on_the_whole_data(extra, where):
    split = split_of(extra, where)
    assert len(split.sparql) == 0 and split.core_predicates is None


@pytest.mark.parametrize("where", [
    f"$this {P} ?value", f"$this {P} ?value ; {Q} ?x FILTER (?x != ?value)",
    f"$this {P} ?value FILTER NOT EXISTS {{ $this {Q} ?value }}",
    f"$this {P} ?value OPTIONAL {{ $this {Q} ?x }}",
])
def test_a_shape_reading_only_its_focus_is_split_off(where):
    split = split_of("", where)
    assert len(split.sparql) > 0 and len(split.core) == 0
    assert set(split.predicates) <= {P.encode(), Q.encode()}
    assert P.encode() in split.predicates


def test_a_shape_another_shape_refers_to_is_not_split_off():
    from rdfexport import shacl_split

    text = SHAPE % ("", f"$this {P} ?value") + \
        "ex:T a sh:NodeShape ; sh:targetClass ex:D ; sh:node ex:S ."
    assert len(shacl_split.split(rdflib.Graph().parse(data=text, format="turtle")).sparql) == 0


CORE = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:t ; %s .
"""


@pytest.mark.parametrize("body, reads", [
    ("sh:property [ sh:path ex:p ; sh:minCount 1 ]", {"p", "t"}),
    ("sh:property [ sh:path ( ex:p [ sh:inversePath ex:q ] ) ; sh:class ex:C ]", {"p", "q", "t"}),
    ("sh:property [ sh:path [ sh:alternativePath ( ex:p ex:q ) ] ; sh:equals ex:r ]",
     {"p", "q", "r", "t"}),
    ("sh:closed true ; sh:property [ sh:path ex:p ]", None),
    ("sh:property [ sh:path ex:p ] ; sh:rule [ a sh:TripleRule ]", None),
    ("sh:sparql [ sh:select \"SELECT $this WHERE { ?x ?y $this }\" ]", None),
])
def test_what_the_core_shapes_read(body, reads):
    from rdfexport import shacl_split

    split = shacl_split.split(rdflib.Graph().parse(data=CORE % body, format="turtle"))
    if reads is None:
        assert split.core_predicates is None
    else:
        expected = {f"<https://example.org/{r}>" for r in reads} | {f"<{RDF.type}>",
                                                                    f"<{rdflib.RDFS.subClassOf}>"}
        assert split.core_predicates == {e.encode() for e in expected}


# -- SPARQL shapes run once for all focus nodes (shacl_split.Select) -------------------------------

AT_ONCE = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
ex:S a sh:NodeShape ; sh:targetClass ex:C, ex:D ; sh:severity sh:Warning ; %s
    sh:sparql [ sh:message "m" ; sh:select "%s" ] .
ex:T a sh:NodeShape ; sh:targetClass ex:E ;
    sh:sparql [ sh:select "SELECT $this ?value WHERE { $this <https://example.org/r> ?value }" ] .
"""
AT_ONCE_DATA = """
@prefix ex: <https://example.org/> .
ex:a a ex:C ; ex:p 1, 2 ; ex:q 2 .
ex:b a ex:D ; ex:p 3 .
ex:c a ex:E ; ex:p 4 .
ex:d ex:p 5 .
ex:e a ex:C .
"""


def at_once_validators(tmp_path, extra: str, query: str) -> tuple[Validator, Validator]:
    (tmp_path / "s.ttl").write_text(AT_ONCE % (extra, query))
    require_module("shacl_rust", "the fast SHACL engine under test")
    return Validator(tmp_path, engine="pyshacl"), Validator(tmp_path, engine="shacl-rust")


@pytest.mark.parametrize("extra, query", [
    ("", f"SELECT $this ?value WHERE {{ $this {P} ?value }}"),
    ("", f"SELECT $this WHERE {{ $this {P} ?x }}"),  # sh:value: the focus node
    ("", f"SELECT DISTINCT $this ?value WHERE {{ $this {P} ?value FILTER (?value > 1) }}"),
    ("", f"SELECT $this ?value WHERE {{ $this {P} ?value FILTER EXISTS {{ $this {Q} ?value }} }}"),
    ("", f"SELECT $this ?value WHERE {{ $this {P} ?x BIND (?x + 1 AS ?value) }} ORDER BY ?x"),
    ("sh:message \"shape\" ;", f"SELECT $this ?value WHERE {{ $this {P} ?value ; {Q} ?y }}"),
    ("sh:deactivated true ;", f"SELECT $this ?value WHERE {{ $this {P} ?value }}"),
])
def test_a_query_run_once_reports_what_pyshacl_reports_focus_node_by_focus_node(
        tmp_path, extra, query):
    pyshacl, rust = at_once_validators(tmp_path, extra, query)
    assert len(rust._engine.split.rest) == 0
    assert len(rust._engine.split.selects) == (1 if "deactivated" in extra else 2)
    data = rdflib.Graph().parse(data=AT_ONCE_DATA, format="turtle")
    found = keys(rust, data)
    assert found == keys(pyshacl, data)
    # untyped ex:d and ex:c (another shape's class: its triples are in the run) are no focus
    assert not {k for k in found if k[1].endswith(("/c>", "/d>"))}
    assert bool(found) != ("deactivated" in extra)


@pytest.mark.parametrize("extra, query", [
    ("", f"SELECT $this ?value WHERE {{ $this {P} ?value }} ORDER BY ?value LIMIT 1"),
    ("", f"SELECT $this (COUNT(?v) AS ?value) WHERE {{ $this {P} ?v }} GROUP BY $this"),
    ("", f"SELECT $this ?value WHERE {{ OPTIONAL {{ $this {P} ?value }} }}"),
    ("", f"SELECT $this ?value WHERE {{ {{ $this {P} ?value }} UNION {{ $this {Q} ?value }} }}"),
    ("", f"SELECT $this ?value WHERE {{ VALUES ?value {{ 1 }} $this {P} ?value }}"),
    ("", f"SELECT ?value WHERE {{ $this {P} ?value }}"),  # $this not projected
    ("", f"SELECT $this ?value ?path WHERE {{ $this {P} ?value BIND ({P} AS ?path) }}"),
    ("sh:message \"{{?value}} is wrong\" ;", f"SELECT $this ?value WHERE {{ $this {P} ?value }}"),
])
def test_a_query_that_needs_this_bound_first_stays_with_the_engine(tmp_path, extra, query):
    """Compared with shacl-rust on everything at once, not with pySHACL: on some of these
    (LIMIT without ORDER BY, an unbound ?value) the two engines differ, split or not."""
    _, rust = at_once_validators(tmp_path, extra, query)
    engine = rust._engine
    # in split.rest, or (VALUES) not even separable
    assert [s.shape for s in engine.split.selects] in ([], [URIRef("https://example.org/T")])
    data = rdflib.Graph().parse(data=AT_ONCE_DATA, format="turtle")
    whole = engine._validate(data.serialize(format="nt", encoding="utf-8"), engine.shapes_text)
    assert keys(rust, data) == {r.key() for r in whole}


# -- values many focus nodes share are read once (shacl_split.Fold) ------------------------------

def test_the_bundled_shapes_fold_keywords_and_mention_counts_not_what_they_count(rust_validator):
    fold = rust_validator._engine.split.fold
    folded = {p.decode().strip("<>") for p in fold.values}
    assert {str(SCHEMA.keywords), str(PFOCR.countDirect), str(PFOCR.countSynonym),
            str(PFOCR.countMatch)} <= folded
    # cardinalities (minCount, maxCount) count a focus node's own values; rdf:type makes foci
    assert not folded & {str(DCT.isPartOf), str(PFOCR.ocrWord), str(DCT.identifier),
                         str(DC.title), str(RDF.type)}
    assert fold.classes[f"<{SCHEMA.keywords}>".encode()] == {
        b"<http://purl.org/spar/fabio/Figure>"}
    # read on mentions only: a gene's dcterms:isPartOf is left out; identifiers on three classes
    assert fold.classes[f"<{DCT.isPartOf}>".encode()] == {
        f"<{PFOCR[k]}>".encode() for k in ("GeneMention", "ChemicalMention", "DiseaseMention")}
    assert len(fold.classes[f"<{DCT.identifier}>".encode()]) == 3
    assert f"<{RDF.type}>".encode() not in fold.classes


def shared_values() -> rdflib.Graph:
    """Sample figures sharing bad keywords and mention counts, with holders that are no focus
    node (untyped, or the first to hold a value) and an unfolded predicate next to them."""
    figure = URIRef("http://purl.org/spar/fabio/Figure")
    data = rdflib.Graph()
    untyped = URIRef(F + "PMC1__untyped.html")
    data.add((untyped, SCHEMA.keywords, Literal("NA")))  # sorts first: holds "NA" first
    data.add((untyped, DCT.identifier, Literal("PMC1__untyped")))
    for i in range(5):
        fig = URIRef(F + f"PMC{i + 2}__f.html")
        data.add((fig, RDF.type, figure))
        data.add((fig, DCT.identifier, Literal(f"PMC{i + 2}__f")))
        for word in ("NA", " spaced ", "x", "fine", f"own{i}", "  ") if i % 2 else ("NA", "fine"):
            data.add((fig, SCHEMA.keywords, Literal(word)))
        gene = URIRef(f"https://identifiers.org/ncbigene/{i + 1}")  # no mention: unchecked
        data.add((gene, DCT.isPartOf, fig))
        data.add((gene, PFOCR.countDirect, Literal(-1)))
        mention = URIRef(F + f"PMC{i + 2}__f.html#gene-1-0000000{i}")
        data.add((mention, RDF.type, PFOCR.GeneMention))
        if i != 3:  # MentionFigure's minCount: mention 3 has no figure
            data.add((mention, DCT.isPartOf, fig))
        if i == 4:  # and mention 4 two (maxCount)
            data.add((mention, DCT.isPartOf, URIRef(F + "PMC2__f.html")))
        data.add((mention, PFOCR.ocrWord, Literal("W")))
        data.add((mention, PFOCR.countDirect, Literal(-1)))
        data.add((mention, PFOCR.countMatch, Literal(-1 if i else 2)))
        data.add((mention, PFOCR.countSynonym, Literal("two")))  # "2": see the next test
    return data


def test_folded_values_give_every_focus_node_its_results(pyshacl_validator, rust_validator,
                                                         sample_data):
    engine = rust_validator._engine
    for data in (shared_values(), defective_sample(sample_data) + shared_values()):
        unique = sorted(line.removesuffix(b" .") for line in data.serialize(
            format="nt", encoding="utf-8").split(b"\n") if line)
        lines, members, _ = engine.split.fold_lines(unique)
        assert len(lines) < len(engine.split.core_lines(unique))  # something was folded
        assert not [line for line in lines if b"ncbigene/" in line and b"isPartOf" in line]
        whole = engine._validate(data.serialize(format="nt", encoding="utf-8"), engine.shapes_text)
        found = keys(rust_validator, data)
        assert found == {r.key() for r in whole} == keys(pyshacl_validator, data)
        na = {k[1] for k in found if k[3] == '"NA"'}
        assert na >= {f"<{F}PMC{i + 2}__f.html>" for i in range(5)}
        assert f"<{F}PMC1__untyped.html>" not in na  # no focus node: no result
        counts = {k[1] for k in found if k[4].endswith("MentionCounts>")}
        assert len(counts - {f"<{F}PMC100003__mb2410470011.html#gene-2776-00000000>"}) == 5
        assert not {k for k in found if "ncbigene/" in k[1] and "isPartOf" in k[2]}
        assert {k[5] for k in found if k[1].endswith(("0000003>", "0000004>"))
                and k[4].endswith("MentionFigure>")} == {
            f"<{SH.MinCountConstraintComponent}>", f"<{SH.MaxCountConstraintComponent}>"}


def test_shacl_rust_compares_a_numeric_string_with_a_number_where_pyshacl_reports_it(
        pyshacl_validator, rust_validator):
    """The one difference between the engines known (docs/VALIDATION.md): "2" (xsd:string)
    against sh:minInclusive 0. Both report its sh:datatype violation, so the figure fails
    with either; our writer makes counts xsd:integer. If this test fails, shacl-rust changed:
    update the docs."""
    mention = URIRef(F + "PMC2__f.html#gene-1-00000000")
    data = rdflib.Graph()
    data.add((mention, RDF.type, PFOCR.GeneMention))
    data.add((mention, PFOCR.countDirect, Literal("2")))

    def components(validator):
        return {k[5] for k in keys(validator, data) if k[4].endswith("MentionCounts>")}

    datatype, minimum = f"<{SH.DatatypeConstraintComponent}>", f"<{SH.MinInclusiveConstraintComponent}>"
    assert components(pyshacl_validator) == {datatype, minimum}
    assert components(rust_validator) == {datatype}


def test_a_result_the_fold_did_not_make_is_never_dropped(rust_validator):
    """_spread declines (the caller validates unfolded) when a folded shape's result names a
    focus node that holds no such value."""
    from rdfexport.validate import RawResult, _spread

    shape = URIRef("https://pfocr.wikipathways.org/shapes#FigureKeywordNA")
    fold = rust_validator._engine.split.fold
    p = f"<{SCHEMA.keywords}>".encode()
    a, b = F + "PMC2__a.html", F + "PMC3__b.html"
    members = {p: {b'"NA"': [f"<{a}>".encode(), f"<{b}>".encode()]}}
    result = RawResult(Severity.VIOLATION, URIRef(a), SCHEMA.keywords, Literal("NA"), shape,
                       SH.NotConstraintComponent, None)
    spread = _spread([result], members, fold.shapes)
    assert [str(r.focus) for r in spread] == [a, b]
    assert _spread([result], {p: {b'"NA"': [f"<{b}>".encode()]}}, fold.shapes) is None
    assert _spread([result], {}, fold.shapes) is None


FOLD = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property ex:PS .
ex:PS a sh:PropertyShape ; sh:path ex:p ; sh:pattern "^a" .
%s
"""


@pytest.mark.parametrize("extra, folded", [
    ("", True),
    ("ex:PS sh:not [ sh:datatype ex:D ] ; sh:or ( [ sh:minLength 2 ] [ sh:in ( 1 ) ] ) .", True),
    ("ex:PS sh:minCount 1 .", False),  # counts the focus node's values
    ("ex:PS sh:hasValue \"a\" .", False),
    ("ex:PS sh:uniqueLang true .", False),
    ("ex:PS sh:lessThan ex:q .", False),
    ("ex:PS sh:class ex:K .", False),
    ("ex:PS sh:not [ sh:property [ sh:path ex:q ; sh:minCount 1 ] ] .", False),
    ("ex:PS sh:not ex:Named . ex:Named sh:pattern \"b\" .", False),
    ("ex:T a sh:NodeShape ; sh:targetSubjectsOf ex:p .", False),  # p makes focus nodes
    ("ex:T a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:maxCount 1 ] .",
     False),
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; sh:property ex:PS .", True),  # either's
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; sh:property ex:PT . "
     "ex:PT sh:path ex:p ; sh:pattern \"b\" .", False),  # another shape's focus nodes
    ("ex:S sh:targetNode ex:n .", False),
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; sh:node ex:S .", False),  # values as foci
    ("ex:T a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ( ex:q ex:p ) ] .",
     False),
    # ex:PT reads p with q, whose values are counted (ex:PU): PT cannot fold, so p cannot
    ("ex:T a sh:NodeShape ; sh:targetClass ex:C ; sh:property ex:PT, ex:PU . "
     "ex:PT sh:path [ sh:alternativePath ( ex:p ex:q ) ] ; sh:pattern \"b\" . "
     "ex:PU sh:path ex:q ; sh:minCount 1 .", False),
    ("ex:T a sh:NodeShape ; sh:targetClass ex:C ; sh:property ex:PT . "
     "ex:PT sh:path [ sh:alternativePath ( ex:p ex:q ) ] ; sh:pattern \"b\" .", True),
])
def test_which_values_are_folded(extra, folded):
    from rdfexport import shacl_split

    split = shacl_split.split(rdflib.Graph().parse(data=FOLD % extra, format="turtle"))
    p = b"<https://example.org/p>"
    assert (split.fold is not None and p in split.fold.values) == folded


@pytest.mark.parametrize("extra, classes", [
    ("", {"C"}),
    ("ex:PS sh:minCount 1 ; sh:class ex:K .", {"C"}),  # read on ex:C's instances all the same
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D, ex:E ; "
     "sh:property [ sh:path ex:p ; sh:maxCount 1 ] .", None),  # a blank property shape
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D, ex:E ; sh:property ex:PT . "
     "ex:PT sh:path ex:p ; sh:maxCount 1 .", {"C", "D", "E"}),
    ("ex:T a sh:NodeShape ; sh:targetSubjectsOf ex:p .", None),
    ("ex:S sh:targetNode ex:n .", None),
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; sh:node ex:S .", None),
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; sh:property [ sh:path ex:q ; sh:node ex:S ] .",
     None),  # ex:S reads p on values of q, whatever their class
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; "
     "sh:property [ sh:path ( ex:q ex:p ) ; sh:minCount 1 ] .", None),
    ("ex:T a sh:NodeShape ; sh:targetClass ex:D ; "
     "sh:property [ sh:path ex:q ; sh:equals ex:p ] .", None),
])
def test_whose_lines_of_a_predicate_the_core_reads(extra, classes):
    from rdfexport import shacl_split

    split = shacl_split.split(rdflib.Graph().parse(data=FOLD % extra, format="turtle"))
    found = split.fold.classes.get(b"<https://example.org/p>") if split.fold else None
    assert found == (None if classes is None else
                     {f"<https://example.org/{c}>".encode() for c in classes})


def test_the_lines_the_sparql_shapes_see_come_with_the_fold_alike(rust_validator, sample_data):
    """fold_lines picks the separable shapes' lines in its one pass over a batch's lines: the
    same lines as Split.visible finds figure by figure."""
    from itertools import chain

    from rdfexport.validate import _pieces, source_facts

    split = rust_validator._engine.split
    fgs = [fg for fg in build_graphs([SAMPLE], ExportOptions()) if not isinstance(fg, Exception)]
    figures = [_pieces(fg, source_facts(fg)[0]) for fg in fgs]
    unique = list(dict.fromkeys(chain.from_iterable(
        [lines for pieces in figures for _, lines, _ in pieces])))
    by_figure = [line for pieces in figures for line in split.visible(pieces)]
    _, _, visible = split.fold_lines(unique)
    assert sorted(visible) == sorted(by_figure)
    assert sum(b"fabio/Figure" in line for line in visible) == len(fgs)


def test_a_batch_read_by_predicate_gives_the_results_of_its_lines(rust_validator):
    """The direct engine hands validation each figure's lines by predicate (graph.FigureGraph.
    predicate_groups); the results are those of the same figures read line by line."""
    from rdfexport.validate import _pieces, source_facts

    engine = rust_validator._engine
    fgs = [fg for fg in build_graphs([SAMPLE], ExportOptions()) if not isinstance(fg, Exception)]
    assert all(fg.predicate_groups() is not None for fg in fgs)
    figures = [_pieces(fg, source_facts(fg)[0]) for fg in fgs]
    by_predicate = engine.run_pieces(figures, [fg.predicate_groups() for fg in fgs])
    by_line = engine.run_pieces(figures)
    assert sorted(r.key() for r in by_predicate) == sorted(r.key() for r in by_line)
    assert len(by_line) > 100
