"""Orchestration: paths in, figure graphs out, one item per figure file, errors as items.

Errors are items rather than exceptions so that one bad file never stops a batch: the caller
reports it, goes on, and sets the exit status at the end.

Scaling (docs/SCALING.md):

- ``jobs``: worker processes read, build (and validate) batches of figures; the parent only
  receives finished graphs and yields them in input order, so the output of ``--jobs N`` is
  byte-identical to ``--jobs 1``. At most ``2 * jobs`` batches are in flight: memory stays
  bounded however large the corpus.
- ``shard``: ``(k, n)`` keeps the figure files whose *file name* hashes to ``k - 1`` modulo
  ``n`` (:func:`shard_of`), the same on every machine whatever the checkout's location.
- ``cache`` + ``incremental``: a folder holding every figure's N-Quads in ``part-NNN.nq`` packs
  (figures spread over :data:`PARTS` packs by a hash of the file name) and an index of what each
  figure was built from (size, mtime and SHA-1 of the figure file and its ``_data`` tables, the
  site's organism pages, the exporter version and options). An unchanged figure is not read
  again: its graph (and validation findings) come from the cache, and only the packs holding a
  changed figure are rewritten. The packs concatenate to the export without its VoID graph.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import shutil
import sys
import tempfile
import time
import weakref
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from rdfexport import __version__, graph
from rdfexport.errors import InputError, UsageError
from rdfexport.graph import ExportStats, FigureGraph
from rdfexport.records import Figure, load_figure
from rdfexport.sources import DATA_DIR, ORGANISMS_DIR, TABLE_KINDS, Limits, SourceFile, discover

PARTS = 256
INDEX_NAME = ".rdfexport-index.pickle"


# shacl-rust first: the default (same results as pySHACL, the engine of record; ~17x faster).
SHACL_ENGINES = ("shacl-rust", "pyshacl")
DEFAULT_SHACL_ENGINE = SHACL_ENGINES[0]


@dataclass(frozen=True)
class ExportOptions:
    """How to export; frozen so that one value describes a whole run."""

    engine: str = graph.DEFAULT_ENGINE
    limits: Limits = field(default_factory=Limits)
    batch_size: int = 200
    jobs: int = 1  # worker processes; 1 = in this process; 0 = default_jobs()
    shard: tuple[int, int] | None = None  # (k, n), 1 <= k <= n
    validate: bool = False  # validate in the workers; findings go to build_graphs(findings=)
    shapes: Path | None = None
    shacl_engine: str = DEFAULT_SHACL_ENGINE
    cache: Path | None = None  # folder of N-Quads packs + index (see the module docstring)
    incremental: bool = False  # reuse what the cache holds for unchanged figures
    cache_data: bool = True  # keep N-Quads packs; False: index only (load skips by digest)
    digests: bool = True  # each graph's digest made in the worker (stores and the cache use it)
    progress: bool = False  # a progress bar on standard error (only when it is a terminal)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``1 <= K <= N``."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"bad shard {text!r}", fix="write K/N, e.g. --shard 2/8") from None
    if not 1 <= k <= n:
        raise UsageError(f"bad shard {text!r}: K must be between 1 and N",
                         fix="shards are numbered 1/N ... N/N")
    return k, n


def shard_of(path: Path, n: int) -> int:
    """The 1-based shard of a figure file among N: a hash of its file name, not its folder."""
    return int.from_bytes(hashlib.sha1(path.name.encode("utf-8")).digest()[:8], "big") % n + 1


def part_of(path: str | os.PathLike[str]) -> int:
    """The pack (``part-NNN.nq``) of a figure file in a cache: a hash of its file name."""
    return zlib.crc32(os.path.basename(path).encode("utf-8")) % PARTS


# -- reading ---------------------------------------------------------------------------------


def read_figures(paths: Iterable[str | os.PathLike[str]],
                 options: ExportOptions = ExportOptions(),
                 stats: ExportStats | None = None) -> Iterator[Figure | InputError]:
    """Clean records of every figure file under PATHS; a figid seen twice is an error."""
    seen: dict[str, str] = {}
    newest = 0.0
    for item in _sources(paths, options):
        if isinstance(item, InputError):
            yield item
            continue
        try:
            fig = load_figure(item, options.limits)
        except InputError as err:
            yield err
            continue
        newest = max(newest, fig.mtime)
        if fig.figid in seen:
            yield _duplicate(fig.figid, fig.path, seen[fig.figid], fig.lines.get("figid"))
            continue
        seen[fig.figid] = fig.path
        yield fig
    if stats is not None:
        stats.created = created_time(newest)


def _sources(paths: Iterable[str | os.PathLike[str]],
             options: ExportOptions) -> Iterator[SourceFile | InputError]:
    for item in discover(paths):
        if (options.shard is None or isinstance(item, InputError)
                or shard_of(item.path, options.shard[1]) == options.shard[0]):
            yield item


def _duplicate(figid: str, path: str, first: str, line: int | None) -> InputError:
    return InputError(f"figid {figid!r} was already exported from {first}", path=path,
                      line=line, fix="export each figure once: give one version of the site")


def _mtime(source: SourceFile) -> float:
    try:
        return source.path.stat().st_mtime
    except OSError:
        return 0.0


def created_time(newest_input: float) -> datetime:
    """``SOURCE_DATE_EPOCH`` if set, else the newest input's mtime: reruns are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    if newest_input:
        return datetime.fromtimestamp(int(newest_input), tz=timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


# -- building, in this process or in workers ---------------------------------------------------


@dataclass
class _Built:
    """What a worker sends back for one figure file."""

    source: SourceFile
    item: FigureGraph | InputError
    findings: list[Any] | None = None
    # (path, size, mtime_ns, hash); size -1: absent
    deps: tuple[tuple[str, int, int, int], ...] = ()
    mtime: float = 0.0


_WORKER: dict[str, Any] = {}


def collect_less() -> None:
    """Run Python's cycle collector less often, for processes this package owns (workers, the
    CLI). A batch allocates ~10^6 short-lived, acyclic objects; the default thresholds ran the
    collector often enough to cost ~8 % of a worker's CPU (2.53 -> 2.33 ms a figure on 2,000
    generated ones) and ~6 % of the parent's (perf, 100k figures)."""
    gc.set_threshold(50_000, 20, 100)


def _keep_heap() -> None:
    """Keep freed memory in this process for the next batch (glibc only; elsewhere nothing).

    A batch builds and frees ~100 MB, and glibc gave most of it back to the kernel and faulted
    it in again for the next batch (large texts went to mmap, the top of the heap was trimmed):
    ~40 page faults and 0.12-0.15 ms of system time a figure; 2-3 and 0.05-0.07 ms with
    allocations up to 32 MB made on the heap and up to 64 MB of free space kept at its top."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD (its maximum on 64-bit)
    mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD


def _worker_init(options: ExportOptions, pooled: bool = False, spill: str | None = None) -> None:
    if pooled:
        gc.freeze()  # what the worker inherited is never traversed again
        collect_less()
        _keep_heap()
    _WORKER.clear()
    _WORKER["options"] = options
    _WORKER["pooled"] = pooled
    _WORKER["spill"] = spill
    if pooled and options.validate:
        # Made now, while the parent lists and checks the files: ~0.7 s of imports and shapes
        # analysis off the path of an incremental run that rebuilds a few figures.
        try:
            _validator()
        except Exception as err:  # raised with the first batch, where it reaches the user
            _WORKER["validator_error"] = err


def _validator() -> Any:
    """The validator of this worker (or of the process, without workers), made once."""
    options: ExportOptions = _WORKER["options"]
    if "validator_error" in _WORKER:
        raise _WORKER["validator_error"]
    if not options.validate:
        return None
    if "validator" not in _WORKER:
        from rdfexport.validate import Validator

        _WORKER["validator"] = Validator(options.shapes, options.shacl_engine)
    return _WORKER["validator"]


def _signature(path: Path) -> tuple[str, int, int, int]:
    """(path, size, mtime_ns, 64-bit BLAKE2b of the content); size -1 when the file is absent."""
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, 0, 0)
    digest = int.from_bytes(hashlib.blake2b(path.read_bytes(), digest_size=8).digest(), "big")
    return (str(path), st.st_size, st.st_mtime_ns, digest)


def _deps_of(source: SourceFile, figid: str) -> tuple[tuple[str, int, int, int], ...]:
    deps = [_signature(source.path)]
    if source.site is not None:
        for kind in TABLE_KINDS:
            deps.append(_signature(source.site.root / DATA_DIR / f"{figid}-{kind}.tsv"))
    return tuple(deps)


def _work(sources: list[SourceFile]) -> list[_Built]:
    """Read, build and (optionally) validate one batch of figure files."""
    options: ExportOptions = _WORKER["options"]
    validator = _validator()
    out: list[_Built] = []
    figs: list[Figure] = []
    for source in sources:
        try:
            fig = load_figure(source, options.limits)
        except InputError as err:
            out.append(_Built(source, err))
            continue
        figs.append(fig)
        out.append(_Built(source, fig))  # type: ignore[arg-type]
    built = iter(graph.build(figs, options.engine)) if figs else iter(())
    for b in out:
        if isinstance(b.item, Figure):
            fig = b.item
            b.item = next(built)
            if options.cache is not None:
                b.deps = _deps_of(b.source, fig.figid)
            b.mtime = fig.mtime
        else:
            b.mtime = _mtime(b.source)
    if validator is not None:
        done = [b for b in out if isinstance(b.item, FigureGraph)]
        if validator.batches:
            findings = validator.validate_batch([b.item for b in done])  # type: ignore[misc]
        else:
            findings = [validator.validate(b.item) for b in done]  # type: ignore[arg-type]
        for b, found in zip(done, findings, strict=True):
            b.findings = found
    digests = options.digests or options.cache is not None
    pooled = _WORKER.get("pooled")
    for b in out:
        if isinstance(b.item, FigureGraph):
            if digests:
                b.item.digest  # noqa: B018 - made here, not in the parent
            if pooled:
                b.item = b.item.with_figure(FigureSummary.of(b.item.figure))
    return out


def _work_spilled(sources: list[SourceFile]) -> tuple[list[_Built], str | None]:
    """``_work`` in a worker process: the batch's N-Quads go to a spill file, the graphs to the
    parent as :class:`SpilledGraph` (see there why)."""
    out = _work(sources)
    folder = _WORKER.get("spill")
    graphs = [b for b in out if isinstance(b.item, FigureGraph)]
    if folder is None or not graphs:
        return out, None
    path: str | None = None
    try:
        fd, path = tempfile.mkstemp(dir=folder, suffix=".nq")
        with os.fdopen(fd, "wb") as fh:
            fh.writelines(b.item.data for b in graphs)  # type: ignore[union-attr]
    except OSError:  # a full or missing temporary folder: the pipe still works
        if path is not None:
            Path(path).unlink(missing_ok=True)
        return out, None
    offset = 0
    for b in graphs:
        length = len(b.item.data)  # type: ignore[union-attr]
        b.item = SpilledGraph(b.item, offset, length)  # type: ignore[arg-type]
        offset += length
    return out, path


class _InProcess:
    def __init__(self, options: ExportOptions) -> None:
        _worker_init(options)

    def submit(self, batch: list[SourceFile]) -> Any:
        return _work(batch)

    @staticmethod
    def result(handle: Any) -> list[_Built]:
        return handle

    def close(self) -> None:
        pass


def _start_method() -> str:
    """``fork`` only while this process has one thread: a child forked from a process where
    another thread holds a lock inherits the lock held forever (shacl-rust's thread pool, once
    it has run here, hung every worker). Otherwise a fresh ``forkserver`` process forks them."""
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    try:
        single = len(os.listdir("/proc/self/task")) == 1
    except OSError:
        single = False
    if "fork" in methods and single:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


class _Pool:
    """Worker processes (concurrent.futures): multiprocessing.Pool's worker-handler thread
    also waits on the result pipe, so it spun while each batch's results (~9 MB) streamed in:
    1.5 s of the parent's CPU per 10,000 figures, and GIL contention with the thread reading
    them. The executor's one manager thread waits on that pipe and reads it."""

    def __init__(self, options: ExportOptions, jobs: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        _remove_stale_spills()
        self.spill = tempfile.mkdtemp(prefix=f"{_SPILL_PREFIX}{os.getpid()}-")
        self.executor = ProcessPoolExecutor(jobs, mp.get_context(_start_method()),
                                            initializer=_worker_init,
                                            initargs=(options, True, self.spill))
        self.executor.submit(int)  # forks the workers now, while this process is small

    def submit(self, batch: list[SourceFile]) -> Any:
        return self.executor.submit(_work_spilled, batch), batch

    @staticmethod
    def result(handle: Any) -> list[_Built]:
        from concurrent.futures.process import BrokenProcessPool

        future, batch = handle
        try:
            out, path = future.result()
            if path is not None:
                spill = _SpillFile(path)
                for b in out:
                    if isinstance(b.item, SpilledGraph):
                        b.item.file = spill
            return out  # type: ignore[no-any-return]
        except BrokenProcessPool:
            raise InputError(
                f"a worker process died while converting this file or one of the "
                f"{len(batch) - 1} after it (the last: {batch[-1].path})", path=batch[0].path,
                fix="run again with --jobs 1 to find the file, and report it: a crash is a "
                    "bug") from None

    def close(self) -> None:
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a batch in progress is not waited for
            process.terminate()
        for process in processes:
            process.join()
        shutil.rmtree(self.spill, ignore_errors=True)  # batches not received (opened ones live on)


_SPILL_PREFIX = "rdfexport-spill-"


def _remove_stale_spills() -> None:
    """Spill folders of runs that were killed (``rdfexport-spill-PID-*`` whose PID is gone)."""
    from rdfexport.formats import remove_leftovers

    remove_leftovers(Path(tempfile.gettempdir()).glob(f"{_SPILL_PREFIX}*"), _SPILL_PREFIX)


class _SpillFile:
    """A batch's spill file, open and already unlinked: it lives as long as a graph in it."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        os.unlink(path)
        weakref.finalize(self, os.close, self.fd)

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        while len(data) < length:  # a short read; never seen on a regular file
            more = os.pread(self.fd, length - len(data), offset + len(data))
            if not more:
                raise OSError(f"spill file ended {length - len(data)} bytes early")
            data += more
        return data


def _built_in_order(batches: Iterable[list[SourceFile]], options: ExportOptions,
                    jobs: int, pool: _Pool | None = None) -> Iterator[list[_Built]]:
    """Results of every batch in submission order, with at most ``2 * jobs`` in flight."""
    runner: _InProcess | _Pool
    if jobs <= 1:
        if pool is not None:
            pool.close()
        runner = _InProcess(options)
    else:
        runner = pool or _Pool(options, jobs)
    pending: deque[Any] = deque()
    try:
        for batch in batches:
            pending.append(runner.submit(batch))
            while len(pending) >= 2 * jobs:
                yield runner.result(pending.popleft())
        while pending:
            yield runner.result(pending.popleft())
    finally:
        runner.close()


# -- the incremental cache ---------------------------------------------------------------------


@dataclass
class _Entry:
    figid: str
    iri: str
    digest: str
    triples: int
    repairs: tuple[Any, ...]
    findings: list[Any] | None
    deps: tuple[tuple[str, int, int, int], ...]
    site: str | None
    mtime: float
    part: int = 0
    offset: int = 0
    length: int = 0
    row: int | None = None  # deps is None: they are the stored ones of this row


class _Lazy(Sequence):  # type: ignore[type-arg]
    """A pickled tuple (repairs, findings) from the index, unpickled only when read. Findings
    carry their severities (one byte each) unpickled: what ``convert`` counts of them (100,000
    cached figures: 1.9 s of unpickling saved on every incremental run)."""

    def __init__(self, count: int, blob: bytes, severities: bytes | None = None) -> None:
        self.count, self.blob, self.severities = count, blob, severities
        self._items: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if self._items is None:
            self._items = tuple(pickle.loads(self.blob))
        return self._items[i]


def _packed(items: Any) -> tuple[int, bytes, bytes] | None:
    if not items:
        return None
    if isinstance(items, _Lazy) and items.severities is not None:
        return (items.count, items.blob, items.severities)
    items = tuple(items)
    return (len(items), pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL),
            bytes(int(getattr(x, "severity", 0)) for x in items))


def _unpacked(packed: tuple[int, bytes] | tuple[int, bytes, bytes] | None) -> Any:
    return _Lazy(*packed) if packed else ()


@dataclass(frozen=True)
class FigureSummary:
    """Stands in for the record of a figure built in a worker process or taken from the cache:
    what the exporter reads of it. The whole record (genes, fields, ...) would cost the parent
    more to receive than the figure's triples; ``records.load_figure`` reads it when needed."""

    figid: str
    path: str
    iri: str
    repairs: tuple[Any, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, fig: Figure) -> FigureSummary:
        line = fig.lines.get("figid")
        return cls(fig.figid, fig.path, fig.iri, tuple(fig.repairs),
                   {"figid": line} if line is not None else {})


class _LazyGraph:
    """What a figure graph offers when its N-Quads (``data``) are read only when asked for."""

    iri: str
    _n: int

    @property
    def data(self) -> bytes:
        raise NotImplementedError

    def nquads(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return self._n

    @property
    def quads(self):  # type: ignore[no-untyped-def]
        import pyoxigraph as ox

        return tuple(ox.parse(self.data, format=ox.RdfFormat.N_QUADS))

    def rdflib_graph(self):  # type: ignore[no-untyped-def]
        import rdflib

        g = rdflib.Graph()
        g.parse(data=self.data.replace(f" <{self.iri}> .\n".encode(), b" .\n"), format="nt")
        return g


class SpilledGraph(_LazyGraph):
    """A graph built by a worker, its N-Quads in the batch's spill file rather than in the
    pipe: 100,000 figures make 11 GB of N-Quads, and each copy of them costs seconds (pickled,
    written to the pipe, read, unpickled, written out: five). An N-Quads output copies them
    from the spill file inside the kernel (``Writer``); anything else reads them when asked."""

    def __init__(self, fg: FigureGraph, offset: int, length: int) -> None:
        self.figure, self.iri, self._n = fg.figure, fg.iri, len(fg)
        self._digest: str | None = fg.__dict__.get("digest")  # None: not asked for yet
        self.offset, self.length = offset, length
        self.file: _SpillFile | None = None  # set in the parent

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = graph.content_digest(self.data)
        return self._digest

    @property
    def data(self) -> bytes:
        assert self.file is not None
        return self.file.read(self.offset, self.length)

    @property
    def span(self) -> tuple[Any, int, int]:
        """(spill file, offset, length): where the N-Quads are, for a writer that copies them
        inside the kernel (``formats.Writer``); a batch's graphs are neighbours in one file."""
        assert self.file is not None
        return self.file, self.offset, self.length


class CachedGraph(_LazyGraph):
    """A figure graph from the cache: its N-Quads are read from the pack only when asked for."""

    def __init__(self, entry: _Entry, path: str, pack: Path | None, data: bytes | None = None,
                 source: tuple[str, Any] | None = None,
                 options: ExportOptions | None = None) -> None:
        self.figure = FigureSummary(entry.figid, path, entry.iri, entry.repairs)
        self._source, self._options = source, options
        self.iri = entry.iri
        self.digest = entry.digest
        self._n = entry.triples
        self._pack, self._offset, self._length = pack, entry.offset, entry.length
        self._data = data

    @property
    def data(self) -> bytes:
        if self._data is None and self._pack is None:  # an index-only cache: build it again
            assert self._source is not None and self._options is not None
            path, site = self._source
            fig = load_figure(SourceFile(Path(path), site), self._options.limits)
            built = graph.build([fig], self._options.engine)[0]
            if isinstance(built, InputError):
                raise built
            self._data = built.data
        if self._data is None:
            with open(self._pack, "rb") as fh:  # type: ignore[arg-type]
                fh.seek(self._offset)
                self._data = fh.read(self._length)
        return self._data


def _options_key(options: ExportOptions) -> str:
    parts: list[str] = [__version__, options.engine, repr(options.limits), str(options.validate),
                        options.shacl_engine if options.validate else ""]
    if options.validate:
        from rdfexport.validate import bundled_shapes_dir

        folder = options.shapes or bundled_shapes_dir()
        for p in sorted(Path(folder).glob("*.ttl")):
            parts.append(hashlib.sha1(p.read_bytes()).hexdigest())
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


def _site_key(root: Path | None) -> str | None:
    if root is None:
        return None
    h = hashlib.sha1()
    for page in sorted((root / ORGANISMS_DIR).glob("*.md")):
        h.update(page.name.encode() + b"\0" + page.read_bytes() + b"\0")
    return h.hexdigest()


_INT64 = "q"


class _Cache:
    """The index of a cache folder, stored by columns (fast to load and save at 100k figures)."""

    def __init__(self, folder: Path, options: ExportOptions) -> None:
        self.folder = folder
        self.key = _options_key(options)
        self.rows: dict[str, int] = {}  # figure path -> row of the stored columns
        self.touched = False  # a file's mtime moved, its content did not: write the new mtime
        self.cols: dict[str, Any] = {}
        self.packs: dict[int, tuple[int, int]] = {}
        self.stale_parts: set[int] = set()
        self.incremental = options.incremental
        self.with_data = options.cache_data
        self.sites: dict[str | None, str | None] = {}
        self._listings: dict[str, frozenset[str]] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self._read()

    def pack(self, part: int) -> Path:
        return self._packs[part]

    @cached_property
    def _packs(self) -> list[Path]:  # asked for every cached figure: 100,000 Path joins saved
        return [self.folder / f"part-{part:03d}.nq" for part in range(PARTS)]

    def listing(self, folder: str) -> frozenset[str]:
        names = self._listings.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._listings[folder] = names
        return names

    def _read(self) -> None:
        try:
            with open(self.folder / INDEX_NAME, "rb") as fh:
                index = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
                ValueError, KeyError, TypeError):
            return
        if not isinstance(index, dict) or index.get("parts") != PARTS \
                or index.get("format") != 3:
            return
        packs = index["packs"]
        if index.get("key") != self.key or index.get("with_data") != self.with_data:
            # Options changed: nothing can be reused, but the old packs are still ours to replace.
            self.stale_parts = set(packs)
            return
        valid = set()
        for part, (size, mtime_ns) in packs.items():
            if not self.with_data:
                valid.add(part)
                continue
            try:
                st = self.pack(part).stat()
            except OSError:
                continue
            if st.st_size == size and st.st_mtime_ns == mtime_ns:
                valid.add(part)
        self.packs = {p: packs[p] for p in valid}
        self.stale_parts = set(packs) - valid
        cols = index["cols"]
        parts = cols["part"]
        self.cols = cols
        self.rows = {path: i for i, path in enumerate(cols["path"]) if parts[i] in valid}

    def removed_parts(self, current: set[str]) -> set[int]:
        parts = self.cols.get("part")
        return {parts[i] for p, i in self.rows.items() if p not in current}

    def site_key(self, site: Any) -> str | None:
        root = str(site.root) if site is not None else None
        if root not in self.sites:
            self.sites[root] = _site_key(site.root if site is not None else None)
        return self.sites[root]

    def lookup(self, path: str, site: Any) -> _Entry | None:
        """The stored entry of an unchanged figure (deps left in the columns), else None."""
        row = self.rows.get(path) if self.incremental else None
        if row is None:
            return None
        c = self.cols
        sid = c["site"][row]
        if c["site_keys"][sid] != self.site_key(site):
            return None
        start, figid, folder = c["dep_start"][row], c["figid"][row], c["data_dirs"][sid]
        sizes, mtimes, hashes = c["dep_size"], c["dep_mtime"], c["dep_hash"]
        for k in range(c["ndeps"][row]):
            size = sizes[start + k]
            if k == 0:
                name = path
            else:
                base = f"{figid}-{TABLE_KINDS[k - 1]}.tsv"
                if size == -1:
                    if base in self.listing(folder):
                        return None
                    continue
                name = os.path.join(folder, base)
            try:
                st = os.stat(name)
            except OSError:
                return None
            if st.st_size == size and st.st_mtime_ns == mtimes[start + k]:
                continue
            if st.st_size != size or _signature(Path(name))[3] != hashes[start + k]:
                return None
            mtimes[start + k] = st.st_mtime_ns  # touched, same content: remember the mtime
            self.touched = True
        return _Entry(figid, c["iri"][row], c["digest"][row], c["triples"][row],
                      _unpacked(c["repairs"].get(row)),
                      _unpacked(c["findings"].get(row)) or None, None,  # type: ignore
                      c["site_keys"][sid], c["mtime"][row], c["part"][row], c["offset"][row],
                      c["length"][row], row)

    def write_index(self, entries: dict[str, _Entry], packs: dict[int, tuple[int, int]]) -> None:
        from array import array

        data_dirs: list[str | None] = []
        site_keys: list[str | None] = []
        site_ids: dict[tuple[str | None, str | None], int] = {}
        cols: dict[str, Any] = {
            "path": [], "figid": [], "iri": [], "digest": [], "repairs": {}, "findings": {},
            "triples": array(_INT64), "mtime": array("d"), "part": array(_INT64),
            "offset": array(_INT64), "length": array(_INT64), "site": array(_INT64),
            "ndeps": array(_INT64), "dep_start": array(_INT64), "dep_size": array(_INT64),
            "dep_mtime": array(_INT64), "dep_hash": array("Q"),
            "data_dirs": data_dirs, "site_keys": site_keys,
        }
        old = self.cols
        values = list(entries.values())
        cols["path"] = list(entries)
        cols["figid"] = [e.figid for e in values]
        cols["iri"] = [e.iri for e in values]
        cols["digest"] = [e.digest for e in values]
        cols["repairs"] = {row: _packed(e.repairs) for row, e in enumerate(values) if e.repairs}
        cols["findings"] = {row: _packed(e.findings) for row, e in enumerate(values)
                            if e.findings}
        cols["triples"] = array(_INT64, [e.triples for e in values])
        cols["mtime"] = array("d", [e.mtime for e in values])
        cols["part"] = array(_INT64, [e.part for e in values])
        cols["offset"] = array(_INT64, [e.offset for e in values])
        cols["length"] = array(_INT64, [e.length for e in values])
        sites, ndeps, starts = cols["site"], cols["ndeps"], cols["dep_start"]
        sizes, mtimes, hashes = cols["dep_size"], cols["dep_mtime"], cols["dep_hash"]
        for e in values:
            if e.deps is None:  # unchanged: its dependencies as stored
                r = e.row
                assert r is not None
                folder = old["data_dirs"][old["site"][r]]
                a = old["dep_start"][r]
                b = a + old["ndeps"][r]
                starts.append(len(sizes))
                ndeps.append(b - a)
                sizes.extend(old["dep_size"][a:b])
                mtimes.extend(old["dep_mtime"][a:b])
                hashes.extend(old["dep_hash"][a:b])
            else:
                folder = os.path.dirname(e.deps[1][0]) if len(e.deps) > 1 else None
                starts.append(len(sizes))
                ndeps.append(len(e.deps))
                for _, size, mtime_ns, digest in e.deps:
                    sizes.append(size)
                    mtimes.append(mtime_ns)
                    hashes.append(digest)
            sid = site_ids.get((folder, e.site))
            if sid is None:
                sid = site_ids[(folder, e.site)] = len(data_dirs)
                data_dirs.append(folder)
                site_keys.append(e.site)
            sites.append(sid)
        tmp = self.folder / (INDEX_NAME + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump({"format": 3, "key": self.key, "parts": PARTS, "packs": packs,
                         "with_data": self.with_data, "cols": cols},
                        fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.folder / INDEX_NAME)


class _PackWriter:
    """Rewrites the packs of the parts that changed, streaming, then swaps them in."""

    def __init__(self, cache: _Cache, dirty: set[int]) -> None:
        self.cache = cache
        self.dirty = dirty
        self.files: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}

    def add(self, path: str, entry: _Entry, data: bytes) -> None:
        part = entry.part
        if part not in self.dirty or not self.cache.with_data:
            return
        fh = self.files.get(part)
        if fh is None:
            fh = self.files[part] = open(  # noqa: SIM115 - open until commit() or abort()
                self.cache.pack(part).with_suffix(".nq.new"), "wb")
            self.sizes[part] = 0
        entry.offset = self.sizes[part]
        entry.length = len(data)
        fh.write(data)
        self.sizes[part] += len(data)

    def commit(self, entries: dict[str, _Entry]) -> None:
        if not (self.dirty or self.files or self.cache.touched) \
                and entries.keys() == self.cache.rows.keys():
            return  # every figure as the index on disk has it: 0.5-1.5 s not spent at 100k
        packs = {p: v for p, v in self.cache.packs.items() if p not in self.dirty}
        for part, fh in self.files.items():
            fh.close()
            os.replace(self.cache.pack(part).with_suffix(".nq.new"), self.cache.pack(part))
        for part in self.dirty:
            if part not in self.files:
                self.cache.pack(part).unlink(missing_ok=True)
                if not self.cache.with_data and any(e.part == part for e in entries.values()):
                    packs[part] = (0, 0)
                continue
            st = self.cache.pack(part).stat()
            packs[part] = (st.st_size, st.st_mtime_ns)
        self.cache.write_index(entries, packs)

    def abort(self) -> None:
        for part, fh in self.files.items():
            fh.close()
            self.cache.pack(part).with_suffix(".nq.new").unlink(missing_ok=True)


# -- progress --------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on standard error; silent when it is not a terminal."""

    def __init__(self, total: int, enabled: bool, label: str = "figures") -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty() and total > 0
        self.label = label
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate else 0
        width = 30
        fill = int(width * self.done / self.total)
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                         f"{self.label} {rate:,.0f}/s ETA {eta:,.0f} s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


# -- the one entry point -----------------------------------------------------------------------


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _SourceList:
    """The figure files of a run, compactly (a str and a shared Site each), in order."""

    def __init__(self, items: Iterable[SourceFile | InputError]) -> None:
        self._paths: list[str] = []
        self._sites: list[Any] = []
        self._errors: dict[int, InputError] = {}
        for item in items:
            if isinstance(item, InputError):
                self._errors[len(self._paths)] = item
                self._paths.append("")
                self._sites.append(None)
            else:
                self._paths.append(str(item.path))
                self._sites.append(item.site)
        self.files = len(self._paths) - len(self._errors)

    def __len__(self) -> int:
        return len(self._paths)

    def path(self, i: int) -> str:
        return self._paths[i]

    def site(self, i: int) -> Any:
        return self._sites[i]

    def is_file(self, i: int) -> bool:
        return i not in self._errors

    def __getitem__(self, i: int) -> SourceFile | InputError:
        if i in self._errors:
            return self._errors[i]
        return SourceFile(Path(self._paths[i]), self._sites[i])


def build_graphs(paths: Iterable[str | os.PathLike[str]],
                 options: ExportOptions = ExportOptions(),
                 stats: ExportStats | None = None,
                 findings: list[Any] | None = None) -> Iterator[FigureGraph | InputError]:
    """Every figure's graph in discovery order; bad files as InputError items.

    With ``options.validate``, each figure is validated where it is built (in the workers) and
    its findings are appended to ``findings`` as the figure is yielded. Graphs built by worker
    processes carry a :class:`FigureSummary` instead of the whole record. Figures taken from the
    cache are :class:`CachedGraph` objects (same ``iri``, ``digest``, ``data``, ``len``).
    """
    stats = stats if stats is not None else ExportStats()
    jobs = max(1, options.jobs or default_jobs(_rerun(options)))
    # Workers are forked first, while this process is small: they do not inherit (and count
    # again in RSS) the file list below, so memory does not grow with the corpus in them.
    pool = _Pool(options, jobs) if jobs > 1 else None
    try:
        sources = _SourceList(_sources(paths, options))
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    progress = Progress(sources.files, options.progress)
    cache = _Cache(options.cache, options) if options.cache is not None else None

    hits: dict[int, _Entry] = {}
    if cache is not None:
        files = [i for i in range(len(sources)) if sources.is_file(i)]
        for i in files:
            entry = cache.lookup(sources.path(i), sources.site(i))
            if entry is not None:
                hits[i] = entry
        current = {sources.path(i) for i in files}
        dirty = {part_of(sources.path(i)) for i in files if i not in hits}
        dirty |= cache.removed_parts(current)
        dirty |= cache.stale_parts
        dirty |= {hits[i].part for i in hits if hits[i].part not in cache.packs}
        packs = _PackWriter(cache, dirty)
        new_entries: dict[str, _Entry] = {}

    todo = sources.files - len(hits)
    results = _built_in_order(
        _batches((sources[i] for i in range(len(sources)) if i not in hits and sources.is_file(i)),
                 options.batch_size),
        options, jobs if todo else 1, pool)
    flat = (b for batch in results for b in batch)
    seen: dict[str, int] = {}
    newest = 0.0
    complete = False
    try:
        for i in range(len(sources)):
            entry = hits.get(i)
            if entry is None and not sources.is_file(i):
                yield sources[i]  # type: ignore[misc] - the InputError found while listing
                continue
            if entry is not None:
                item: Any = None
                data = None
                pack = cache.pack(entry.part) if cache.with_data else None  # type: ignore
                if pack is not None and entry.part in packs.dirty:
                    with open(pack, "rb") as fh:
                        fh.seek(entry.offset)
                        data = fh.read(entry.length)
                item = CachedGraph(entry, sources.path(i), pack, data,
                                   (sources.path(i), sources.site(i)), options)
                fnd = entry.findings
                mtime = entry.mtime
            else:
                b = next(flat)
                item, fnd, mtime = b.item, b.findings, b.mtime
            progress.update()
            newest = max(newest, mtime)
            if isinstance(item, InputError):
                stats.failed += 1
                yield item
                continue
            figid = item.figure.figid
            if figid in seen:
                stats.failed += 1
                yield _duplicate(figid, item.figure.path, sources.path(seen[figid]),
                                 item.figure.lines.get("figid"))
                continue
            seen[figid] = i
            if cache is not None:
                if entry is None:
                    entry = _Entry(figid, item.iri, item.digest, len(item),
                                   tuple(item.figure.repairs), fnd, b.deps,
                                   cache.site_key(sources.site(i)), mtime,
                                   part_of(sources.path(i)))
                    packs.add(sources.path(i), entry, item.data)
                elif entry.part in packs.dirty and cache.with_data:
                    entry = replace(entry)
                    packs.add(sources.path(i), entry, item.data)
                new_entries[sources.path(i)] = entry
            _count(stats, item)
            if findings is not None and fnd:
                findings.extend(fnd)
            yield item
        complete = True
    finally:
        progress.close()
        results.close()
        if pool is not None:
            pool.close()
        if cache is not None:
            if complete:
                packs.commit(new_entries)
            else:
                packs.abort()
    stats.created = created_time(newest)


def _count(stats: ExportStats, fg: Any) -> None:
    stats.figures += 1
    stats.triples += len(fg)
    stats.repairs += len(fg.figure.repairs)
    if stats.example is None:
        stats.example = fg.iri


def merge_void(files: Iterable[str | os.PathLike[str]]) -> list[Any]:
    """One VoID description for the outputs of ``--shard 1/N`` ... ``N/N`` (their ``void.nq``
    files, or whole N-Quads outputs: the VoID graph is read from the end of each file): figures
    and triples summed, the newest creation time, the first example resource."""
    import pyoxigraph as ox

    from rdfexport import vocab

    p = vocab.PREFIXES
    total = ExportStats()
    suffix = f" <{vocab.VOID_GRAPH}> .\n".encode()
    for name in files:
        with open(name, "rb") as fh:
            fh.seek(max(0, os.path.getsize(name) - 65536))
            tail = fh.read()
        lines = [ln for ln in tail.splitlines(keepends=True) if ln.endswith(suffix)]
        for q in ox.parse(b"".join(lines), format=ox.RdfFormat.N_QUADS):
            pred, obj = q.predicate.value, q.object
            if pred == p["void"] + "triples":
                total.triples += int(obj.value)
            elif pred == p["void"] + "entities":
                total.figures += int(obj.value)
            elif pred == p["void"] + "exampleResource" and total.example is None:
                total.example = obj.value
            elif pred == p["pav"] + "createdOn":
                when = datetime.strptime(obj.value, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=timezone.utc)
                total.created = max(total.created or when, when)
    return graph.void_quads(total)


def usable_cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may give fewer than the
    machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_jobs(rerun: bool = False) -> int:
    """One worker per core, and one more: a worker waiting for the disk (a site not yet in
    the page cache: 400,000 small files at 100,000 figures) leaves its core to the spare one.
    Measured at 100k figures on 2 cores: cold cache 139.4 -> 129.8 s (and 124.4 -> 116.4 s in
    another hour), warm the same (120.9 / 121.0 s; 105.5 / 105.7 s); a fourth worker was
    slower (109.9 s). Not for an incremental ``rerun``, which rebuilds a few figures: its time
    is the listing and the cache check, and each worker's start (~0.7 s of CPU for imports and
    the shapes) competes with them (`load --incremental` after one change took 5.0 s in one
    run with the spare; the VM's noise is of that size, but a spare cannot help a re-run)."""
    return usable_cores() + (0 if rerun else 1)


def _rerun(options: ExportOptions) -> bool:
    return options.incremental and options.cache is not None \
        and (options.cache / INDEX_NAME).is_file()


__all__ = ["PARTS", "CachedGraph", "ExportOptions", "Progress", "build_graphs", "created_time",
           "default_jobs", "merge_void", "parse_shard", "part_of", "read_figures", "shard_of"]
