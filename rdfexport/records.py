"""Typed, cleaned figure records: the boundary where untrusted front matter becomes data.

R's NA markers are removed here, so nothing later has to know about them; the known defects of
the published ``schema-jsonld`` block are repaired here, and every repair is recorded.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from rdfexport import vocab
from rdfexport.errors import InputError, RemoteContextError, Repair
from rdfexport.sources import Limits, Site, SourceFile, kind_of, read_front_matter

SCHEMA_CONTEXT_URLS = frozenset({
    "https://schema.org/", "https://schema.org", "http://schema.org/", "http://schema.org",
})


@dataclass(frozen=True)
class Organism:
    name: str
    taxid: str | None
    ner_only: bool = False


@dataclass(frozen=True)
class GeneMention:
    gene_id: str
    symbol: str | None
    word: str
    match: str
    source: str
    taxid: str | None
    counts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TermMention:
    """A chemical or disease: a MeSH descriptor seen in the figure."""

    kind: str  # "chemical" | "disease"
    mesh: str
    name: str | None
    word: str
    match: str
    source: str
    chebi: str | None = None
    doid: str | None = None


@dataclass(frozen=True)
class Figure:
    figid: str
    path: str
    iri: str
    fields: dict[str, str]  # cleaned scalar front-matter values, NA removed
    organisms: tuple[Organism, ...]
    article_keywords: tuple[str, ...]
    genes: tuple[GeneMention, ...]
    chemicals: tuple[TermMention, ...]
    diseases: tuple[TermMention, ...]
    block: dict[str, Any] | None  # the repaired schema-jsonld block, without @context
    wpids: tuple[str, ...] = ()
    ndex: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    repairs: tuple[Repair, ...] = field(default=(), compare=False, repr=False)
    mtime: float = field(default=0.0, compare=False, repr=False)  # the file's, as it was read

    def get(self, key: str) -> str | None:
        return self.fields.get(key)

    @property
    def pmcid(self) -> str | None:
        pmcid = self.fields.get("pmcid") or self.figid.split("__", 1)[0]
        return pmcid if vocab.is_pmcid(pmcid) else None


SCALAR_KEYS = (
    "figtitle", "caption", "pmcid", "filename", "figlink", "number", "papertitle", "reftext",
    "year", "doi", "journal_title", "journal_nlm_ta", "publisher_name", "figid_alias", "figtype",
    "automl_pathway", "pathway_score",
)


_YEAR = re.compile(r"[12][0-9]{3}")
# Characters a figid may not hold: it names files (_data/<figid>-genes.tsv) and IRIs, so no path
# separators, no quotes or angle brackets that break N-Triples/HTML, no whitespace or controls.
_FIGID_FORBIDDEN = re.compile(r"""[\s\x00-\x1f\x7f<>"'`{}|\\^/]""")


def figid_problem(raw: Any, figid: str) -> str | None:
    """Why a figid cannot be used, or None."""
    if not isinstance(raw, str):
        return f"is {kind_of(raw)}, not text (quote it)"
    bad = _FIGID_FORBIDDEN.search(figid)
    if bad:
        return f"contains {_describe(bad.group())}"
    if figid.startswith("."):
        return "starts with '.'"
    return None


def _describe(ch: str) -> str:
    names = {" ": "a space", "\n": "a line break", "\r": "a line break", "\t": "a tab",
             "/": "a slash", "\\": "a backslash"}
    return names.get(ch, f"the character {ch!r}" if ch.isprintable() else
                     f"the control character U+{ord(ch):04X}")


def clean_scalar(value: Any) -> str | None:
    """A front-matter scalar as text, or None for absent values and R's NA markers."""
    if type(value) is str:  # the usual case, first
        value = value.strip()
        return None if value in vocab.NA_MARKERS else value
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        text = repr(value)
    else:
        text = str(value)
    text = text.strip()
    return None if vocab.is_na(text) else text


