"""What every store shares: the load algorithm (one named graph per figure, replaced by content
digest), load statistics, query results as pyoxigraph terms, and SPARQL text helpers.

A store keeps, in its own state graph, the digest and triple count of each figure graph it holds.
Loading skips a figure whose digest is unchanged, and writes a figure's state only after its
graph is complete, so a load that was interrupted and run again redoes exactly the unfinished
figures and never duplicates anything (graphs are sets; each figure's graph is replaced whole).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyoxigraph as ox

from rdfexport import vocab
from rdfexport.errors import UsageError

STATE_GRAPH = vocab.SITE + "rdfexport/load-state"
STATE_NS = vocab.SITE + "rdfexport#"
DIGEST = STATE_NS + "digest"
TRIPLES = STATE_NS + "triples"
STAGING_PREFIX = vocab.SITE + "rdfexport/staging/"
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")


class GraphLike(Protocol):
    """What a store needs from ``rdfexport.graph.FigureGraph``."""

    @property
    def iri(self) -> str: ...

    @property
    def quads(self) -> Sequence[ox.Quad]: ...

    @property
    def digest(self) -> str: ...

    def nquads(self) -> bytes: ...


def size(fg: GraphLike) -> int:
    """Triples in a figure graph, without parsing it when it can say (FigureGraph.__len__)."""
    try:
        return len(fg)  # type: ignore[arg-type]
    except TypeError:
        return len(fg.quads)


@dataclass
class LoadStats:
    figures: int = 0  # figure graphs seen in this load
    added: int = 0  # graphs new to the store
    replaced: int = 0  # graphs whose content changed
    skipped: int = 0  # graphs unchanged (same digest), not written
    triples: int = 0  # triples written in this load
    graphs_in_store: int = 0  # figure graphs in the store after the load
    triples_in_store: int = 0  # sum of their sizes
    void_written: bool = False
    seconds: float = 0.0
    pruned: int | None = None  # figure graphs dropped by ``prune`` (None: not asked to prune)

    def summary(self) -> str:
        pruned = "" if self.pruned is None else f", {self.pruned} figure graphs pruned"
        return (f"{self.figures} figures: {self.added} added, {self.replaced} replaced, "
                f"{self.skipped} unchanged{pruned}; {self.triples:,} triples written; store holds "
                f"{self.graphs_in_store} figure graphs, {self.triples_in_store:,} triples; "
                f"{self.seconds:.1f} s")


@dataclass
class QueryResult:
    """A SPARQL result: ``kind`` is "select" (variables, rows), "ask" (boolean) or "graph"
    (triples, for CONSTRUCT and DESCRIBE). Terms are pyoxigraph terms; unbound is None."""

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[tuple[ox.NamedNode | ox.BlankNode | ox.Literal | None, ...]] = field(
        default_factory=list)
    boolean: bool | None = None
    triples: list[ox.Triple] = field(default_factory=list)
    pages: int = 1  # requests it took (more than one when a server row cap was paged past)


Progress = Callable[[int, int], None]  # (figures done, triples written so far)
VoidBuilder = Callable[[LoadStats], Sequence[ox.Quad]]
# Called once the input is exhausted: the figure graph IRIs to keep besides those just loaded,
# or None to prune nothing this time.
Keep = Callable[[], Collection[str] | None]
PRUNED = "pruned"  # the digest a figure's state holds while its graph is being dropped


def staging_graph(iri: str) -> str:
    """Deterministic per target, so a rerun of an interrupted load overwrites its leftovers."""
    return STAGING_PREFIX + hashlib.sha256(iri.encode()).hexdigest()[:32]


def state_quads(iri: str, digest: str, triples: int) -> list[ox.Quad]:
    g, s = ox.NamedNode(STATE_GRAPH), ox.NamedNode(iri)
    return [ox.Quad(s, ox.NamedNode(DIGEST), ox.Literal(digest), g),
            ox.Quad(s, ox.NamedNode(TRIPLES), ox.Literal(str(triples), datatype=XSD_INTEGER), g)]


STATE_QUERY = f"""SELECT ?g ?d ?n WHERE {{ GRAPH <{STATE_GRAPH}> {{
  ?g <{DIGEST}> ?d . OPTIONAL {{ ?g <{TRIPLES}> ?n }} }} }}"""


class RecordedState:
    """The load state as a load consults it: is a figure's graph there with this digest, what
    was recorded for it, and the totals of the store. This one holds the whole state graph,
    read up front (``BaseStore.read_state``); a store that can look one figure up cheaply gives
    its own (``BaseStore.recorded_state``), so that a load costs what changed, not what the
    store holds."""

    def __init__(self, entries: dict[str, tuple[str, int]]) -> None:
        self.entries = entries

    def unchanged(self, iri: str, digest: str) -> bool:
        old = self.entries.get(iri)
        return old is not None and old[0] == digest

    def known(self, iri: str) -> bool:
        """Some state is recorded for this figure graph (it is replaced, not added)."""
        return iri in self.entries

    def record(self, iri: str, digest: str, triples: int) -> None:
        """A figure graph and its state were written."""
        self.entries[iri] = (digest, triples)

    def forget(self, iri: str) -> None:
        """A figure graph and its state were dropped."""
        self.entries.pop(iri, None)

    def totals(self) -> tuple[int, int]:
        """(figure graphs, their triples) in the store."""
        return len(self.entries), sum(n for _, n in self.entries.values())


class BaseStore:
    """The load algorithm; subclasses provide state reading and batch writing."""

    target: str = "store"
    batch_figures: int = 200
    batch_triples: int = 100_000

    # -- provided by subclasses -------------------------------------------------------------
    def read_state(self) -> dict[str, tuple[str, int]]:
        """Figure graph IRI -> (digest, triple count) of every figure graph the store holds."""
        raise NotImplementedError

    def recorded_state(self) -> RecordedState:
        """What a load consults; by default the whole state, read once."""
        return RecordedState(self.read_state())

    def write_batch(self, batch: list[tuple[GraphLike, bool]]) -> None:
        """Replace each graph (flag: it existed before) and record its state, state last."""
        raise NotImplementedError

    def replace_graph(self, iri: str, quads: Sequence[ox.Quad]) -> None:
        raise NotImplementedError

    def has_graph(self, iri: str) -> bool:
        raise NotImplementedError

    def loaded_graphs(self) -> set[str]:
        """Every figure graph IRI the state graph records (what rdfexport loaded)."""
        return set(self.read_state())

    def run_update(self, sparql: str, what: str) -> None:
        raise NotImplementedError

    def query(self, sparql: str) -> QueryResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):  # type: ignore[no-untyped-def]  # -> Self (3.11+)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared ------------------------------------------------------------------------------
    def load(self, graphs: Iterable[GraphLike], *, void: VoidBuilder | None = None,
             progress: Progress | None = None, force: bool = False,
             prune: Keep | None = None) -> LoadStats:
        """Load figure graphs; skip unchanged ones; rewrite the VoID graph if anything changed.

        ``void`` receives the statistics of the store after the load (figure graphs and triples
        it holds) and returns the VoID quads (``rdfexport.vocab.VOID_GRAPH``). ``force``
        rewrites every graph whatever its digest (for a store edited by other means).

        ``prune``: once every graph was loaded (never after an exception), figure graphs the
        state graph records that are neither in this load nor in what ``prune()`` returns are
        dropped with their state (:meth:`prune_graphs`); ``prune()`` returning None prunes
        nothing. Graphs the state graph does not record are never touched.
        """
        start = time.monotonic()
        state = self.recorded_state()
        stats = LoadStats()
        batch: list[tuple[GraphLike, bool]] = []
        batch_size = 0
        seen: set[str] = set()

        def flush() -> None:
            nonlocal batch, batch_size
            if batch:
                self.write_batch(batch)
                for fg, _ in batch:
                    state.record(fg.iri, fg.digest, size(fg))
                batch, batch_size = [], 0

        for fg in graphs:
            stats.figures += 1
            if fg.iri in seen:  # the same figure twice in one load: the first one wins
                stats.skipped += 1
                continue
            seen.add(fg.iri)
            if not force and state.unchanged(fg.iri, fg.digest):
                stats.skipped += 1
            else:
                existed = state.known(fg.iri)
                batch.append((fg, existed))
                n = size(fg)
                batch_size += n
                stats.triples += n
                if existed:
                    stats.replaced += 1
                else:
                    stats.added += 1
                if len(batch) >= self.batch_figures or batch_size >= self.batch_triples:
                    flush()
            if progress is not None:
                progress(stats.figures, stats.triples)
        flush()
        if prune is not None:
            keep = prune()
            if keep is not None:
                gone = sorted(self.loaded_graphs() - seen - set(keep))
                self.prune_graphs(gone)
                for iri in gone:
                    state.forget(iri)
                stats.pruned = len(gone)
        stats.graphs_in_store, stats.triples_in_store = state.totals()
        if void is not None and (stats.added or stats.replaced or stats.pruned
                                 or not self.has_graph(vocab.VOID_GRAPH)):
            self.replace_graph(vocab.VOID_GRAPH, list(void(stats)))
            stats.void_written = True
        stats.seconds = time.monotonic() - start
        return stats

    prune_batch = 500

    def prune_graphs(self, iris: Sequence[str]) -> None:
        """Drop figure graphs and their state, a batch of figures per SPARQL Update.

        Each update first marks the figures' digests as being pruned, then drops the graphs,
        then removes their state. A store that applies an update whole (Oxigraph) needs none
        of that order; one that might stop half-way leaves a state that is still right: the
        figure stays recorded (the next ``--prune`` drops it again; DROP SILENT of a missing
        graph is no error) and its digest matches no content (a figure that comes back is
        rewritten, never skipped).
        """
        for start in range(0, len(iris), self.prune_batch):
            chunk = iris[start:start + self.prune_batch]
            values = " ".join(f"<{i}>" for i in chunk)
            ops = [f"DELETE {{ GRAPH <{STATE_GRAPH}> {{ ?g <{DIGEST}> ?d }} }} "
                   f"INSERT {{ GRAPH <{STATE_GRAPH}> {{ ?g <{DIGEST}> \"{PRUNED}\" }} }} "
                   f"WHERE {{ VALUES ?g {{ {values} }} GRAPH <{STATE_GRAPH}> "
                   f"{{ ?g <{DIGEST}> ?d }} }}"]
            ops += [f"DROP SILENT GRAPH <{i}>" for i in chunk]
            ops.append(forget_state_sparql(chunk))
            self.run_update(" ;\n".join(ops), f"the update pruning {len(chunk)} figure graphs")


# -- SPARQL text -------------------------------------------------------------------------------


def forget_state_sparql(iris: Iterable[str]) -> str:
    """The update removing what the state graph records of these figure graphs."""
    values = " ".join(f"<{i}>" for i in iris)
    return (f"DELETE {{ GRAPH <{STATE_GRAPH}> {{ ?g ?p ?o }} }} WHERE {{ "
            f"VALUES ?g {{ {values} }} GRAPH <{STATE_GRAPH}> {{ ?g ?p ?o }} }}")


_PROLOGUE_ITEM = re.compile(
    r"""\s*(?:\#[^\n]*(?:\n|$)|PREFIX\s+[^\s:]*:\s*<[^>]*>|BASE\s*<[^>]*>)""",
    re.IGNORECASE)
