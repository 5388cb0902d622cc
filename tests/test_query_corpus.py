"""Every bundled query on the whole sample, loaded into the embedded store, a real Oxigraph server
and a real Virtuoso: the same answer from all three, and the answer the source files give.

Expectations are computed here straight from the figure files and their tables (PyYAML and csv),
not through rdfexport's reader. Virtuoso's test instance caps results at 500 rows, so queries
over the whole store also exercise paging.
"""

from __future__ import annotations

import csv
import functools
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pyoxigraph as ox
import pytest
import yaml
from conftest import FIGURES, SAMPLE
from servers import open_test_store, oxigraph_server, virtuoso  # noqa: F401  (fixtures)

from rdfexport.graph import ExportStats, store_void
from rdfexport.pipeline import build_graphs
from rdfexport.queries import examples

KINDS = ["embedded", "oxigraph", "virtuoso"]
EPOCH = 1767225600  # 2026-01-01T00:00:00Z
NA = {".na.character", "NA", "", ".na", "NaN"}
FIGURE_BASE = "https://pfocr.wikipathways.org/figures/"
NCBIGENE = "https://identifiers.org/ncbigene/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"


# -- the source files, read independently ------------------------------------------------------

def _front_matter(path: Path) -> dict:  # type: ignore[type-arg]
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("\n---", 1)[0].removeprefix("---\n"))


def _table(figid: str, kind: str) -> list[dict[str, str]]:
    path = SAMPLE / "_data" / f"{figid}-{kind}.tsv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _clean(value: object) -> str | None:
    if value is None or isinstance(value, (list, dict, bool)):
        return None
    text = str(value).strip()
    return None if text in NA else text