def clean_list(value: Any) -> list[str]:
    """A list or a single string (``organisms: Homo sapiens``) as clean strings, NA removed."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = clean_scalar(item)
        if text is not None and text not in out:
            out.append(text)
    return out


class _Builder:
    """Collects repairs for one file while the record is built."""

    def __init__(self, source: SourceFile, figid: str, lines: dict[str, int]) -> None:
        self.path = str(source.path)
        self.figid = figid
        self.lines = lines
        self.repairs: list[Repair] = []
        self.limits = Limits()

    def repair(self, key: str, message: str) -> None:
        self.repairs.append(Repair(self.path, self.figid, key, self.lines.get(key), message))

    def error(self, key: str, problem: str, fix: str | None = None) -> InputError:
        return InputError(problem, path=self.path, line=self.lines.get(key), fix=fix)


def load_figure(source: SourceFile, limits: Limits = Limits()) -> Figure:
    """Read one figure file (and its site's tables) into a clean record, or raise InputError."""
    fm = read_front_matter(source.path, limits)
    data = fm.data
    raw_figid = data.get("figid")
    if raw_figid is None or isinstance(raw_figid, (dict, list, bool)) or vocab.is_na(
            str(raw_figid)):
        raise InputError("no figid", path=source.path, line=fm.lines.get("figid"),
                         fix="every figure needs 'figid: PMC<digits>__<name>'")
    figid = str(raw_figid).strip()
    problem = figid_problem(raw_figid, figid)
    if problem:
        raise InputError(f"figid {figid!r} {problem}", path=source.path,
                         line=fm.lines.get("figid"),
                         fix="a figid is the figure file's name without '.md', "
                             "'PMC<digits>__<name>': no spaces, quotes, angle brackets, slashes "
                             "or control characters")
    b = _Builder(source, figid, fm.lines)
    b.limits = limits
    for key, message in fm.repairs:
        b.repair(key, message)

    fields: dict[str, str] = {}
    for key in SCALAR_KEYS:
        value = data.get(key)
        if isinstance(value, (dict, list)):
            raise b.error(key, f"{key} is {kind_of(value)}, expected text",
                          f"write '{key}: <text>'")
        text = clean_scalar(value)
        if text is not None:
            fields[key] = text
    year = fields.get("year")
    if year is not None and not _YEAR.fullmatch(year):
        raise b.error("year", f"year {year!r} is not a four-digit year",
                      "write the publication year, e.g. year: '2017' (or '' when unknown)")
    doi = fields.get("doi")
    if doi is not None and vocab.clean_doi(doi) is None:
        del fields["doi"]
        b.repair("doi", f"dropped doi {doi!r}: a DOI is 10.<registrant>/<suffix>")

    taxa: dict[str, str] = dict(vocab.BUILTIN_TAXA)
    if source.site is not None:
        taxa.update(source.site.taxa)
    genes = _gene_mentions(data, source.site, figid, b, taxa)
    chemicals, diseases = _term_mentions(data, source.site, figid, b)

    organisms: list[Organism] = []
    named: set[str] = set()
    for key, ner in (("organisms", False), ("organisms_ner", True)):
        value = data.get(key)
        if value is not None and not isinstance(value, (list, str)):
            raise b.error(key, f"{key} is {kind_of(value)}, expected a list of names",
                          f"write '{key}:' followed by '- <latin name>' lines")
        for name in clean_list(value):
            if name in named:
                continue
            named.add(name)
            organisms.append(Organism(name, taxa.get(name), ner_only=ner))

    keywords_value = data.get("keywords")
    if isinstance(keywords_value, str):
        article_keywords = [k.strip() for k in keywords_value.split("|")]
    else:
        article_keywords = clean_list(keywords_value)
    article_keywords = [k for k in dict.fromkeys(article_keywords) if not vocab.is_na(k)]

    iri = vocab.figure_iri(figid)
    return Figure(
        figid=figid,
        path=str(source.path),
        iri=iri,
        fields=fields,
        organisms=tuple(organisms),
        article_keywords=tuple(article_keywords),
        genes=tuple(genes),
        chemicals=tuple(chemicals),
        diseases=tuple(diseases),
        block=_repair_block(data.get("schema-jsonld"), iri, fields, b),
        lines=fm.lines,
        repairs=tuple(b.repairs),
        wpids=tuple(_id_list(data, "wpid", b)),
        ndex=tuple(_id_list(data, "ndex", b)),
        mtime=fm.mtime,
    )


def _id_list(data: dict[str, Any], key: str, b: _Builder) -> list[str]:
    value = data.get(key)
    if isinstance(value, dict):
        raise b.error(key, f"{key} is a mapping, expected an id or a list of ids")
    return clean_list(value)


def _list_of_mappings(data: dict[str, Any], key: str, b: _Builder) -> list[dict[str, Any]]:
    value = data.get(key)
    if value is None or value == [] or (isinstance(value, str) and vocab.is_na(value)):
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise b.error(key, f"{key} must be a list of mappings, got {kind_of(value)}",
                      f"write '{key}:' followed by '- word: ...' entries, or '{key}: []'")
    return value


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if type(value) is str:  # as clean_scalar, inline: called for every cell of every table
        value = value.strip()
        return "" if value in vocab.NA_MARKERS else value
    return clean_scalar(value) or ""


def _gene_mentions(data: dict[str, Any], site: Site | None, figid: str, b: _Builder,
                   taxa: dict[str, str]) -> list[GeneMention]:
    found: dict[tuple[Any, ...], GeneMention] = {}
    for row in _list_of_mappings(data, "genes", b):
        # Old generation: HGNC-based lists, so the genes are human.
        gene_id = _text(row, "entrez")
        mention = GeneMention(gene_id, clean_scalar(row.get("hgnc_symbol")),
                              _text(row, "word"), _text(row, "symbol"), _text(row, "source"),
                              vocab.HUMAN_TAXID)
        _add_gene(found, mention, b, "genes")
    table = site.read_table(figid, "genes", b.limits) if site else None
    if table is not None:
        where = str(table[0])
        na = vocab.NA_MARKERS
        is_gene_id = vocab.is_gene_id
        for row in table[1]:
            # read_table's cells are stripped text, so _text(row, k) is the cell, "" for NA
            get = row.get
            taxid = get("organism_id", "")
            if taxid in na:
                taxid = ""
            if taxid.isdigit():
                name = get("organism_name", "")
                if name and name not in na:
                    taxa.setdefault(name, taxid)
            gene_id = get("ncbigene_id", "")
            if gene_id in na:
                gene_id = ""
            word = get("word", "")
            if word in na:
                word = ""
            if not is_gene_id(gene_id):
                _drop_gene(gene_id, word, b, where)
                continue
            match = get("match", "")
            source = get("source", "")
            key = (gene_id, word, "" if match in na else match, "" if source in na else source)
            if key in found:  # the first mention of a gene, word, match and source is kept
                continue
            counts = tuple([(k, row[k]) for k in _COUNTS if k in row and row[k].isdigit()])
            symbol = get("ncbigene_symbol")
            found[key] = GeneMention(gene_id, None if symbol is None or symbol in na else symbol,
                                     word, key[2], key[3], taxid if taxid.isdigit() else None,
                                     counts)
    return list(found.values())


_COUNTS = ("count_direct", "count_synonym", "count_match")


def _add_gene(found: dict[tuple[Any, ...], GeneMention], m: GeneMention, b: _Builder,
              where: str) -> None:
    if not vocab.is_gene_id(m.gene_id):
        _drop_gene(m.gene_id, m.word, b, where)
        return
    key = (m.gene_id, m.word, m.match, m.source)
    found.setdefault(key, m)


def _drop_gene(gene_id: str, word: str, b: _Builder, where: str) -> None:
    if gene_id:
        b.repair("genes", f"dropped gene mention {word!r}: id {gene_id!r} from {where} "
                          "is not an NCBI Gene id")


def _term_mentions(data: dict[str, Any], site: Site | None, figid: str,
                   b: _Builder) -> tuple[list[TermMention], list[TermMention]]:
    out: dict[str, dict[tuple[str, ...], TermMention]] = {"chemical": {}, "disease": {}}
    for kind, key in (("chemical", "chemicals"), ("disease", "diseases")):
        rows: list[tuple[dict[str, Any], str]] = [(r, key) for r in _list_of_mappings(data, key, b)]
        table = site.read_table(figid, key, b.limits) if site else None
        if table is not None:
            where = str(table[0])
            rows.extend((r, where) for r in table[1])
        for row, where in rows:
            ident = _text(row, "mesh") or _text(row, "identifier")
            ui = vocab.mesh_ui(ident)
            if ui is None:
                if ident:
                    b.repair(key, f"dropped {kind} mention {_text(row, 'word')!r}: "
                                  f"{ident!r} from {where} is not a MeSH id")
                continue
            m = TermMention(kind, ui, clean_scalar(row.get("name")), _text(row, "word"),
                            _text(row, "match"), _text(row, "source"),
                            chebi=vocab.chebi_number(_text(row, "chebi")) if row.get(
                                "chebi") else None,
                            doid=vocab.doid_number(_text(row, "doid")) if row.get(
                                "doid") else None)
            out[kind].setdefault((ui, m.word, m.match, m.source), m)
    return list(out["chemical"].values()), list(out["disease"].values())


def _check_no_contexts(value: Any, b: _Builder) -> None:
    """Nested @context or @import would make a JSON-LD processor fetch: refuse them."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("@context", "@import"):
                raise RemoteContextError(
                    f"schema-jsonld holds a nested {k}; only the top-level schema.org context "
                    "is allowed", path=b.path, line=b.lines.get("schema-jsonld"),
                    fix="remove it: nothing is fetched, contexts ship with rdfexport")
            if type(v) is not str:  # text holds no context: skip the call
                _check_no_contexts(v, b)
    elif isinstance(value, list):
        for v in value:
            if type(v) is not str:
                _check_no_contexts(v, b)


def _json_value(value: Any, where: str, b: _Builder) -> Any:
    """The YAML value as JSON data: dates become text (reported), other YAML-only types refused."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise b.error(_top(where), f"{where} has the key {k!r}, which is not text",
                              "quote the key: JSON-LD keys are strings")
            if _is_na_text(v):
                b.repair(_top(where), f"{where}: removed the NA marker {v!r} of {k!r}")
                continue
            out[k] = v if type(v) is str else _json_value(v, where, b)  # text is kept as it is
        return out
    if isinstance(value, list):
        na = vocab.NA_MARKERS
        kept = [v for v in value if not (v.strip() in na if type(v) is str else _is_na_text(v))]
        if len(kept) != len(value):
            b.repair(_top(where), f"{where}: removed {len(value) - len(kept)} NA marker(s)")
        return [v if type(v) is str else _json_value(v, where, b) for v in kept]
    if isinstance(value, (dt.datetime, dt.date)):
        b.repair(_top(where), f"{where}: YAML read {value} as a date; kept as the text "
                              f"{value.isoformat()!r}")
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        b.repair(_top(where), f"{where}: dropped {value!r}, not a JSON number")
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise b.error(_top(where), f"{where} holds a YAML {type(value).__name__}, which JSON-LD "
                               "cannot represent", "write it as text")


