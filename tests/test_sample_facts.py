"""For every real sample figure, the facts a user expects are in the graph.

Expectations are computed here straight from the source files (PyYAML and csv), not through
rdfexport's reader, so a bug in the reader cannot hide itself.
"""

from __future__ import annotations

import csv
import functools
import re

import pyoxigraph as ox
import pytest
import yaml
from conftest import FIGURES, SAMPLE

from rdfexport.pipeline import build_graphs

NA = {".na.character", "NA", ""}
WP = "http://vocabularies.wikipathways.org/wp#"
SCHEMA = "http://schema.org/"
DCT = "http://purl.org/dc/terms/"
DC = "http://purl.org/dc/elements/1.1/"
OWL = "http://www.w3.org/2002/07/owl#"


def front_matter(path):
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("\n---", 1)[0].removeprefix("---\n"))


def table(figid, kind):
    path = SAMPLE / "_data" / f"{figid}-{kind}.tsv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@functools.cache
def taxa():
    out = {}
    for page in (SAMPLE / "_organisms").glob("*.md"):
        data = front_matter(page)
        if str(data.get("ncbi") or "").isdigit():
            out[data["latin"]] = str(data["ncbi"])
    return out


@pytest.fixture(scope="module")
def graphs():
    result = {}
    for item in build_graphs([SAMPLE]):
        assert not isinstance(item, Exception), str(item)
        store = ox.Store()
        store.extend(item.quads)
        result[item.figure.figid] = (item, store)
    return result


def objects(store, s, p):
    return {q.object for q in store.quads_for_pattern(ox.NamedNode(s), ox.NamedNode(p), None)}


def values(store, s, p):
    return {o.value for o in objects(store, s, p)}


FIGURE_FILES = sorted(FIGURES.glob("*.md"))


def test_every_sample_figure_is_exported(graphs):
    assert len(graphs) == len(FIGURE_FILES) == 130


@pytest.mark.parametrize("path", FIGURE_FILES, ids=lambda p: p.stem)
def test_expected_facts(path, graphs):
    data = front_matter(path)
    figid = data["figid"]
    fg, store = graphs[figid]
    F = f"https://pfocr.wikipathways.org/figures/{figid}.html"
    assert fg.iri == F

    assert values(store, F, DCT + "identifier") == {figid}
    assert objects(store, F, DC + "title") == {ox.Literal(data["figtitle"].strip(), language="en")}

    pmcid = data["pmcid"]
    A = f"https://identifiers.org/pmc/{pmcid}"
    assert values(store, F, DCT + "references") == {A}
    assert values(store, A, DCT + "identifier") == {pmcid}
    doi = data.get("doi")
    if doi and re.fullmatch(r"10\.\d{4,9}/\S+", doi):
        assert values(store, A, OWL + "sameAs") == {f"https://doi.org/{doi}"}
    else:
        assert not values(store, A, OWL + "sameAs")

    known = taxa()
    names = data.get("organisms") or []
    names = [names] if isinstance(names, str) else names
    for name in names:
        if name in NA:
            continue
        assert name in values(store, F, WP + "organismName")
        taxid = known.get(name)
        if taxid:
            assert f"http://purl.obolibrary.org/obo/NCBITaxon_{taxid}" in values(
                store, F, WP + "organism")

    genes = {str(g["entrez"]) for g in data.get("genes") or [] if str(g.get("entrez")).isdigit()}
    genes |= {r["ncbigene_id"] for r in table(figid, "genes") if r["ncbigene_id"].isdigit()}
    mentioned = values(store, F, SCHEMA + "mentions")
    for gene in genes:
        G = f"https://identifiers.org/ncbigene/{gene}"
        assert G in mentioned
        assert ox.NamedNode(WP + "GeneProduct") in objects(
            store, G, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
        assert values(store, G, DCT + "identifier") == {gene}

    for kind in ("chemicals", "diseases"):
        ids = {c["identifier"] for c in data.get(kind) or []}
        ids |= {(r.get("mesh") or r.get("identifier", "")).removeprefix("mesh:")
                for r in table(figid, kind)}
        for ui in ids - NA:
            assert f"https://identifiers.org/mesh/{ui}" in mentioned, (kind, ui)


def test_no_na_marker_reaches_the_rdf(graphs):
    for fg, store in graphs.values():
        for quad in store:
            if isinstance(quad.object, ox.Literal):
                assert quad.object.value.strip() not in NA | {".na", "[NA]"}, (fg.figure.figid,
                                                                                quad)


def test_quoted_on_and_no_keywords_stay_strings(graphs):
    fg, store = graphs["PMC5774495__etm-15-02-1394-g03"]
    keywords = objects(store, fg.iri, SCHEMA + "keywords")
    assert ox.Literal("On") in keywords or ox.Literal("NO") in keywords
    assert all(k.datatype.value.endswith("#string") for k in keywords)


def test_organisms_as_a_plain_string(graphs):
    fg, store = graphs["PMC100003__mb2410470011"]
    assert values(store, fg.iri, WP + "organism") == {
        "http://purl.obolibrary.org/obo/NCBITaxon_9606"}


def test_human_genes_get_hgnc_symbols_and_others_do_not(graphs):
    fg, store = graphs["PMC100003__mb2410470011"]
    human = "https://identifiers.org/ncbigene/2776"  # GNAQ, from the old HGNC-based list
    fly = "https://identifiers.org/ncbigene/36384"  # Galphaq, Drosophila, from the table
    assert values(store, human, WP + "bdbHgncSymbol") == {
        "https://identifiers.org/hgnc.symbol/GNAQ"}
    assert not values(store, fly, WP + "bdbHgncSymbol")
    assert values(store, fly, SCHEMA + "taxonomicRange") == {
        "http://purl.obolibrary.org/obo/NCBITaxon_7227"}
