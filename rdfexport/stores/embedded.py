"""The embedded store: pyoxigraph on disk (RocksDB) in a directory, or in memory.

Large batches of graph data go in with ``bulk_load`` (as fast as pyoxigraph's own bulk loader);
the per-figure state goes in afterwards with the transactional ``extend``, so a figure counts as
loaded only once all its triples are in. Small batches (a few changed figures) go in with one
``extend``, graphs and state together. A reload does not read the state graph whole: digests
are taken from what the last complete load kept beside the store (:class:`_Known`), or looked
up one by one (:class:`_LookedUp`).
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from rdfexport.errors import StoreError
from rdfexport.stores.base import (
    DIGEST,
    STATE_GRAPH,
    TRIPLES,
    BaseStore,
    GraphLike,
    LoadStats,
    QueryResult,
    RecordedState,
    forget_state_sparql,
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
    its digest are stored apart from the quad): 3 to 9 s at 100,000 figures, for a load that
    changes one. Here a figure's digest is first taken from ``digests``, what an earlier
    complete load in this store left (:class:`_Known`); any other figure costs one ``contains``
    of its digest quad (no string is read back). The totals are two SPARQL aggregates,
    evaluated on the encoded terms. ``digests`` ends up holding the digest of every figure the
    load saw or wrote.
    """

    def __init__(self, store: ox.Store, digests: dict[str, str] | None = None) -> None:
        super().__init__({})
        self.store = store
        self.digests = digests if digests is not None else {}
        self.graph = ox.NamedNode(STATE_GRAPH)
        self.digest = ox.NamedNode(DIGEST)

    def unchanged(self, iri: str, digest: str) -> bool:
        known = self.digests.get(iri)
        if known is not None:
            return known == digest
        if ox.Quad(ox.NamedNode(iri), self.digest, ox.Literal(digest), self.graph) in self.store:
            self.digests[iri] = digest
            return True
        return False

    def known(self, iri: str) -> bool:
        if iri in self.digests:
            return True
        for _ in self.store.quads_for_pattern(ox.NamedNode(iri), self.digest, None, self.graph):
            return True
        return False

    def record(self, iri: str, digest: str, triples: int) -> None:
        self.digests[iri] = digest  # write_batch recorded it in the store

    def forget(self, iri: str) -> None:
        self.digests.pop(iri, None)  # prune_graphs removed it from the store

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


class _Known:
    """The figure digests a complete load left in an on-disk store, kept beside it for the next
    load (``rdfexport-known-digests`` in the store directory), so that a reload does not look
    up 100,000 unchanged figures one by one.

    The store stays the record: this file is a copy, used only while nothing else can have
    written to the store since. It is written after the store is closed, together with a
    fingerprint of the store's files (names, sizes, modification times; RocksDB's info logs
    excepted), and removed as soon as the store is opened for writing again, before anything
    is written. So a load that is interrupted, a load by another program or version (any
    read-write opening of a RocksDB store changes its files), or a copy that changed the
    modification times leaves no usable copy, and the next load looks figures up in the
    store. While the store is open, a lock file keeps other rdfexport processes out until the
    copy is written.
    """

    NAME = "rdfexport-known-digests"
    LOCK = "rdfexport-known-digests.lock"
    MAGIC = b"rdfexport known digests 1\n"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = path / self.NAME
        self._lock: Any = None

    def lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: RocksDB's own lock still keeps writers apart
            return
        handle = open(self.path / self.LOCK, "a+b")  # noqa: SIM115  (held until release)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StoreError(f"the store {self.path} is in use by another rdfexport process",
                             fix="wait for it to finish, or use another --store directory"
                             ) from None
        self._lock = handle

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def fingerprint(self) -> bytes:
        entries = []
        with os.scandir(self.path) as it:
            for e in it:
                if e.name.startswith(("LOG", "rdfexport-")):
                    continue
                st = e.stat(follow_symlinks=False)
                entries.append(f"{e.name}\t{st.st_size}\t{st.st_mtime_ns}")
        return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest().encode()

    def read(self) -> dict[str, str] | None:
        """The digests, if the store's files are exactly as they were when they were written."""
        try:
            data = self.file.read_bytes()
        except OSError:
            return None
        try:
            magic, fingerprint, head, body = data.split(b"\n", 3)
            count, crc = (int(x) for x in head.split())
            if (magic + b"\n" != self.MAGIC or fingerprint != self.fingerprint()
                    or zlib.crc32(body) != crc):
                return None
            digests, iris = body[:64 * count].decode("ascii"), body[64 * count:].decode()
            names = iris.split("\n") if count else []
        except (ValueError, UnicodeDecodeError):
            return None
        if len(names) != count:
            return None
        return dict(zip(names, (digests[i:i + 64] for i in range(0, 64 * count, 64)),
                        strict=True))

    def remove(self) -> None:
        self.file.unlink(missing_ok=True)

    def write(self, digests: dict[str, str]) -> None:
        """After the store is closed: the digests and the fingerprint of the files as they are."""
        if any(len(d) != 64 or "\n" in i for i, d in digests.items()):
            return  # not sha256 hex digests of plain IRIs: keep no copy
        body = ("".join(digests.values()) + "\n".join(digests)).encode()
        head = f"{len(digests)} {zlib.crc32(body)}".encode()
        tmp = self.file.with_name(self.NAME + ".tmp")
        try:
            tmp.write_bytes(b"".join([self.MAGIC, self.fingerprint(), b"\n", head, b"\n", body]))
            os.replace(tmp, self.file)
        except OSError:  # only a copy: the next load looks the digests up in the store
            tmp.unlink(missing_ok=True)


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
        self.known: _Known | None = None
        self._digests: dict[str, str] | None = None  # exact for the figures it holds
        self._state: _LookedUp | None = None
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
                self.known = _Known(self.path)
                self.known.lock()
                digests = self.known.read()  # before RocksDB's opening changes the files
                self.store = ox.Store(str(self.path))
                self.known.remove()  # before anything is written
                self._digests = digests
        except OSError as err:
            if self.known is not None:
                self.known.release()
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

    def loaded_graphs(self) -> set[str]:
        # The subjects of the state graph (one string look-up per figure; only for --prune).
        return {q.subject.value for q in self.store.quads_for_pattern(
            None, ox.NamedNode(DIGEST), None, ox.NamedNode(STATE_GRAPH))}

    def run_update(self, sparql: str, what: str) -> None:
        self.store.update(sparql)  # one transaction: all of it or nothing

    def recorded_state(self) -> RecordedState:
        # Taken, not shared: if this load does not complete, nothing is known for the next one.
        digests, self._digests = self._digests, None
        self._state = _LookedUp(self.store, digests)
        return self._state

    def load(self, graphs: Iterable[GraphLike], **kwargs: Any) -> LoadStats:
        stats = super().load(graphs, **kwargs)
        if self._state is not None:  # complete: its digests are exactly the store's
            self._digests, self._state = self._state.digests, None
        return stats

    def _forget(self, iri: str) -> None:
        # One transaction: a state half removed (a digest gone, its count left) cannot happen.
        self.store.update(forget_state_sparql([iri]))

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
        try:
            store = getattr(self, "store", None)
            if store is None:
                return
            try:
                if self.path is not None and not self.read_only:
                    store.flush()
            finally:
                self._state = None
                alone = sys.getrefcount(store) <= 3  # here, self.store, the call's argument
                del self.store, store  # alone: RocksDB closes, its files stop changing
            if self.known is not None and self._digests is not None and alone:
                self.known.write(self._digests)
        finally:
            if self.known is not None:
                self.known.release()
