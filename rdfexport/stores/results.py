"""Query results as text: an aligned table for people, and the SPARQL 1.1 CSV, TSV and JSON
results formats for programs. CONSTRUCT/DESCRIBE results are written as N-Triples."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox

from rdfexport import vocab
from rdfexport.stores.base import QueryResult

FORMATS = ("table", "csv", "tsv", "json")
XSD = vocab.PREFIXES["xsd"]
# Shorter names for the table only (CSV, TSV and JSON keep full IRIs).
DISPLAY_PREFIXES = {
    **vocab.PREFIXES,
    "fig": vocab.FIGURE_BASE,
    "ncbigene": "https://identifiers.org/ncbigene/",
    "pmc": "https://identifiers.org/pmc/",
    "mesh": "https://identifiers.org/mesh/",
    "wikipathways": "https://identifiers.org/wikipathways/",
    "doi": "https://doi.org/",
}


def render(result: QueryResult, fmt: str = "table") -> str:
    if result.kind == "graph":
        return (ox.serialize(result.triples, format=ox.RdfFormat.N_TRIPLES) or b"").decode()
    if fmt == "json":
        return json.dumps(_json(result), ensure_ascii=False, indent=1) + "\n"
    if result.kind == "ask":
        if fmt == "table":
            return ("yes" if result.boolean else "no") + "\n"
        return ("true" if result.boolean else "false") + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(result.variables)
        for row in result.rows:
            writer.writerow(["" if t is None else _plain(t) for t in row])
        return out.getvalue()
    if fmt == "tsv":
        lines = ["\t".join(f"?{v}" for v in result.variables)]
        lines += ["\t".join("" if t is None else str(t) for t in row) for row in result.rows]
        return "\n".join(lines) + "\n"
    return _table(result)


def _plain(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return term.value


def _short(term: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        for prefix, ns in DISPLAY_PREFIXES.items():
            local = term.value[len(ns):]
            plain = all(c.isalnum() or c in "_-." for c in local)
            if term.value.startswith(ns) and local and plain:
                return f"{prefix}:{local}"
        return f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return " ".join(term.value.split())


def _table(result: QueryResult, width: int = 60) -> str:
    header = result.variables
    cells = [[_clip(_short(t), width) for t in row] for row in result.rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    n = len(result.rows)
    return "\n".join([line, rule, *body, f"({n} row{'s' if n != 1 else ''})"]) + "\n"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _json(result: QueryResult) -> dict:  # type: ignore[type-arg]
    if result.kind == "ask":
        return {"head": {}, "boolean": bool(result.boolean)}
    bindings = []
    for row in result.rows:
        b = {}
        for v, t in zip(result.variables, row, strict=False):
            if t is not None:
                b[v] = _json_term(t)
        bindings.append(b)
    return {"head": {"vars": result.variables}, "results": {"bindings": bindings}}


def _json_term(t: ox.NamedNode | ox.BlankNode | ox.Literal) -> dict[str, str]:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    d = {"type": "literal", "value": t.value}
    if t.language:
        d["xml:lang"] = t.language
    elif t.datatype.value != XSD + "string":
        d["datatype"] = t.datatype.value
    return d
