"""The embedded store: pyoxigraph on disk (RocksDB) in a directory, or in memory.

Graph data goes in with ``bulk_extend`` (the fast path, about as fast as pyoxigraph's own
``bulk_load``); the per-figure state goes in afterwards with the transactional ``extend``, so a
figure counts as loaded only once all its triples are in.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph as ox

from rdfexport.errors import StoreError
from rdfexport.stores.base import (
    DIGEST,
    STATE_GRAPH,
    TRIPLES,
    BaseStore,
    GraphLike,
    QueryResult,
    RecordedState,
    query_form,
    size,
    state_quads,
)

DEFAULT_STORE_DIR = "rdfexport-store"


class _Chunks(io.RawIOBase):
    """The N-Quads of a batch as one stream, without joining them into one more big copy."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self._i = 0
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        view = memoryview(buffer).cast("B")
        n = 0
        while n < len(view) and self._i < len(self._chunks):
            chunk = self._chunks[self._i]
            take = min(len(view) - n, len(chunk) - self._pos)
            view[n:n + take] = chunk[self._pos:self._pos + take]
            n += take
            self._pos += take
            if self._pos == len(chunk):
                self._i, self._pos = self._i + 1, 0
        return n


class _LookedUp(RecordedState):
    """The load state looked up figure by figure in the store, never read whole.

    Reading the whole state graph costs two string look-ups in RocksDB per figure (its IRI and
    its digest are stored apart from the quad); at 100,000 figures that was seconds for a load
    that changes one figure. Here an unchanged figure costs one ``contains`` of its digest quad
    (no string is read back), a changed one a look-up of its state, and the totals are two
    SPARQL aggregates evaluated on the encoded terms.
    """

    def __init__(self, store: ox.Store) -> None:
        super().__init__({})
        self.store = store
        self.graph = ox.NamedNode(STATE_GRAPH)
        self.digest = ox.NamedNode(DIGEST)
        self.triples = ox.NamedNode(TRIPLES)

    def unchanged(self, iri: str, digest: str) -> bool:
        return ox.Quad(ox.NamedNode(iri), self.digest, ox.Literal(digest), self.graph) in self.store

    def get(self, iri: str) -> tuple[str, int] | None:
        digest, triples = None, 0
        for q in self.store.quads_for_pattern(ox.NamedNode(iri), None, None, self.graph):
            if q.predicate == self.digest:
                digest = q.object.value
            elif q.predicate == self.triples:
                triples = int(q.object.value)
        return None if digest is None else (digest, triples)

    def record(self, iri: str, digest: str, triples: int) -> None:
        pass  # write_batch recorded it in the store

    def totals(self) -> tuple[int, int]:
        def one(sparql: str) -> int:
            for row in self.store.query(sparql):
                value = row[0]
                return int(value.value) if value is not None else 0
            return 0

        return (one(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{STATE_GRAPH}> "
                    f"{{ ?g <{DIGEST}> ?d }} }}"),
                one(f"SELECT (SUM(?n) AS ?t) WHERE {{ GRAPH <{STATE_GRAPH}> "
                    f"{{ ?g <{TRIPLES}> ?n }} }}"))


