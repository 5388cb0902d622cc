"""pyld is the JSON-LD processor of record: the fast engines must give the very same bytes.

``oxigraph`` (pyoxigraph's JSON-LD parser on batches) and ``direct`` (front matter written from
a table of the project context, blocks through pyoxigraph) are compared with ``pyld`` on every
figure of the sample; tests/test_properties.py does the same for ``direct`` on generated figures.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys

import pyoxigraph as ox
import pytest
from conftest import OLDER, SAMPLE, SEEDS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rdflib.compare import isomorphic

from rdfexport import compact_nquads, graph, jsonld
from rdfexport.compact_nquads import Unsupported, interpret, project_table, triples
from rdfexport.pipeline import ExportOptions, build_graphs

SAMPLES = ([SAMPLE, SEEDS], [OLDER / "276e5bbd"], [OLDER / "68c5be5b"])
_CACHE: dict[tuple[str, str], dict[str, graph.FigureGraph]] = {}


def _graphs(paths, engine):
    key = (repr(paths), engine)
    if key not in _CACHE:
        items = list(build_graphs(paths, ExportOptions(engine=engine)))
        assert not [i for i in items if isinstance(i, Exception)]
        _CACHE[key] = {g.figure.figid: g for g in items}
    return _CACHE[key]


def test_engines_are_listed_with_direct_first():
    assert graph.ENGINES[0] == graph.DEFAULT_ENGINE == "direct"
    assert set(graph.ENGINES) == {"direct", "oxigraph", "pyld"}


@pytest.mark.parametrize("engine", ["oxigraph", "direct"])
@pytest.mark.parametrize("paths", SAMPLES, ids=["sample+seeds", "older-276e5bbd", "older-68c5be5b"])
def test_fast_engines_give_pyld_bytes_on_the_whole_sample(engine, paths):
    fast, reference = _graphs(paths, engine), _graphs(paths, "pyld")
    assert fast.keys() == reference.keys() and fast
    for figid, g in reference.items():
        assert fast[figid].data == g.data, figid
        assert fast[figid].digest == g.digest


def test_direct_engine_needs_no_fallback_on_the_sample():
    """The direct writer covers every figure of the sample by itself (no figure went to pyld)."""
    graph.DIRECT_FALLBACKS.clear()
    for paths in SAMPLES:
        items = list(build_graphs(paths, ExportOptions(engine="direct")))
        assert items and not [i for i in items if isinstance(i, Exception)]
    assert sum(graph.DIRECT_FALLBACKS.values()) == 0, dict(graph.DIRECT_FALLBACKS)


def test_isomorphic_by_rdflib_too():
    """Byte equality of canonical N-Quads implies isomorphism; check one the slow way anyway."""
    reference = _graphs([SEEDS], "pyld")
    (figid,) = reference
    for engine in ("oxigraph", "direct"):
        fast = _graphs([SEEDS], engine)
        assert isomorphic(fast[figid].rdflib_graph(), reference[figid].rdflib_graph())


@pytest.mark.parametrize("engine", ["direct", "pyld"])
def test_ntriples_are_the_quads_without_their_graph(engine):
    for g in _graphs([SAMPLE, SEEDS], engine).values():
        expected = ox.serialize([q.triple for q in g.quads], format=ox.RdfFormat.N_TRIPLES)
        assert g.ntriples() == expected, g.figure.figid
        again = pickle.loads(pickle.dumps(g, protocol=5))  # as workers send graphs
        assert "_ntriples" not in again.__dict__ and again == g
        assert again.ntriples() == expected


def test_project_context_is_read_whole():
    table = project_table()
    assert table.problem is None and not table.refused
    context = jsonld.bundled_context(jsonld.PFOCR_CONTEXT_URL)["@context"]
    terms = {k for k, v in context.items() if not k.startswith("@") and not str(v).startswith("@")}
    assert terms <= table.predicates.keys()
    assert table.ids == {"@id", "id"} and table.types == {"@type", "type"}
    assert table.predicates["title"].suffix == "@en"
    assert table.predicates["pathwayScore"].suffix == "^^<http://www.w3.org/2001/XMLSchema#decimal>"
    assert table.predicates["url"].iri_valued


def test_contexts_beyond_the_subset_are_refused():
    assert interpret({"@vocab": "http://schema.org/"}).problem
    assert interpret({"@base": "http://example.org/"}).problem
    assert interpret({"@language": "en"}).problem
    table = interpret({
        "ex": "http://example.org/",
        "list": {"@id": "ex:list", "@container": "@list"},
        "vocab": {"@id": "ex:vocab", "@type": "@vocab"},
        "reverse": {"@reverse": "ex:r"},
        "unknownPrefix": "nope:x",
        "both": {"@id": "ex:b", "@type": "ex:t", "@language": "en"},
        "scoped": {"@id": "ex:s", "@context": {}},
        "ok": {"@id": "ex:ok", "@container": "@set"},
    })
    assert set(table.refused) == {"list", "vocab", "reverse", "unknownPrefix", "both", "scoped"}
    assert "ok" in table.predicates


F = "https://pfocr.wikipathways.org/figures/PMC1__x.html"


@pytest.mark.parametrize("node", [
    {"id": F, "unknownKey": "x"},
    {"id": F, "position": 3},  # numbers are left to a JSON-LD processor
    {"id": F, "position": 3.5},
    {"id": F, "position": True},
    {"id": F, "position": ["a", ["b"]]},
    {"id": F, "isPartOf": {"id": F}},  # a nested node
    {"id": F, "title": {"@value": "x", "@language": "de"}},
    {"id": F, "url": "relative/path"},
    {"id": F, "url": "dc:compact"},
    {"id": F, "url": "https://x.org/a b"},
    {"id": F, "url": "https://x.org/a\u00a0b"},  # pyld's absolute-IRI test refuses Unicode spaces
    {"id": F, "url": "https://x.org/%zz"},  # pyoxigraph refuses it
    {"id": F, "type": "NotATerm"},
    {"id": F, "type": "http://example.org/Class"},
    {"id": "relative", "name": "x"},
    {"name": "a blank node"},
    {"id": F, "@id": F, "name": "two ids"},
    {"id": F, "name": "lone \ud800 surrogate"},
    {"id": F, "@context": {}},
    ["not", "a", "node"],
])
def test_what_the_writer_does_not_interpret_is_refused(node):
    with pytest.raises(Unsupported):
        triples([node])


def test_literals_are_written_as_pyoxigraph_writes_them():
    """Every code point: printable text without quote or backslash goes verbatim, as pyoxigraph's
    N-Quads serializer writes it; the rest through pyoxigraph itself."""
    s, p = ox.NamedNode("http://a.org/s"), ox.NamedNode("http://a.org/p")
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 50_000):
        chunk = chars[start:start + 50_000]
        values = [f"a{c}b" for c in chunk]
        written = ox.serialize([ox.Triple(s, p, ox.Literal(v)) for v in values],
                               format=ox.RdfFormat.N_TRIPLES).decode().split("\n")[:-1]
        for value, line in zip(values, written, strict=True):
            assert line == f"<http://a.org/s> <http://a.org/p> {compact_nquads._literal(value)} .", \
                repr(value)


def test_a_figure_the_writer_refuses_goes_through_pyld(monkeypatch):
    """Fallback: the figure's nodes hold something unusual; the direct engine gives pyld's bytes
    (computed by pyld itself) and counts the fallback."""
    paths = [SEEDS]
    reference = _graphs(paths, "pyld")
    real = jsonld.figure_nodes

    def unusual(fig):
        return [*real(fig), {"id": fig.iri, "position": 7, "url": "relative/x"}]

    monkeypatch.setattr(jsonld, "figure_nodes", unusual)
    graph.DIRECT_FALLBACKS.clear()
    items = list(build_graphs(paths, ExportOptions(engine="direct")))
    pyld_items = list(build_graphs(paths, ExportOptions(engine="pyld")))
    assert sum(graph.DIRECT_FALLBACKS.values()) == len(items) == 1
    (got,), (expected,) = items, pyld_items
    assert got.data == expected.data
    assert got.data != next(iter(reference.values())).data  # the integer reached the RDF
    assert b'"7"^^<http://www.w3.org/2001/XMLSchema#integer>' in got.data
    # the front matter's relative IRI resolves against the figure IRI too, in every engine
    (fig,) = [g.figure for g in reference.values()]
    assert f"<{fig.iri.rsplit('/', 1)[0]}/relative/x>".encode() in got.data
    assert b"example.org" not in got.data
    (oxigraph,) = build_graphs(paths, ExportOptions(engine="oxigraph"))
    assert oxigraph.data == got.data


def test_blocks_pyoxigraph_rejects_go_through_pyld():
    """A block the batch parser cannot read costs its figure the fast path, not its neighbours."""
    paths = [SAMPLE]
    figs = [g.figure for g in list(_graphs(paths, "pyld").values())[:6]]
    bad = figs[2].__class__(**{**figs[2].__dict__, "block": {"@id": figs[2].iri,
                                                            "@type": {"not": "a string"}}})
    batch = [*figs[:2], bad, *figs[3:]]
    built = graph.build_batch_direct(batch)
    assert built[2] is None and all(b is not None for i, b in enumerate(built) if i != 2)
    results = graph.build(batch, "direct")
    expected = graph.build(batch, "pyld")
    for got, ref in zip(results, expected, strict=True):
        if isinstance(ref, Exception):
            assert isinstance(got, Exception) and str(got) == str(ref)
        else:
            assert got.data == ref.data


def test_blocks_read_under_the_part_of_the_context_they_use():
    """Plain blocks are parsed under the terms of the schema.org context they can reach; the
    quads are those the whole pinned context gives."""
    figs = [g.figure for paths in SAMPLES for g in _graphs(paths, "pyld").values()]
    used: set[str] = set()
    assert all(graph._plain_block(f.block, used) for f in figs if f.block)
    assert {"@id", "@type", "keywords", "license"} <= used
    trimmed = graph._schema_context_json(frozenset(used))
    assert len(trimmed) < len(graph._schema_context_json()) / 100
    texts = [f'{{"@id":"{f.iri}","@graph":[{json.dumps(f.block)}]}}'
             for f in figs if f.block]
    assert graph._parse_blocks(texts, trimmed) == graph._parse_blocks(
        texts, graph._schema_context_json())


@pytest.mark.parametrize("block", [
    {"@id": "//host/relative", "name": "x"},
    {"@id": F, "position": 3},
    {"@id": F, "name": None},
    {"@id": F, "name": True},
    {"@id": F, "license": "CC BY 4.0"},  # an IRI-valued term holding no IRI
    {"@id": F, "@type": "schema:Dataset"},
    {"@id": F, "@type": "a b"},
    {"@id": F, "schema:name": "compact key"},
    {"@id": F, "@context": {"name": "http://example.org/name"}},
    {"@id": F, "@graph": []},
    {"@id": F, "name": {"@value": "x", "@language": "en"}},
    {"@id": F, "keywords": [["nested"]]},
    {"@id": F, "name": "lone \udc00"},
    {"@id": F, "creator": {"@id": "rel:x"}},
])
def test_blocks_beyond_plain_json_ld_are_left_to_pyld(block):
    assert not graph._plain_block(block, set())


def test_a_block_with_a_relative_id_resolves_against_the_figure_iri_in_every_engine():
    """Found by the property test: pyld resolved a relative @id in the block against its default
    base (``http://example.org/base/0``) and pyoxigraph dropped it. The block lives on the
    figure's page, so every engine now resolves it against the figure IRI, alike; the direct
    engine keeps such a block on its fast path."""
    (fig,) = [g.figure for g in _graphs([SEEDS], "pyld").values()]
    odd = fig.__class__(**{**fig.__dict__, "block": {**fig.block, "@id": "0"}})
    graph.DIRECT_FALLBACKS.clear()
    built = {engine: graph.build([odd], engine)[0] for engine in graph.ENGINES}
    assert sum(graph.DIRECT_FALLBACKS.values()) == 0, dict(graph.DIRECT_FALLBACKS)
    assert len({g.data for g in built.values()}) == 1, built
    data = built["pyld"].data
    assert b"example.org" not in data
    resolved = fig.iri.rsplit("/", 1)[0] + "/0"  # .../figures/0
    assert f"<{resolved}> <http://schema.org/keywords> ".encode() in data


RELATIVE = "PMC10031279__gr8"  # a real sample figure with a block and a genes table
RELATIVE_URL = "../articles/PMC10031279/"


def _site_with_relative_block(tmp_path, block_lines: str):
    """A copy of the sample figure RELATIVE (and its tables and organisms) whose block's absolute
    '@id' line is replaced by BLOCK_LINES."""
    site = tmp_path / "site"
    (site / "_figures").mkdir(parents=True)
    (site / "_data").mkdir()
    shutil.copytree(SAMPLE / "_organisms", site / "_organisms")
    for table in (SAMPLE / "_data").glob(f"{RELATIVE}-*"):
        shutil.copy(table, site / "_data")
    text = (SAMPLE / "_figures" / f"{RELATIVE}.md").read_text(encoding="utf-8")
    absolute = f"  '@id': https://pfocr.wikipathways.org/figures/{RELATIVE}.html\n"
    assert text.count(absolute) == 1
    (site / "_figures" / f"{RELATIVE}.md").write_text(text.replace(absolute, block_lines),
                                                      encoding="utf-8")
    return site


def test_relative_block_iris_resolve_against_the_figure_iri_not_example_org(tmp_path):
    """The defect: a block with a relative @id and url gave pyld triples about
    http://example.org/base/... and pyoxigraph none. Now, through the whole pipeline, every
    engine gives the same bytes: the @id is the figure IRI (the graph is the figure's own graph
    plus the url), the url is resolved against the figure IRI, no example.org anywhere."""
    site = _site_with_relative_block(tmp_path, f"  '@id': {RELATIVE}.html\n"
                                               f"  url: {RELATIVE_URL}\n")
    graph.DIRECT_FALLBACKS.clear()
    built = {}
    for engine in graph.ENGINES:
        (item,) = build_graphs([site], ExportOptions(engine=engine))
        assert isinstance(item, graph.FigureGraph), item
        built[engine] = item
    assert sum(graph.DIRECT_FALLBACKS.values()) == 0, dict(graph.DIRECT_FALLBACKS)
    assert built["direct"].data == built["oxigraph"].data == built["pyld"].data
    assert built["direct"].digest == built["oxigraph"].digest == built["pyld"].digest
    data = built["pyld"].data
    assert b"example.org" not in data
    fig = built["pyld"].iri
    assert fig == f"https://pfocr.wikipathways.org/figures/{RELATIVE}.html"
    url = f"<{fig}> <http://schema.org/url> <https://pfocr.wikipathways.org/articles/PMC10031279/>"
    original = _graphs([SAMPLE, SEEDS], "pyld")[RELATIVE].data
    assert sorted(data.splitlines()) == sorted([*original.splitlines(),
                                                f"{url} <{fig}> .".encode()])


# RFC 3986 section 5.4's examples (its base is http://a/b/c/d;p?q, ours the figure IRI) and other
# references the direct engine's plain blocks accept (graph._RELATIVE_IRI).
RFC3986 = ["g", "./g", "g/", "/g", "?y", "g?y", "#s", "g#s", "g?y#s", ";x", "g;x", "g;x?y#s", "",
           ".", "./", "..", "../", "../g", "../..", "../../", "../../g", "../../../g",
           "../../../../g", "/./g", "/../g", "g.", "g..", "..g", "./../g", "./g/.", "g/./h",
           "g/../h", "g;x=1/./y", "g;x=1/../y", "g?y/./x", "g?y/../x", "g#s/./x", "g#s/../x",
           "a%20b", "~u", "a!$&'()*+,;=b", "a@b", "x?a/b", "g/.h", "PMC1__x.html"]
# ".gc": pyld drops the leading '.' ("gc"), "a/.?q": pyld drops the '/' ("a?q"); pyoxigraph
# resolves both as RFC 3986 says.
REFUSED = ["//g", "//a@b@c/", "@x", "a:b", "x?a:b", "_:b", ".g", ".gc", ".htaccess", "a b",
           "a/.?q", "a/..#s", "/b/.#s", "..?q", "g/.#", "g//.?",
           " g", "a%zz", "a#b#c", "\u00e9", "a\\b", "a|b", "a<b", 'a"b', "a\u00a0b"]


def _block_engines(block):
    """Each engine's bytes for the seed figure carrying BLOCK, and the direct engine's fallbacks."""
    (fig,) = [g.figure for g in _graphs([SEEDS], "pyld").values()]
    odd = fig.__class__(**{**fig.__dict__, "block": block})
    graph.DIRECT_FALLBACKS.clear()
    built = {engine: graph.build([odd], engine)[0] for engine in graph.ENGINES}
    return built, sum(graph.DIRECT_FALLBACKS.values())


@pytest.mark.parametrize("ref", RFC3986)
def test_relative_references_resolve_alike_in_every_engine(ref):
    assert graph._RELATIVE_IRI.fullmatch(ref)
    block = {"@id": ref, "@type": "Dataset", "url": ref, "name": "x",
             "creator": {"@id": ref + "/c", "name": "y"}}
    built, fallbacks = _block_engines(block)
    reference = built["pyld"]
    assert isinstance(reference, graph.FigureGraph), reference
    assert b"example.org" not in reference.data
    for engine in ("direct", "oxigraph"):
        assert built[engine].data == reference.data, engine
    assert fallbacks == 0


@st.composite
def relative_references(draw):
    pieces = st.sampled_from([".", "..", "/", "./", "../", "/.", "/..", "?", "#", "g", "x.html",
                              "%41", "%c3%A9", "@", "~", "-", "_", "!", "$", "&", "'", "(", ")",
                              "*", "+", ",", ";", "=", "a", "PMC1__x"])
    ref = "".join(draw(st.lists(pieces, max_size=10)))
    assume(graph._RELATIVE_IRI.fullmatch(ref))
    return ref


@settings(deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(ids=st.lists(relative_references(), min_size=4, max_size=4))
def test_accepted_relative_references_resolve_alike_in_every_engine(ids):
    """Whatever graph._RELATIVE_IRI accepts, the direct engine keeps on its fast path and
    pyoxigraph resolves exactly as pyld does (both against the figure IRI)."""
    block = {"@id": ids[0], "url": [ids[1], ids[2]], "creator": {"@id": ids[3], "name": "y"}}
    assert graph._plain_block(block, set())
    built, fallbacks = _block_engines(block)
    assert fallbacks == 0
    assert built["direct"].data == built["oxigraph"].data == built["pyld"].data
    assert b"example.org" not in built["pyld"].data


@pytest.mark.parametrize("ref", REFUSED)
def test_other_relative_references_are_left_to_pyld(ref):
    """References the two processors may read differently (an authority, a scheme or prefix, a
    keyword's form, invalid characters or escapes): not plain, so pyld gives the verdict."""
    blocks = [{"@id": ref, "name": "x"}, {"@id": F, "url": ref, "name": "x"}]
    for block in blocks:
        assert not graph._plain_block(block, set())
        built, fallbacks = _block_engines(block)
        assert fallbacks == 1
        expected, got = built["pyld"], built["direct"]
        if isinstance(expected, Exception):
            assert isinstance(got, Exception) and str(got) == str(expected)
        else:
            assert got.data == expected.data and b"example.org" not in got.data


WP_IS_ABOUT = "http://vocabularies.wikipathways.org/wp#isAbout"


def test_a_gene_under_two_symbols_has_both_and_figures_sharing_it_keep_their_own_links(tmp_path):
    """A gene's own node is shared by the figures showing it (its lines written once,
    compact_nquads.Fixed); a second symbol and each figure's links are the figure's own."""
    site = tmp_path / "site"
    shutil.copytree(SAMPLE / "_organisms", site / "_organisms")
    (site / "_figures").mkdir()
    (site / "_data").mkdir()
    table = (SAMPLE / "_data" / "PMC10031279__gr8-genes.tsv").read_text()
    text = (SAMPLE / "_figures" / "PMC10031279__gr8.md").read_text()
    for figid in ("PMC10031279__gr8", "PMC10031279__gr9"):
        (site / "_figures" / f"{figid}.md").write_text(text.replace("PMC10031279__gr8", figid))
        extra = "9606\tHomo sapiens\tPrimates\tTak1\tTAK1\tTAK1\t6885\tncbigene_synonym\t1\t1\t1\n"
        (site / "_data" / f"{figid}-genes.tsv").write_text(
            table + (extra if figid.endswith("8") else ""))
    F = "https://pfocr.wikipathways.org/figures/"
    gene = "<https://identifiers.org/ncbigene/6885>"
    graphs = {}
    for engine in ("direct", "pyld"):
        built = list(build_graphs([site], ExportOptions(engine=engine, validate=False, jobs=1)))
        graphs[engine] = {fg.figure.figid: fg.data for fg in built}
    assert graphs["direct"] == graphs["pyld"]
    for figid, data in graphs["direct"].items():
        lines = {line.rsplit(b" <", 1)[0].decode() for line in data.splitlines()}
        about = {line.rsplit(" ", 1)[1] for line in lines if line.startswith(gene + " <" + WP_IS_ABOUT)}
        two = figid.endswith("8")
        labels = {'"MAP3K7"', '"TAK1"'} if two else {'"MAP3K7"'}
        for p in ("http://www.w3.org/2000/01/rdf-schema#label", "http://schema.org/name"):
            assert {line.rsplit(" ", 1)[1] for line in lines
                    if line.startswith(f"{gene} <{p}> ")} == labels
        assert [line for line in lines if line.startswith(gene) and "bdbHgncSymbol" in line] == [
            f"{gene} <http://vocabularies.wikipathways.org/wp#bdbHgncSymbol> "
            "<https://identifiers.org/hgnc.symbol/MAP3K7>"]
        assert f"{gene} <http://purl.org/dc/terms/isPartOf> <{F}{figid}.html>" in lines
        assert not [line for line in lines if line.startswith(gene) and "isPartOf" in line
                    and figid not in line]
        assert len(about) == (2 if two else 1) and all(figid in a for a in about)
