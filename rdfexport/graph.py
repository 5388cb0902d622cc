"""JSON-LD documents -> the quads of each figure, in the figure's own named graph; VoID.

Two engines read the same documents. ``pyld`` is the JSON-LD processor of record; ``oxigraph``
feeds many figures at once to pyoxigraph's Rust JSON-LD parser, which is ~100x faster, and a test
proves both give isomorphic graphs on the whole sample (tests/test_engines.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

import pyoxigraph as ox

from rdfexport import __version__, jsonld, vocab
from rdfexport.errors import InputError, RdfExportError
from rdfexport.records import Figure

ENGINES = ("oxigraph", "pyld")
_XSD = vocab.PREFIXES["xsd"]


@dataclass(frozen=True)
class FigureGraph:
    """One figure's triples as canonical N-Quads (sorted, no blank nodes) in graph ``iri``."""

    figure: Figure
    iri: str
    data: bytes = field(repr=False)
    digest: str

    def nquads(self) -> bytes:
        return self.data

    @cached_property
    def quads(self) -> tuple[ox.Quad, ...]:
        return tuple(ox.parse(self.data, format=ox.RdfFormat.N_QUADS))

    @property
    def triples(self) -> list[ox.Triple]:
        return [q.triple for q in self.quads]

    def __len__(self) -> int:
        return self.data.count(b"\n")

    def rdflib_graph(self):  # -> rdflib.Graph, imported lazily: rdflib is slow to import
        import rdflib

        g = rdflib.Graph()
        g.parse(data=ox.serialize(self.triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
        return g


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
    if any(line.startswith(b"_:") or _BNODE_OBJECT.search(line) for line in text):
        text = _skolemize(fig, text)
    data = b"".join(text)
    return FigureGraph(fig, fig.iri, data, hashlib.sha256(data).hexdigest())


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
    text = "".join(jsonld.to_nquads(d) for d in docs if d is not None)
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


def build(figs: Sequence[Figure], engine: str = "oxigraph") -> list[FigureGraph | InputError]:
    """Graphs for a batch of figures; a figure that cannot be converted becomes an error item."""
    if engine == "oxigraph" and len(figs) > 1 and len({f.iri for f in figs}) == len(figs):
        try:
            return list(build_batch_oxigraph(figs))
        except (SyntaxError, ValueError):
            pass  # find the figure at fault one by one
    out: list[FigureGraph | InputError] = []
    for fig in figs:
        try:
            out.append(build_one_pyld(fig) if engine == "pyld" else build_batch_oxigraph([fig])[0])
        except (RdfExportError, SyntaxError, ValueError) as err:
            out.append(_fail(fig, err))
        except Exception as err:  # pyld raises its own JsonLdError tree
            if type(err).__name__ != "JsonLdError":
                raise
            out.append(_fail(fig, err))
    return out


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
