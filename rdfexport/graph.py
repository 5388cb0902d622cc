"""JSON-LD documents -> the quads of each figure, in the figure's own named graph; VoID.

Three engines; ``direct`` gives pyld's bytes for every figure, ``oxigraph`` on the whole sample
but not on blocks the two JSON-LD processors read differently (an IRI pyld resolves otherwise
than RFC 3986, such as ``.gc`` or ``a/.?q``, or one that is not valid once resolved: pyld writes
it and the figure fails, pyoxigraph drops its node). Every engine resolves relative IRIs against
the figure's IRI, the address of the page the block lives on (pyld's ``base`` option, ``@base``
on each figure's node in pyoxigraph's batch documents):

- ``pyld``, the JSON-LD processor of record: both documents of a figure (jsonld.py) through pyld.
- ``oxigraph``: many figures at once through pyoxigraph's Rust JSON-LD parser (~100x pyld).
- ``direct`` (the default): the front-matter nodes are written as N-Quads lines straight from a
  table of the project context, read once (rdfexport/compact_nquads.py), with no JSON-LD
  document at all; the ``schema-jsonld`` blocks, arbitrary JSON-LD under the schema.org context,
  still go through pyoxigraph's JSON-LD parser, one document per batch (under the part of the
  pinned context they use). Whatever the direct writer does not understand (an unknown key, a
  number, a nested node, an unusual IRI), a block that is not plain JSON-LD (``_plain_block``:
  where pyld and pyoxigraph may differ) and any block pyoxigraph rejects send that one figure
  through pyld instead: never a guess.

Every engine ends in ``finish``'s canonical form (sorted unique lines, blank nodes skolemized,
sha256); tests/test_engines.py proves the engines byte-identical on the whole sample, and
tests/test_properties.py ``direct`` and pyld on generated figures. docs/DESIGN.md says why the
direct engine exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache, cached_property, lru_cache
from itertools import chain, compress, islice
from operator import ne
from typing import Any

import pyoxigraph as ox

from rdfexport import __version__, compact_nquads, jsonld, vocab
from rdfexport.errors import InputError, RdfExportError
from rdfexport.records import Figure

ENGINES = ("direct", "oxigraph", "pyld")
DEFAULT_ENGINE = "direct"
_XSD = vocab.PREFIXES["xsd"]


@dataclass(frozen=True)
class FigureGraph:
    """One figure's triples as canonical N-Quads (sorted, no blank nodes) in graph ``iri``."""

    figure: Figure
    iri: str
    data: bytes = field(repr=False)

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the canonical N-Quads: what stores and the cache compare a figure by.
        Made when first asked for: a convert without a cache never asks (~0.06 ms a figure,
        ~3 % of its CPU); workers make it when the run needs it (``ExportOptions.digests``)."""
        return content_digest(self.data)

    def nquads(self) -> bytes:
        return self.data

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lines", None)  # kept only where the graph was built (see triple_lines)
        state.pop("_groups", None)  # likewise (see predicate_groups)
        return state

    def ntriples(self) -> bytes:
        """The same triples as canonical N-Triples: each line without its graph name, which
        ends every line (all quads are in graph ``iri``; literals hold no raw newline)."""
        if not self.data:
            return b""
        cut = len(self.iri.encode()) + 5  # " <iri> ." after the triple
        lines = self.data.split(b"\n")
        # the piece after the last newline is empty: the join ends with " .\n"
        return b" .\n".join([line[:-cut] for line in lines])

    def triple_lines(self) -> list[bytes]:
        """The triples as sorted ``s p o`` texts (N-Triples lines without `` .``): the order of
        the canonical lines, since the graph name ending each is the same."""
        kept = self.__dict__.get("_lines")
        if kept is not None:
            return kept
        return self.ntriples().split(b" .\n")[:-1]

    def predicate_groups(self) -> tuple[dict[bytes, list[bytes]], list[bytes]] | None:
        """The triples as the direct engine wrote them, where it built the graph: the front
        matter's ``s p o`` texts by predicate (``b"<p>" -> lines``, maybe repeated) and the
        block's; None elsewhere (then ``triple_lines`` has them all)."""
        return self.__dict__.get("_groups")

    @cached_property
    def quads(self) -> tuple[ox.Quad, ...]:
        return tuple(ox.parse(self.data, format=ox.RdfFormat.N_QUADS))

    @property
    def triples(self) -> list[ox.Triple]:
        return [q.triple for q in self.quads]

    def __len__(self) -> int:
        """Triples; counted where the graph is built and sent along, since counting 116 KB
        again for every use cost the parent of a 100k run ~10 s."""
        n = self.__dict__.get("_len")
        if n is None:
            n = self.__dict__["_len"] = self.data.count(b"\n")
        return n

    def with_figure(self, figure: Any) -> FigureGraph:
        """The same graph carrying another record (the parent gets a summary), count kept."""
        fg = replace(self, figure=figure)
        fg.__dict__["_len"] = len(self)
        if "digest" in self.__dict__:
            fg.__dict__["digest"] = self.digest
        return fg

    def rdflib_graph(self):  # -> rdflib.Graph, imported lazily: rdflib is slow to import
        import rdflib

        g = rdflib.Graph()
        g.parse(data=ox.serialize(self.triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
        return g


def content_digest(data: bytes) -> str:
    """A figure graph's digest: SHA-256 of its canonical N-Quads, in hex."""
    return hashlib.sha256(data).hexdigest()


def _by_graph(data: bytes) -> dict[str, list[bytes]]:
    """N-Quads lines grouped by graph name (the last term: IRIs hold no space or '<')."""
    groups: dict[str, list[bytes]] = defaultdict(list)
    for line in data.splitlines(keepends=True):
        cut = line.rfind(b" <")
        groups[line[cut + 2: line.rindex(b">")].decode() if cut > 0 else ""].append(line)
    return groups


def _nquads(quads: Iterable[ox.Quad]) -> bytes:
    return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""


def finish(fig: Figure, lines: Iterable[bytes]) -> FigureGraph:
    """Canonical form: duplicates removed, blank nodes skolemized, lines sorted."""
    text = sorted(set(lines))
    data = b"".join(text)
    if b"_:" in data and any(_has_bnode(line) for line in text):
        data = b"".join(_skolemize(fig, text))
    fg = FigureGraph(fig, fig.iri, data)
    len(fg)  # counted here, in the worker
    return fg


def _has_bnode(line: bytes) -> bool:
    return line.startswith(b"_:") or _BNODE_OBJECT.search(line) is not None


_BNODE_OBJECT = re.compile(rb" _:[A-Za-z0-9_.-]+ <[^<>]*> \.\n$")


def _skolemize(fig: Figure, lines: list[bytes]) -> list[bytes]:
    """Blank nodes (only from unusual schema-jsonld blocks) -> stable IRIs, for stores and diffs."""
    base = f"{vocab.SITE}.well-known/genid/{hashlib.sha1(fig.figid.encode()).hexdigest()[:12]}-"
    quads = list(ox.parse(b"".join(lines), format=ox.RdfFormat.N_QUADS))

    def shape(q: ox.Quad) -> str:
        return " ".join("_:" if isinstance(t, ox.BlankNode) else str(t)
                        for t in (q.subject, q.predicate, q.object))

    names: dict[str, ox.NamedNode] = {}
    for q in sorted(quads, key=lambda q: (shape(q), str(q))):
        for term in (q.subject, q.object):
            if isinstance(term, ox.BlankNode):
                names.setdefault(term.value, ox.NamedNode(f"{base}{len(names)}"))

    def name(term):
        return names[term.value] if isinstance(term, ox.BlankNode) else term

    fixed = [ox.Quad(name(q.subject), q.predicate, name(q.object), q.graph_name) for q in quads]
    return sorted(set(_nquads(fixed).splitlines(keepends=True)))


def _fail(fig: Figure, err: Exception) -> InputError:
    if isinstance(err, RdfExportError) and err.path:
        return err  # type: ignore[return-value]
    problem = err.problem if isinstance(err, RdfExportError) else str(err).splitlines()[0]
    return InputError(f"cannot turn the metadata into RDF: {problem}", path=fig.path,
                      line=fig.lines.get("schema-jsonld"),
                      fix="check the schema-jsonld block against JSON-LD 1.1")


def build_one_pyld(fig: Figure) -> FigureGraph:
    docs = [jsonld.front_matter_document(fig), jsonld.block_document(fig)]
    text = "".join(jsonld.to_nquads(d, base=fig.iri) for d in docs if d is not None)
    # Re-serialized by pyoxigraph so both engines write the very same canonical lines.
    data = _nquads(ox.parse(text, format=ox.RdfFormat.N_QUADS))
    return finish(fig, _by_graph(data).get(fig.iri, ()))


def build_batch_oxigraph(figs: Sequence[Figure]) -> list[FigureGraph]:
    fm, blocks = jsonld.batch_documents(figs)
    groups: dict[str, list[bytes]] = defaultdict(list)
    for doc in (fm, blocks):
        if doc["@graph"]:
            data = _nquads(ox.parse(json.dumps(doc).encode(), format=ox.RdfFormat.JSON_LD))
            for name, lines in _by_graph(data).items():
                groups[name].extend(lines)
    return [finish(f, groups.get(f.iri, ())) for f in figs]


def _block_nquads(figs: Sequence[Figure]) -> list[bytes | None]:
    """Each figure's schema-jsonld block as N-Quads in its graph (b"" without a block), through
    pyoxigraph's JSON-LD parser in one document for the batch; None for a block that is not
    plain JSON-LD (``_plain_block``) or that the parser rejects: pyld reads those."""
    out: list[bytes | None] = [b""] * len(figs)
    texts: dict[int, str] = {}
    used: set[str] = set()
    for i, f in enumerate(figs):
        if f.block is None:
            continue
        if not _plain_block(f.block, used):
            out[i] = None
            continue
        # the figure IRI is the block's base IRI, as it is pyld's (jsonld.base_context)
        texts[i] = json.dumps({"@context": {"@base": f.iri}, "@id": f.iri, "@graph": [f.block]})
    counts: dict[str, int] = defaultdict(int)
    for f in figs:
        counts[f.iri] += 1
    together = [i for i in texts if counts[figs[i].iri] == 1]
    alone = [i for i in texts if counts[figs[i].iri] > 1]  # two figures, one graph name
    context = _schema_context_json(frozenset(used))
    if together:
        try:
            groups = _parse_blocks([texts[i] for i in together], context)
        except (SyntaxError, ValueError):
            alone += together  # find the block at fault one by one
        else:
            for i in together:
                out[i] = groups.get(figs[i].iri, b"")
    for i in alone:
        try:
            out[i] = _parse_blocks([texts[i]], context).get(figs[i].iri, b"")
        except (SyntaxError, ValueError):
            out[i] = None
    return out


def _parse_blocks(texts: Sequence[str], context: str) -> dict[str, bytes]:
    """graph name -> N-Quads, for figures' ``{"@context": {"@base": iri}, "@id": iri,
    "@graph": [block]}`` JSON texts."""
    doc = f'{{"@context":{context},"@graph":[{",".join(texts)}]}}'.encode()
    groups: dict[ox.NamedNode | ox.BlankNode | ox.DefaultGraph, list[ox.Quad]] = defaultdict(list)
    for q in ox.parse(doc, format=ox.RdfFormat.JSON_LD):
        groups[q.graph_name].append(q)
    return {g.value: _nquads(quads) for g, quads in groups.items()
            if isinstance(g, ox.NamedNode)}


@lru_cache(maxsize=64)
def _schema_context_json(used: frozenset[str] | None = None) -> str:
    """The pinned schema.org context as JSON; with ``used``, only the part plain blocks using
    those terms can reach: @vocab, the terms and the terms their definitions name (prefixes,
    type names), closed over. Plain blocks look terms up by exactly those strings (their IRIs
    are absolute, never compact), so they expand the same under both, and pyoxigraph processes
    a few terms per batch instead of 3,000."""
    context = jsonld.bundled_context(jsonld.SCHEMA_CONTEXT_URL)["@context"]
    if used is None:
        return json.dumps(context)
    keep = {k for k in context if k.startswith("@")}
    todo = [k for k in used if k in context]
    while todo:
        term = todo.pop()
        if term in keep:
            continue
        keep.add(term)
        definition = context[term]
        refs = definition.values() if isinstance(definition, dict) else (definition,)
        for ref in refs:
            if isinstance(ref, str):
                todo.extend(r for r in (ref, ref.split(":", 1)[0]) if r in context)
    return json.dumps({k: v for k, v in context.items() if k in keep})


_SCHEMA_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A relative IRI reference both processors resolve alike against the figure IRI (RFC 3986, dot
# segments, query and fragment included; tests/test_engines.py compares them on generated
# references) into a valid http(s) IRI: ASCII IRI characters and valid %-escapes, no ':' (a
# scheme, a compact IRI or a blank node), at most one '#', not '@'-first (a keyword's form),
# not '//'-first (an authority, which can be invalid: pyoxigraph drops it where pyld keeps it),
# not '.' then another character first (pyld drops that '.': ".gc" -> "gc", not RFC 3986), no
# '.' or '..' segment just before the query or fragment (pyld drops the '/' it leaves: "a/.?q"
# -> "a?q", not "a/?q").
_REL_CHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=@/?-]|%[0-9A-Fa-f]{2})"
_RELATIVE_IRI = re.compile(
    rf"(?!//|@|\.[^./]|(?:[^?#]*/)?\.\.?[?#]){_REL_CHAR}*(?:#{_REL_CHAR}*)?")


def _block_iri(value: Any, relative: bool = True) -> bool:
    """Is ``value`` an IRI of a plain block: absolute http(s) as compact_nquads takes it, or
    (where it is resolved against the base IRI) a relative reference that both processors
    resolve alike (``_RELATIVE_IRI``)?"""
    return type(value) is str and (compact_nquads._checked_iri(value) is not None or (
        relative and _RELATIVE_IRI.fullmatch(value) is not None))


@cache
def _schema_keywords() -> tuple[dict[str, str], dict[str, bool]]:
    """The schema.org context's aliases of @id/@type, and its terms whose strings are IRIs,
    each with whether a relative string is resolved against the base IRI (``@type: @id``; a
    ``@type: @vocab`` term reads it against ``@vocab`` or as a term instead)."""
    context = jsonld.bundled_context(jsonld.SCHEMA_CONTEXT_URL)["@context"]
    aliases = {k: v for k, v in context.items() if v in ("@id", "@type")}
    iri_terms = {k: v["@type"] == "@id" for k, v in context.items()
                 if isinstance(v, dict) and v.get("@type") in ("@id", "@vocab")}
    return {"@id": "@id", "@type": "@type", **aliases}, iri_terms


def _plain_block(node: dict[str, Any], used: set[str]) -> bool:
    """Is this block in the plain JSON-LD that pyoxigraph and pyld read alike? Nodes with
    absolute http(s) or simple relative @id (``_block_iri``; resolved against the figure IRI),
    @type names or absolute IRIs, schema.org terms (or plain names under its @vocab) holding
    text, IRIs where the term wants one, nested nodes. Not plain, and so left to pyld: numbers,
    booleans, nulls, other IRIs (``urn:``, compact, with spaces, '//'-first...), other keywords
    (@context, @graph, @list, @value...), compact-IRI keys, lone surrogates. (pyoxigraph drops
    an IRI that is invalid once resolved where pyld writes it, for one.) Adds the keys and type
    names to ``used``."""
    keywords, iri_terms = _schema_keywords()
    for key, value in node.items():
        used.add(key)
        keyword = keywords.get(key)
        if keyword == "@id":
            if not _block_iri(value):
                return False
            continue
        if keyword == "@type":
            for v in value if type(value) is list else (value,):
                if type(v) is str:
                    used.add(v)
                if type(v) is not str or not (_SCHEMA_TERM.fullmatch(v)
                                              or compact_nquads._checked_iri(v)):
                    return False
            continue
        if not _SCHEMA_TERM.fullmatch(key):
            return False
        relative = iri_terms.get(key)  # None: the term's strings are text
        for v in value if type(value) is list else (value,):
            if type(v) is str:
                if relative is not None:
                    if not _block_iri(v, relative):
                        return False
                elif not v.isprintable() and _SURROGATE.search(v):
                    return False
            elif type(v) is not dict or not _plain_block(v, used):
                return False
    return True


# Figures the direct engine handed to pyld, by what it left to pyld; tests read it.
DIRECT_FALLBACKS: dict[str, int] = defaultdict(int)


def build_batch_direct(figs: Sequence[Figure]) -> list[FigureGraph | None]:
    """The direct engine: front matter written from the context table, blocks parsed in one
    batch. None for a figure the direct path does not cover: the caller runs pyld on it."""
    out: list[FigureGraph | None] = []
    for fig, block in zip(figs, _block_nquads(figs), strict=True):
        try:
            if block is None:
                DIRECT_FALLBACKS["schema-jsonld block"] += 1
                out.append(None)
                continue
            g = b" " + compact_nquads._iri(fig.iri) + b" .\n"
            groups = compact_nquads.grouped(jsonld.figure_nodes(fig))
        except Exception:  # Unsupported, or figure_nodes fails: pyld gives the verdict
            DIRECT_FALLBACKS["front matter"] += 1
            out.append(None)
            continue
        lines = list(chain.from_iterable(groups.values()))
        pieces: list[bytes] = []
        if block:
            if b"_:" in block:  # blank nodes: the general canonical form, with skolem IRIs
                out.append(finish(fig, [*(line + g for line in lines),
                                        *block.splitlines(keepends=True)]))
                continue
            pieces = block.split(g)  # every line of the block ends with g, nothing else holds g
            pieces.pop()
            lines += pieces
        fg = _canonical(fig, g, lines)
        # the same triples by predicate (maybe repeated), and the block's: for validation
        fg.__dict__["_groups"] = (groups, pieces)
        out.append(fg)
    return out


def _canonical(fig: Figure, g: bytes, triples: list[bytes]) -> FigureGraph:
    """finish() for lines without blank nodes given as "s p o" (graph suffix g not yet added).

    Sorting the "s p o" texts sorts the lines "s p o" + g: a text is never a proper prefix of
    another followed by a byte below ' ' (terms end in '>' or '"' or a tag, controls are
    escaped), so the suffix never changes an order."""
    if not triples:
        return FigureGraph(fig, fig.iri, b"")
    triples.sort()
    unique = [triples[0], *compress(islice(triples, 1, None), map(ne, islice(triples, 1, None),
                                                                    triples))]
    unique.append(b"")
    data = g.join(unique)
    fg = FigureGraph(fig, fig.iri, data)
    # The sorted triples for validation, next in the worker; not pickled (__getstate__).
    unique.pop()
    fg.__dict__["_lines"] = unique
    fg.__dict__["_len"] = len(unique)
    return fg


def _one(fig: Figure, engine: str) -> FigureGraph | InputError:
    try:
        return build_one_pyld(fig) if engine == "pyld" else build_batch_oxigraph([fig])[0]
    except (RdfExportError, SyntaxError, ValueError) as err:
        return _fail(fig, err)
    except Exception as err:  # pyld raises its own JsonLdError tree, and more on odd input
        if type(err).__name__ != "JsonLdError" and not _raised_in_pyld(err):
            raise
        return _fail(fig, err)


def _raised_in_pyld(err: BaseException) -> bool:
    """pyld 3.3 raises TypeError on a keyword-like IRI value (``url: '@x'``): that is a bad
    figure, not a reason to stop the run; our own bugs (raised elsewhere) still propagate."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"{os.sep}pyld{os.sep}" in tb.tb_frame.f_code.co_filename


def build(figs: Sequence[Figure], engine: str = DEFAULT_ENGINE) -> list[FigureGraph | InputError]:
    """Graphs for a batch of figures; a figure that cannot be converted becomes an error item."""
    if engine == "direct":
        built = build_batch_direct(figs)
        return [fg if fg is not None else _one(fig, "pyld")
                for fig, fg in zip(figs, built, strict=True)]
    if engine == "oxigraph" and len(figs) > 1 and len({f.iri for f in figs}) == len(figs):
        try:
            return list(build_batch_oxigraph(figs))
        except (SyntaxError, ValueError):
            pass  # find the figure at fault one by one
    return [_one(fig, engine) for fig in figs]


@dataclass
class ExportStats:
    figures: int = 0
    failed: int = 0
    triples: int = 0
    repairs: int = 0
    example: str | None = None
    created: datetime | None = None

    def add(self, fg: FigureGraph) -> None:
        self.figures += 1
        self.triples += len(fg)
        self.repairs += len(fg.figure.repairs)
        if self.example is None:
            self.example = fg.iri


def void_quads(stats: ExportStats) -> list[ox.Quad]:
    """The VoID description of an export, in its own graph; WikiPathways' metadata.rq finds it."""
    p = vocab.PREFIXES
    g = ox.NamedNode(vocab.VOID_GRAPH)
    d = ox.NamedNode(vocab.DATASET)
    created = stats.created or datetime.now(timezone.utc)

    def q(pred: str, obj: ox.NamedNode | ox.Literal) -> ox.Quad:
        prefix, local = pred.split(":")
        return ox.Quad(d, ox.NamedNode(p[prefix] + local), obj, g)

    quads = [
        q("rdf:type", ox.NamedNode(p["void"] + "Dataset")),
        q("dcterms:title", ox.Literal("Pathway Figure OCR (PFOCR) figures", language="en")),
        q("dcterms:description", ox.Literal(
            "Pathway figures from PubMed Central papers with the genes, chemicals and diseases "
            "that OCR found in them, exported by rdfexport.", language="en")),
        q("dcterms:license", ox.NamedNode(vocab.CC0)),
        q("pav:createdOn", ox.Literal(created.astimezone(timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), datatype=ox.NamedNode(_XSD + "dateTime"))),
        q("pav:createdWith", ox.NamedNode(f"https://pypi.org/project/rdfexport/{__version__}/")),
        q("foaf:homepage", ox.NamedNode(vocab.SITE)),
        q("void:uriSpace", ox.Literal(vocab.FIGURE_BASE)),
        q("void:triples", ox.Literal(str(stats.triples), datatype=ox.NamedNode(_XSD + "integer"))),
        q("void:entities", ox.Literal(str(stats.figures),
                                      datatype=ox.NamedNode(_XSD + "integer"))),
    ]
    for ns in ("wp", "schema", "fabio", "dcterms", "pfocr"):
        quads.append(q("void:vocabulary", ox.NamedNode(p[ns])))
    if stats.example:
        quads.append(q("void:exampleResource", ox.NamedNode(stats.example)))
    return quads


def store_void(export: ExportStats) -> Callable[[Any], list[ox.Quad]]:
    """The VoID builder a store load takes (``load(..., void=)``): what the store holds after
    the load (its ``LoadStats`` totals), with the export's example and creation time."""

    def void(stats: Any) -> list[ox.Quad]:
        return void_quads(ExportStats(figures=stats.graphs_in_store,
                                      triples=stats.triples_in_store,
                                      example=export.example, created=export.created))

    return void