class EmbeddedStore(BaseStore):
    # Few, large bulk loads: each call has a fixed cost (~5 calls per 2.4M triples measured
    # fastest); a batch holds at most ~120 MB of N-Quads.
    batch_figures = 20_000
    batch_triples = 500_000
    # A batch smaller than this goes in with one transactional ``extend``. A ``bulk_load`` writes
    # a new level-0 file per index (and first flushes the memtable holding the removed graphs,
    # more level-0 files): for a few changed figures that is ~20 files, each of which RocksDB
    # must compact into the whole index (Oxigraph compacts level 0 from 2 files on), and a short
    # run never lives long enough for that compaction to finish, so files pile up until a write
    # or the flush on close waits for one (seconds at 10,000 figures, more at 100,000).
    small_batch = 50_000

    def __init__(self, path: str | Path | None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self.target = f"embedded store {self.path}" if self.path else "in-memory store"
        try:
            if self.path is None:
                self.store = ox.Store()
            elif read_only:
                if not (self.path / "CURRENT").exists():
                    raise StoreError(f"{self.path} is not an rdfexport store (no data there)",
                                     fix="load data first with `rdfexport load --store "
                                     f"{self.path} ...`, or pass the right --store")
                self.store = ox.Store.read_only(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self.store = ox.Store(str(self.path))
        except OSError as err:
            text = str(err)
            if "lock" in text.lower():
                raise StoreError(
                    f"the store {self.path} is in use by another process",
                    fix="wait for the other rdfexport/oxigraph process to finish, or use another "
                    "--store directory") from None
            raise StoreError(f"cannot open the store {self.path}: {text}",
                             fix="check that the directory is writable and is an rdfexport "
                             "store") from None

    # -- state -------------------------------------------------------------------------------
    def read_state(self) -> dict[str, tuple[str, int]]:
        g = ox.NamedNode(STATE_GRAPH)
        digests: dict[str, str] = {}
        counts: dict[str, int] = {}
        for q in self.store.quads_for_pattern(None, ox.NamedNode(DIGEST), None, g):
            digests[q.subject.value] = q.object.value
        for q in self.store.quads_for_pattern(None, ox.NamedNode(TRIPLES), None, g):
            counts[q.subject.value] = int(q.object.value)
        return {iri: (d, counts.get(iri, 0)) for iri, d in digests.items()}

    def recorded_state(self) -> RecordedState:
        return _LookedUp(self.store)

    def _forget(self, iri: str) -> None:
        # One transaction: a state half removed (a digest gone, its count left) cannot happen.
        self.store.update(f"DELETE WHERE {{ GRAPH <{STATE_GRAPH}> {{ <{iri}> ?p ?o }} }}")

    # -- writing -----------------------------------------------------------------------------
    def write_batch(self, batch: list[tuple[GraphLike, bool]]) -> None:
        state: list[ox.Quad] = []
        for fg, existed in batch:
            node = ox.NamedNode(fg.iri)
            if existed:
                self._forget(fg.iri)  # state first: an interrupted replacement is redone
            if existed or self.store.contains_named_graph(node):  # also a half-loaded leftover
                self.store.remove_graph(node)
            state.extend(state_quads(fg.iri, fg.digest, size(fg)))
        if sum(size(fg) for fg, _ in batch) < self.small_batch:
            # One transaction, graphs and their state together, into the memtable.
            self.store.extend([q for fg, _ in batch for q in fg.quads] + state)
            return
        data = [fg.nquads() for fg, _ in batch]
        self.store.bulk_load(io.BufferedReader(_Chunks(data), 1 << 20),
                             format=ox.RdfFormat.N_QUADS)
        self.store.extend(state)

    def replace_graph(self, iri: str, quads: Sequence[ox.Quad]) -> None:
        node = ox.NamedNode(iri)
        if self.store.contains_named_graph(node):
            self.store.remove_graph(node)
        self.store.extend(quads)

    def has_graph(self, iri: str) -> bool:
        return bool(self.store.contains_named_graph(ox.NamedNode(iri)))

    # -- reading -----------------------------------------------------------------------------
    def query(self, sparql: str) -> QueryResult:
        kind = query_form(sparql)
        try:
            result = self.store.query(sparql, use_default_graph_as_union=True)
        except SyntaxError as err:
            from rdfexport.errors import UsageError

            raise UsageError(f"SPARQL syntax error: {err}",
                             fix="fix the query (see the bundled examples: rdfexport query "
                             "--list-examples)") from None
        if kind == "ask":
            return QueryResult("ask", boolean=bool(result))
        if kind == "graph":
            return QueryResult("graph", triples=list(result))
        variables = [v.value for v in result.variables]
        rows = [tuple(sol[v] for v in variables) for sol in result]
        return QueryResult("select", variables=variables, rows=rows)

    def close(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            if self.path is not None and not self.read_only:
                store.flush()
            del self.store