def _is_na_text(value: Any) -> bool:
    return isinstance(value, str) and vocab.is_na(value)


def _top(where: str) -> str:
    return ".".join(where.split(".")[:2])


def _repair_block(block: Any, iri: str, fields: dict[str, str],
                  b: _Builder) -> dict[str, Any] | None:
    """The schema-jsonld block, repaired; None when the file has none."""
    key = "schema-jsonld"
    if block is None:
        return None
    if not isinstance(block, dict):
        raise b.error(key, f"schema-jsonld is {kind_of(block)}, not a JSON-LD object",
                      "write it as a mapping with '@context: https://schema.org/'")
    block = dict(block)
    context = block.pop("@context", None)
    if context is None:
        b.repair(f"{key}.@context", "no @context; assumed schema.org's")
    elif not (isinstance(context, str) and context.strip() in SCHEMA_CONTEXT_URLS):
        raise RemoteContextError(
            f"schema-jsonld names the context {context!r}; only https://schema.org/ is "
            "allowed (served from the pinned copy inside rdfexport)", path=b.path,
            line=b.lines.get(f"{key}.@context"),
            fix="use '@context: https://schema.org/'; nothing is ever fetched")
    _check_no_contexts(block, b)
    if isinstance(block.get("@id"), str) and vocab.is_na(block["@id"]):
        del block["@id"]
    if "@id" not in block:
        block["@id"] = iri
        b.repair(f"{key}.@id", "no @id; minted from figid")
    elif not isinstance(block["@id"], str):
        raise b.error(f"{key}.@id", "schema-jsonld @id is not text", "write the figure's URL")
    if block.get("name") == "CreativeWork":
        del block["name"]
        b.repair(f"{key}.name", "dropped the placeholder name 'CreativeWork' (not the title)")
    licence = block.get("license")
    if isinstance(licence, str) and licence.strip().upper() in ("CC0", "CC0 1.0", "CC0-1.0"):
        block["license"] = vocab.CC0
        b.repair(f"{key}.license", f"licence {licence!r} is text, not an IRI; replaced by "
                                   f"<{vocab.CC0}>")
    keywords = block.get("keywords")
    if keywords is not None:
        items = keywords if isinstance(keywords, list) else [keywords]
        na = vocab.NA_MARKERS
        kept = [k for k in items if (k.strip() not in na if type(k) is str else not (
            isinstance(k, str) and vocab.is_na(k)) and k is not None and not isinstance(k, bool))]
        kept = [k if type(k) is str else str(k) if isinstance(k, (int, float)) else k
                for k in kept]
        if len(kept) != len(items):
            b.repair(f"{key}.keywords", f"removed {len(items) - len(kept)} NA marker(s) from "
                                        "the keywords")
        if kept:
            block["keywords"] = kept
        else:
            del block["keywords"]
    creator = block.get("creator")
    if isinstance(creator, dict) and creator.get("name") == "WikiPathways" and "@id" not in creator:
        block["creator"] = {**creator, "@id": vocab.WIKIPATHWAYS_ORG}
    for k, v in list(block.items()):
        if isinstance(v, str) and vocab.is_na(v) and not k.startswith("@"):
            del block[k]
            b.repair(f"{key}.{k}", f"removed NA marker {v!r}")
    # What is left: YAML-only values (dates, NaN, non-text keys) and NA markers deeper down.
    return {k: _json_value(v, f"{key}.{k}", b) for k, v in block.items()}
