"""SHACL validation: defects planted into copies of real sample figures are found, named by
figure, rule and line; the unmodified sample gives only real findings; one figure at a time
gives the same results as the whole sample at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import rdflib
from conftest import FIGURES, SAMPLE
from rdflib import Literal, URIRef
from test_validate_engines import require_module

from rdfexport.pipeline import ExportOptions, build_graphs
from rdfexport.validate import (
    Finding,
    Severity,
    Validator,
    reaches,
    summary_line,
    validate_paths,
)

SHAPES = "https://pfocr.wikipathways.org/shapes#"
OLD = "PMC100003__mb2410470011.md"  # old generation: genes in the front matter
NEW = "PMC10031279__gr8.md"  # new generation: _data tables, article metadata, automl_pathway


@pytest.fixture(scope="module")
def validator() -> Validator:
    """pySHACL, the engine of record (shacl-rust, the default, is compared with it here and in
    test_validate_engines.py)."""
    return Validator(engine="pyshacl")


@pytest.fixture(scope="module")
def sample_graphs():
    return [g for g in build_graphs([SAMPLE], ExportOptions()) if not isinstance(g, Exception)]


@pytest.fixture(scope="module")
def sample_findings(validator, sample_graphs) -> list[Finding]:
    return [f for fg in sample_graphs for f in validator.validate(fg)]


def plant(tmp_path: Path, name: str, old: str, new: str) -> tuple[Path, int]:
    """A copy of a real sample figure (with its site's tables and organism pages) with ``old``
    replaced by ``new``; returns the copy and the 1-based line where ``new`` starts."""
    site = tmp_path / "site"
    (site / "_figures").mkdir(parents=True)
    (site / "_data").mkdir()
    shutil.copytree(SAMPLE / "_organisms", site / "_organisms")
    figid = name[:-3]
    for table in (SAMPLE / "_data").glob(f"{figid}-*.tsv"):
        shutil.copy(table, site / "_data" / table.name)
    text = (FIGURES / name).read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {name}"
    text = text.replace(old, new)
    target = site / "_figures" / name
    target.write_text(text, encoding="utf-8")
    last = new.rstrip("\n").split("\n")[-1]  # the finding names the last line planted
    line = text[: text.index(new) + new.rstrip("\n").rindex(last)].count("\n") + 1
    return target, line


# (test id, figure, old text, new text, rule, severity) — each is one defect the issue names.
PLANTED = [
    ("figid-pattern", OLD, "figid: PMC100003__mb2410470011", "figid: PMC100003_mb2410470011",
     "FigureIdentifier", Severity.VIOLATION),
    ("block-id-disagrees", OLD,
     "'@id': https://pfocr.wikipathways.org/figures/PMC100003__mb2410470011.html",
     "'@id': https://pfocr.wikipathways.org/figures/PMC100003__other.html",
     "BlockShape", Severity.VIOLATION),
    ("title-missing", OLD,
     "figtitle: Summary of the signaling pathway that connects neuropeptides to the AR",
     "figtitle: .na.character", "FigureTitle", Severity.VIOLATION),
    ("title-placeholder", OLD,
     "figtitle: Summary of the signaling pathway that connects neuropeptides to the AR",
     "figtitle: CreativeWork", "FigureTitlePlaceholder", Severity.VIOLATION),
    ("title-cut-mid-word", OLD,
     "figtitle: Summary of the signaling pathway that connects neuropeptides to the AR",
     "figtitle: Summary of the signaling path", "FigureTitleCut", Severity.WARNING),
    ("caption-missing", OLD,
     "caption: Summary of the signaling pathway that connects neuropeptides to the AR.",
     "caption: NA", "FigureCaption", Severity.VIOLATION),
    ("caption-only-punctuation", OLD,
     "caption: Summary of the signaling pathway that connects neuropeptides to the AR.",
     "caption: '... ; --'", "FigureCaptionText", Severity.WARNING),
    ("caption-placeholder", OLD,
     "caption: Summary of the signaling pathway that connects neuropeptides to the AR.",
     "caption: Figure 3", "FigureCaptionPlaceholder", Severity.WARNING),
    ("pmcid-pattern", OLD, "pmcid: PMC100003", "pmcid: PMX100003", "FigureArticle",
     Severity.VIOLATION),
    ("year-out-of-range", NEW, "year: '2023'", "year: '1777'", "ArticleYear",
     Severity.VIOLATION),
    ("score-above-one", OLD, "pathway_score: 0.9537671", "pathway_score: 1.9537671",
     "FigureScore", Severity.VIOLATION),
    ("score-not-a-number", NEW, "automl_pathway: 0.9313483", "automl_pathway: high",
     "FigureScore", Severity.VIOLATION),
    ("licence-not-cc0", OLD, "  license: CC0", "  license: https://opensource.org/licenses/MIT",
     "FigureLicense", Severity.VIOLATION),
    ("wpid-pattern", OLD, "ndex: ''", "ndex: ''\nwpid: WP-five", "WikiPathwaysShape",
     Severity.VIOLATION),
    ("ndex-not-uuid", OLD, "ndex: ''", "ndex: network-42", "NdexShape", Severity.VIOLATION),
    ("keyword-spaces", OLD, "  - BMX\n", "  - BMX  kinase\n", "FigureKeywordSpaces",
     Severity.WARNING),
    ("keyword-trailing-space", OLD, "  - BMX\n", "  - 'BMX '\n", "FigureKeywordSpaces",
     Severity.WARNING),
    ("keyword-one-character", OLD, "  - BMX\n", "  - H BMX\n", "FigureKeywordOneCharacter",
     Severity.WARNING),
    ("keyword-duplicated", OLD, "  - SRC\n", "  - SRC\n  - BMX\n", "FigureKeywordDuplicate",
     Severity.WARNING),
    ("figlink-other-article", OLD, "figlink: /pmc/articles/PMC100003/figure/F11/",
     "figlink: /pmc/articles/PMC149053/figure/fig7/", "FigureFiglinkArticle", Severity.WARNING),
    ("reftext-without-year", OLD,
     "reftext: Li-Fen Lee, et al. Mol Cell Biol. 2001 Dec;21(24):8385-8397.",
     "reftext: Li-Fen Lee, et al. Mol Cell Biol. ;21(24):8385-8397.", "ArticleReftextYear",
     Severity.WARNING),
    ("gene-id-not-digits", OLD, "  entrez: '660'", "  entrez: ENSG00000102010", "FigureRepair",
     Severity.INFO),
]


# Findings a planted defect rightly causes elsewhere: a new figid no longer matches the
# block's @id (which names the old figure).
KNOCK_ON = {"FigureIdentifier": {"BlockShape"}}


@pytest.mark.parametrize("name,old,new,rule,severity",
                         [p[1:] for p in PLANTED], ids=[p[0] for p in PLANTED])
def test_planted_defect_is_found_with_figure_rule_and_line(tmp_path, validator, name, old,
                                                           new, rule, severity):
    path, line = plant(tmp_path, name, old, new)
    run = validate_paths([path.parent.parent], validator=validator)
    assert not run.errors, [e.message for e in run.errors]
    if rule == "FigureRepair":  # the exporter reports dropped gene rows at the genes: key
        line = 1 + path.read_text().split("\n").index("genes:")
    hits = [f for f in run.findings if f.rule == rule]
    assert hits, f"{rule} not reported; got {[(f.rule, f.value) for f in run.findings]}"
    f = next((h for h in hits if h.line == line), hits[0])
    assert f.severity is severity
    assert f.file == str(path)
    assert f.line == line, f"{rule} points at line {f.line}, the planted defect is on {line}"
    expected_figid = "PMC100003_mb2410470011" if rule == "FigureIdentifier" else name[:-3]
    assert f.figid == expected_figid
    # Nothing else beyond what the unmodified figure already gives (plus knock-on effects of
    # the same defect, which name the same line).
    clean = validate_paths([FIGURES / name], validator=validator).findings
    before = {(g.rule, g.value) for g in clean}
    extra = [g for g in run.findings if (g.rule, g.value) not in before]
    also = KNOCK_ON.get(rule, set())
    assert all(g.line == line or g.severity is Severity.INFO or g.rule in also
               for g in extra), [(g.rule, g.line, g.value) for g in extra]


def _graph_plant(validator, sample_graphs, figid, triples, removed=()):
    """A real figure's graph with triples added/removed: for defects the exporter never
    produces from front matter (it drops or repairs them) but the shapes must still catch in
    RDF from elsewhere. Returns the findings by rule, and the figure's key lines."""
    from rdfexport.validate import source_facts

    fg = next(g for g in sample_graphs if g.figure.figid == figid)
    data = validator.data_graph(fg)
    for t in removed:
        data.remove(t)
    for t in triples:
        data.add(t)
    _, by_text = source_facts(fg)
    found = {}
    for r in validator.raw(data):
        f = validator._finding(r, fg, by_text)
        assert f.figid == figid and f.file == fg.figure.path
        found[f.rule] = f
    return found, fg.figure.lines


NCBIGENE = "https://identifiers.org/ncbigene/"
OBO = "http://purl.obolibrary.org/obo/"
SCHEMA = rdflib.Namespace("http://schema.org/")
WP = rdflib.Namespace("http://vocabularies.wikipathways.org/wp#")
DC = rdflib.Namespace("http://purl.org/dc/elements/1.1/")


def test_hgnc_symbol_on_a_mouse_gene_is_a_violation(validator, sample_graphs):
    gene = URIRef(NCBIGENE + "2776")
    found, lines = _graph_plant(validator, sample_graphs, "PMC100003__mb2410470011",
                                [(gene, SCHEMA.taxonomicRange, URIRef(OBO + "NCBITaxon_10090"))],
                                [(gene, SCHEMA.taxonomicRange, URIRef(OBO + "NCBITaxon_9606"))])
    f = found["HgncHumanTaxon"]
    assert f.severity is Severity.VIOLATION and f.focus == str(gene)
    assert f.line == lines["genes"]


def test_gene_iri_without_digit_id_is_a_violation(validator, sample_graphs):
    gene = URIRef(NCBIGENE + "BMX")
    found, lines = _graph_plant(validator, sample_graphs, "PMC100003__mb2410470011",
                                [(gene, rdflib.RDF.type, WP.GeneProduct)])
    assert found["GeneShape"].focus == str(gene)
    assert found["GeneShape"].line == lines["genes"]


def test_organism_outside_ncbitaxon_is_a_violation(validator, sample_graphs):
    fig = URIRef("https://pfocr.wikipathways.org/figures/PMC100003__mb2410470011.html")
    found, lines = _graph_plant(
        validator, sample_graphs, "PMC100003__mb2410470011",
        [(fig, WP.organism, URIRef("https://www.ncbi.nlm.nih.gov/taxonomy/9606"))])
    assert found["FigureOrganism"].severity is Severity.VIOLATION
    assert found["FigureOrganism"].line == lines["organisms"]


def test_bad_doi_and_untagged_title_are_violations(validator, sample_graphs):
    article = URIRef("https://identifiers.org/pmc/PMC10031279")
    fig = URIRef("https://pfocr.wikipathways.org/figures/PMC10031279__gr8.html")
    found, lines = _graph_plant(validator, sample_graphs, "PMC10031279__gr8", [
        (article, rdflib.OWL.sameAs, URIRef("https://doi.org/doi:10.1016")),
        (fig, DC.title, Literal("A second, untagged title"))])
    assert found["ArticleDoi"].value == "https://doi.org/doi:10.1016"
    assert found["ArticleDoi"].line == lines["doi"]
    assert found["FigureTitle"].severity is Severity.VIOLATION
    assert found["FigureTitle"].line == lines["figtitle"]


def test_figure_typed_wp_pathway_is_a_violation(validator, sample_graphs):
    fig = URIRef("https://pfocr.wikipathways.org/figures/PMC10031279__gr8.html")
    found, lines = _graph_plant(validator, sample_graphs, "PMC10031279__gr8",
                                [(fig, rdflib.RDF.type, WP.Pathway)])
    assert found["FigureNotPathway"].line == lines["figid"]


# -- the unmodified sample ---------------------------------------------------------------------

# Every finding on the real sample, checked by hand: each is a real defect of the published data.
REAL_SAMPLE_FINDINGS = {
    # OCR garbage: a stray one-character word before a chemical name.
    ("PMC10025411__fncel-17-1105247-g0001", "FigureKeywordOneCharacter", "H Adaptaquin"),
    # Caption extraction failed: the caption is the word "Figure".
    ("PMC10036500__ga1", "FigureCaptionPlaceholder", "Figure"),
    # Three figures of other articles carry the figlink of PMC149053's figure 7.
    ("PMC4833098__kfu104fig3a", "FigureFiglinkArticle",
     "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC149053/figure/fig7/"),
    ("PMC5546324__nihms866088f5a", "FigureFiglinkArticle",
     "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC149053/figure/fig7/"),
    ("PMC6202076__IJMM-42-06-3135-g00", "FigureFiglinkArticle",
     "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC149053/figure/fig7/"),
    # The same gene symbol twice in one keyword list.
    ("PMC6662580__nihms-1039927-f0001", "FigureKeywordDuplicate", "MPP5"),
    ("PMC6791490__ehp-127-095001-g0003", "FigureKeywordDuplicate", "TRH"),
    # Author manuscripts whose PMC record has no year (" ;10(2):11-22"); year is empty too.
    ("PMC10035447__nihms-1878426-f0004", "ArticleReftextYear",
     "Michael A. Kochen, et al. Curr Pathobiol Rep. ;10(2):11-22."),
    ("PMC2221774__nihms34078f1", "ArticleReftextYear",
     "Bob Goldstein, et al. Dev Cell. ;10(3):391-396."),
    ("PMC2707780__nihms112197f1", "ArticleReftextYear",
     "Anthony J. Muslin. Clin Sci (Lond). ;115(7):203-218."),
    ("PMC2782644__nihms-106890-f0005", "ArticleReftextYear",
     "Loyal A. Goff, et al. Exp Hematol. ;36(10):1354-1369."),
    ("PMC3075429__nihms254185f1", "ArticleReftextYear",
     "Victor E. Laubach, et al. Expert Opin Ther Targets. ;15(1):103-118."),
    ("PMC3482945__nihms353877f3", "ArticleReftextYear",
     "John A. Dawson, et al. Biometrics. ;68(2):455-465."),
    ("PMC4141883__nihms613168f1", "ArticleReftextYear",
     "Marlon S. Mathews, et al. Lasers Surg Med. ;44(9):746-754."),
    ("PMC4875880__nihms742798f3", "ArticleReftextYear",
     "Debra A. Bangasser, et al. Brain Res. ;1641(Pt B):177-188."),
    ("PMC5546324__nihms866088f5a", "ArticleReftextYear",
     "Brendan D. Manning, et al. Cell. ;169(3):381-405."),
    ("PMC9396756__fresc-02-782848-g0001", "ArticleReftextYear",
     "Jenna M. Leser, et al. Front Rehabil Sci. ;2:782848."),
}


def test_unmodified_sample_gives_only_the_real_defects(sample_findings):
    found = {(f.figid, f.rule, f.value) for f in sample_findings if f.severity > Severity.INFO}
    assert found == REAL_SAMPLE_FINDINGS
    assert not [f for f in sample_findings if f.severity is Severity.VIOLATION]


def test_sample_repairs_are_info_findings_on_their_own_lines(sample_findings, sample_graphs):
    infos = [f for f in sample_findings if f.severity is Severity.INFO]
    assert {f.rule for f in infos} == {"FigureRepair"}
    repairs = [(r.figid, r.line) for fg in sample_graphs for r in fg.figure.repairs]
    assert sorted((f.figid, f.line) for f in infos) == sorted(repairs)


def test_sample_findings_point_at_the_key_line(sample_findings):
    for f in sample_findings:
        if f.severity is Severity.INFO:
            continue
        line = Path(f.file).read_text(encoding="utf-8").split("\n")[f.line - 1]
        key = {"FigureKeywordOneCharacter": "  - ", "FigureKeywordDuplicate": "  - ",
               "FigureCaptionPlaceholder": "caption:", "FigureFiglinkArticle": "figlink:",
               "ArticleReftextYear": "reftext:"}[f.rule]
        assert line.startswith(key), (f.rule, f.file, f.line, line)
        if key == "  - ":
            assert f.value in line


def test_per_figure_validation_equals_validating_the_merged_sample(validator, sample_graphs):
    per_figure = set()
    merged = rdflib.Graph()
    for fg in sample_graphs:
        data = validator.data_graph(fg)
        per_figure |= {r.key() for r in validator.raw(data)}
        merged += data
    whole = {r.key() for r in validator.raw(merged)}
    assert whole == per_figure
    assert len(whole) > 100  # the repairs alone are 266


# -- the API the convert command uses ------------------------------------------------------------


def test_severity_order_and_parse():
    assert Severity.VIOLATION > Severity.WARNING > Severity.INFO
    assert Severity.parse("violation") is Severity.VIOLATION
    assert Severity.parse("Warning") is Severity.WARNING
    assert Severity.parse("http://www.w3.org/ns/shacl#Info") is Severity.INFO
    with pytest.raises(Exception, match="use one of violation, warning, info"):
        Severity.parse("fatal")


def test_reaches_and_summary_line(sample_findings):
    assert not reaches(sample_findings, Severity.VIOLATION)
    assert reaches(sample_findings, Severity.WARNING)
    assert reaches(sample_findings, Severity.INFO)
    line = summary_line(sample_findings, 130)
    assert "\n" not in line
    assert line.startswith("validation: 0 violations, 17 warnings, 266 infos")
    assert "16 of 130 figure(s)" in line


def test_a_tally_fed_figure_by_figure_reports_what_the_findings_do(sample_findings):
    from itertools import groupby

    from rdfexport.validate import Tally

    tally = Tally()
    for _, group in groupby(sample_findings, key=lambda f: f.figid):
        tally.extend(list(group))
    assert summary_line(tally, 130) == summary_line(sample_findings, 130)
    for severity in Severity:
        assert reaches(tally, severity) == reaches(sample_findings, severity)
    assert not reaches(Tally(), Severity.INFO)


def test_findings_are_frozen(sample_findings):
    with pytest.raises(AttributeError):
        sample_findings[0].line = 3  # type: ignore[misc]


@pytest.mark.parametrize("engine", ["pyshacl", "shacl-rust"])
def test_batch_validation_equals_one_figure_at_a_time(engine, validator, sample_graphs,
                                                      sample_findings):
    if engine == "shacl-rust":
        require_module("shacl_rust", "the fast SHACL engine under test")
        one = Validator(engine=engine)
    else:
        one = validator
    per_figure = [one.validate(fg) for fg in sample_graphs]
    batches = [one.validate_batch(sample_graphs[i:i + 50]) for i in range(0, 130, 50)]
    assert [f for batch in batches for f in batch] == per_figure
    assert [f for fs in per_figure for f in fs] == sample_findings


def test_pyshacl_query_cache_is_scoped_to_validation_and_thread_safe(validator, sample_graphs):
    """Regression: pySHACL re-parsed every SPARQL constraint per focus node (~200 ms a figure);
    the cache that fixes it must leave rdflib as it was and give the same results in threads."""
    import threading

    from rdflib.plugins.sparql import processor

    before = processor.SPARQLProcessor.query
    graphs = sample_graphs[:24]
    reference = [validator.validate(fg) for fg in graphs]
    out: list = [None] * len(graphs)

    def work(i: int) -> None:
        out[i] = validator.validate(graphs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(graphs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == reference
    assert processor.SPARQLProcessor.query is before


def test_validated_graph_is_the_exported_graph_plus_source_facts(validator, sample_graphs):
    from rdflib.compare import isomorphic

    from rdfexport.validate import source_facts

    for fg in sample_graphs:
        expected = fg.rdflib_graph()
        for t in source_facts(fg)[0]:
            expected.add(t)
        assert isomorphic(validator.data_graph(fg), expected), fg.figure.figid


def test_batch_gives_a_shared_gene_finding_only_to_the_figure_whose_triples_cause_it(
        validator, sample_graphs):
    """Gene 2776 is in two figures' graphs; a bad organism planted into one of them must be
    reported for that figure only, as when each figure is validated alone."""
    import pyoxigraph as ox

    from rdfexport.graph import finish

    gene = ox.NamedNode("https://identifiers.org/ncbigene/2776")
    a = next(g for g in sample_graphs if g.figure.figid == "PMC100003__mb2410470011")
    b = next(g for g in sample_graphs if g.figure.figid == "PMC1052008__JCI0524178.f1")
    assert any(q.subject == gene for q in b.quads)
    bad = ox.Quad(gene, ox.NamedNode("http://schema.org/taxonomicRange"),
                  ox.NamedNode("https://example.org/taxon/human"), ox.NamedNode(a.iri))
    a_bad = finish(a.figure, [*a.nquads().splitlines(keepends=True),
                              ox.serialize([bad], format=ox.RdfFormat.N_QUADS)])
    for engine in ("pyshacl", "shacl-rust"):
        v = validator if engine == "pyshacl" else Validator(engine=engine)
        alone = [v.validate(a_bad), v.validate(b)]
        assert v.validate_batch([a_bad, b]) == alone
        assert {f.rule for f in alone[0] if f.severity is Severity.VIOLATION} == {
            "GeneTaxon", "HgncHumanTaxon"}
        assert not [f for f in alone[1] if f.severity is Severity.VIOLATION]