_FORM = re.compile(r"\s*(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)
_UPDATE = re.compile(r"\s*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b",
                     re.IGNORECASE)


def split_prologue(sparql: str) -> tuple[str, str]:
    """(PREFIX/BASE declarations and comments, the rest of the query)."""
    pos = 0
    while True:
        m = _PROLOGUE_ITEM.match(sparql, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    return sparql[:pos], sparql[pos:]


def query_form(sparql: str) -> str:
    """"select", "ask" or "graph" (CONSTRUCT/DESCRIBE); a UsageError for anything else."""
    _, body = split_prologue(sparql)
    m = _FORM.match(body)
    if m:
        word = m.group(1).upper()
        return {"SELECT": "select", "ASK": "ask"}.get(word, "graph")
    fix = "pass a SELECT, ASK, CONSTRUCT or DESCRIBE query"
    if _UPDATE.match(body):
        raise UsageError("this is a SPARQL update; `rdfexport query` only reads", fix=fix)
    raise UsageError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE after "
                     "the PREFIX declarations", fix=fix)


_SOLUTION_MODIFIERS = re.compile(r"\b(ORDER\s+BY|LIMIT|OFFSET)\b", re.IGNORECASE)


def paged_query(sparql: str, variables: Sequence[str], page: int, offset: int) -> str:
    """The query wrapped so that a server row cap can be paged past, Virtuoso's way: the ordered
    query as a sub-select, LIMIT/OFFSET outside (an outer ORDER BY with a large OFFSET is refused
    by Virtuoso). A query without its own ORDER BY is ordered by all its variables so that pages
    are stable."""
    prologue, body = split_prologue(sparql)
    body = body.rstrip().rstrip(";")
    if not _SOLUTION_MODIFIERS.search(_strip_strings_and_iris(body)) and variables:
        body += "\nORDER BY " + " ".join(f"?{v}" for v in variables)
    return f"{prologue}\nSELECT * WHERE {{\n{{ {body}\n}} }}\nLIMIT {page} OFFSET {offset}"


def _strip_strings_and_iris(text: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|<[^>\s]*>|#[^\n]*', '""', text)