def _names(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [t for t in (_clean(v) for v in items) if t]


@functools.cache
def source() -> list[dict]:  # type: ignore[type-arg]
    """One dict per figure: figid, pmcid, doi, year, organisms, genes {id: (symbol, taxid)},
    chemicals {mesh UI}, wpids."""
    figures = []
    for path in sorted(FIGURES.glob("*.md")):
        fm = _front_matter(path)
        figid = str(fm["figid"])
        genes: dict[str, list[tuple[str | None, str | None]]] = defaultdict(list)
        for row in fm.get("genes") or []:
            gid = _clean(row.get("entrez"))
            if gid and gid.isdigit():
                genes[gid].append((_clean(row.get("hgnc_symbol")), "9606"))
        for row in _table(figid, "genes"):
            gid = _clean(row.get("ncbigene_id"))
            if gid and gid.isdigit():
                genes[gid].append((_clean(row.get("ncbigene_symbol")),
                                   _clean(row.get("organism_id"))))
        chemicals = set()
        for row in [*(fm.get("chemicals") or []), *_table(figid, "chemicals")]:
            ident = _clean(row.get("mesh")) or _clean(row.get("identifier")) or ""
            chemicals.add(ident.removeprefix("mesh:").upper())
        pmcid = _clean(fm.get("pmcid")) or figid.split("__")[0]
        doi = _clean(fm.get("doi"))
        year = _clean(fm.get("year"))
        figures.append({
            "figid": figid, "pmcid": pmcid, "doi": doi,
            "year": year if year and year.isdigit() and len(year) == 4 else None,
            "organisms": set(_names(fm.get("organisms")) + _names(fm.get("organisms_ner"))),
            "genes": genes, "chemicals": chemicals,
            "wpids": _names(fm.get("wpid")),
        })
    return figures


def figid_of(iri: str) -> str:
    assert iri.startswith(FIGURE_BASE) and iri.endswith(".html"), iri
    return unquote(iri[len(FIGURE_BASE):-len(".html")])


def expected(name: str) -> object:
    """The answer of bundled query ``name`` on the sample, in the shape ``answer()`` gives."""
    figs = source()
    if name == "metadata":
        return [("https://pfocr.wikipathways.org/void#pfocr", "Pathway Figure OCR (PFOCR) figures",
                 datetime.fromtimestamp(EPOCH, tz=timezone.utc), CC0)]
    if name == "figures-per-organism":
        counts = Counter(o for f in figs for o in f["organisms"])
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if name == "figures-with-gene-id":
        return sorted(f["figid"] for f in figs if "207" in f["genes"])
    if name == "figures-with-gene-symbol":
        ids = {g for f in figs for g, seen in f["genes"].items()
               if any(sym == "PIK3CA" for sym, _ in seen)}
        return sorted((f["figid"], NCBIGENE + g) for f in figs for g in f["genes"] if g in ids)
    if name == "figures-of-article":
        return sorted((f["figid"], "https://identifiers.org/pmc/" + f["pmcid"]) for f in figs
                      if f["pmcid"] == "PMC3588179" or f["doi"] == "10.1021/acscatal.3c00075")
    if name == "genes-with-chemical":
        counts = Counter(g for f in figs if "D000409" in f["chemicals"] for g in f["genes"])
        return sorted(((NCBIGENE + g, n) for g, n in counts.items()),
                      key=lambda kv: (-kv[1], kv[0]))
    if name == "figures-per-year":
        return sorted(Counter(f["year"] for f in figs if f["year"]).items())
    if name == "top-genes-for-organism":
        human = {g for f in figs for g, seen in f["genes"].items()
                 if any(t == "9606" for _, t in seen)}
        counts = Counter(g for f in figs for g in f["genes"] if g in human)
        ranked = sorted(((NCBIGENE + g, n) for g, n in counts.items()),
                        key=lambda kv: (-kv[1], kv[0]))
        return ranked[:20]
    if name == "wikipathways-links":
        return sorted((f["figid"], "https://identifiers.org/wikipathways/" + w)
                      for f in figs for w in f["wpids"])
    raise AssertionError(f"no expectation written for bundled query {name!r}")


def value(term: object) -> object:
    """Compare values, not lexical forms: stores canonicalize (Virtuoso: "007" -> 7, language
    tags lower-cased)."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value.rsplit("#", 1)[-1]
        if dt in ("integer", "int", "long", "decimal"):
            return int(float(term.value))
        if dt == "dateTime":
            return datetime.fromisoformat(term.value.replace("Z", "+00:00"))
        return term.value
    return term.value  # type: ignore[attr-defined]


def answer(name: str, result) -> object:  # type: ignore[no-untyped-def]
    """The part of a result the source files can check, in a canonical shape."""
    rows = [dict(zip(result.variables, map(value, row), strict=False)) for row in result.rows]
    if name == "metadata":
        return [(r["dataset"], r["title"], r["date"], r["license"]) for r in rows]
    if name == "figures-per-organism":
        return [(r["organism"], r["figures"]) for r in rows]
    if name == "figures-with-gene-id":
        return sorted(figid_of(r["figure"]) for r in rows)
    if name == "figures-with-gene-symbol":
        return sorted((figid_of(r["figure"]), r["gene"]) for r in rows)
    if name == "figures-of-article":
        return sorted((figid_of(r["figure"]), r["article"]) for r in rows)
    if name in ("genes-with-chemical", "top-genes-for-organism"):
        return [(r["gene"], r["figures"]) for r in rows]
    if name == "figures-per-year":
        return [(r["year"], r["figures"]) for r in rows]
    if name == "wikipathways-links":
        return sorted((figid_of(r["figure"]), r["pathway"]) for r in rows)
    raise AssertionError(f"no answer shape written for bundled query {name!r}")


# -- the stores, loaded once per module ----------------------------------------------------------

@pytest.fixture(scope="module")
def sample_graphs():  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        stats = ExportStats()
        graphs = list(build_graphs([SAMPLE], stats=stats))
    assert all(not isinstance(g, Exception) for g in graphs)
    return graphs, stats


@pytest.fixture(scope="module", params=KINDS)
def loaded(request: pytest.FixtureRequest, sample_graphs, tmp_path_factory):  # type: ignore[no-untyped-def]
    graphs, export_stats = sample_graphs
    store = open_test_store(request.param, request, tmp_path_factory.mktemp("corpus"))

    stats = store.load(graphs, void=store_void(export_stats))
    assert stats.added == len(graphs) == len(source())
    yield request.param, store
    store.close()


_answers: dict[str, dict[str, object]] = defaultdict(dict)


@pytest.mark.parametrize("name", sorted(examples()))
def test_bundled_query_answers_what_the_source_files_say(loaded, name: str) -> None:  # type: ignore[no-untyped-def]
    kind, store = loaded
    got = answer(name, store.query(examples()[name].text))
    _answers[name][kind] = got
    want = expected(name)
    assert want, f"{name}: the sample gives an empty answer; pick example values that match"
    assert got == want


BOUND = {  # --bind values a researcher would give; each matches figures of the sample
    "figures-with-gene-symbol": {"symbol": ["EGFR", "TP53", "AKT1"]},
    "figures-with-gene-id": {"gene": ["https://identifiers.org/ncbigene/7157"]},
    "top-genes-for-organism": {"taxon": ["obo:NCBITaxon_7227"]},
    "genes-with-chemical": {"chemical": ["<https://identifiers.org/mesh/D000409>"]},
}


def expected_bound(name: str, values: dict[str, list[str]]) -> object:
    figs = source()
    if name == "figures-with-gene-symbol":
        ids = {g for f in figs for g, seen in f["genes"].items()
               if any(sym in values["symbol"] for sym, _ in seen)}
        return sorted((f["figid"], NCBIGENE + g) for f in figs for g in f["genes"] if g in ids)
    if name == "figures-with-gene-id":
        wanted = {v.rsplit("/", 1)[-1] for v in values["gene"]}
        return sorted(f["figid"] for f in figs if wanted & set(f["genes"]))
    if name == "top-genes-for-organism":
        taxon = values["taxon"][0].rsplit("_", 1)[-1]
        fly = {g for f in figs for g, seen in f["genes"].items() if any(t == taxon for _, t in seen)}
        counts = Counter(g for f in figs for g in f["genes"] if g in fly)
        return sorted(((NCBIGENE + g, n) for g, n in counts.items()),
                      key=lambda kv: (-kv[1], kv[0]))[:20]
    if name == "genes-with-chemical":
        return expected(name)
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(BOUND))
def test_queries_with_bound_values_answer_what_the_source_files_say(loaded, name: str) -> None:  # type: ignore[no-untyped-def]
    """``rdfexport query --example NAME --bind VAR=VALUE``: another gene, organism or chemical
    than the one written in the query, as a researcher asks."""
    from rdfexport.queries import bind

    kind, store = loaded
    text = bind(examples()[name].text, BOUND[name])
    want = expected_bound(name, BOUND[name])
    assert want and want != expected(name) or name == "genes-with-chemical"
    assert answer(name, store.query(text)) == want


@pytest.mark.parametrize("name", sorted(examples()))
def test_every_store_gives_the_same_answer(name: str) -> None:
    """Runs after the per-store tests (same module, later in the file)."""
    got = _answers.get(name, {})
    if len(got) < 2:
        pytest.skip(f"{name}: fewer than two stores answered (see the skips above)")
    first, *rest = got.values()
    assert all(r == first for r in rest), {k: v for k, v in got.items()}


def test_bundled_queries_are_documented() -> None:
    for name, ex in examples().items():
        assert ex.text.startswith("# ") and ex.description, name
        assert "PREFIX" in ex.text or "<http" in ex.text, name


def test_row_cap_paging_on_the_whole_sample(virtuoso, sample_graphs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Virtuoso (capped at 500 rows here) returns all ~6,000 keyword quads, page by page."""
    from rdfexport.stores import open_store

    graphs, _ = sample_graphs
    keywords = "http://schema.org/keywords"
    total = sum(1 for g in graphs for q in g.quads if q.predicate.value == keywords)
    store = open_store(endpoint=virtuoso.query_url, user=virtuoso.user,
                       password=virtuoso.password)
    store.load(graphs)  # a no-op when the fixture above already loaded them
    q = (f'SELECT ?g ?s ?o WHERE {{ GRAPH ?g {{ ?s <{keywords}> ?o }} '
         f'FILTER(STRSTARTS(STR(?g), "{FIGURE_BASE}")) }}')
    result = store.query(q)
    assert result.pages == -(-total // int(virtuoso.extra["max_rows"]))  # type: ignore[call-overload]
    assert len(result.rows) == len(set(result.rows)) == total
    store.close()
