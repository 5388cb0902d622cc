"""Output formats as data, and streaming writers that never leave a half-written file.

The format table drives ``--format`` choices, suffix guessing and error messages alike.
Writers stream: memory does not grow with the corpus, except for the set of shared-node triples
(genes, articles, taxa...) already written, which keeps triple formats free of repeats.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from rdfexport import vocab
from rdfexport.errors import OutputError, UsageError
from rdfexport.graph import FigureGraph


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    media_type: str
    rdf_format: ox.RdfFormat
    quads: bool  # keeps one named graph per figure
    streaming: bool = True


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("turtle", (".ttl", ".turtle"), "text/turtle", ox.RdfFormat.TURTLE, False),
    Format("ntriples", (".nt",), "application/n-triples", ox.RdfFormat.N_TRIPLES, False),
    Format("nquads", (".nq", ".nquads"), "application/n-quads", ox.RdfFormat.N_QUADS, True),
    Format("trig", (".trig",), "application/trig", ox.RdfFormat.TRIG, True),
    Format("jsonld", (".jsonld", ".json"), "application/ld+json", ox.RdfFormat.JSON_LD, True,
           streaming=False),
)}


def guess_format(path: str | os.PathLike[str] | None, name: str | None = None) -> Format:
    """The format named, else the one the output suffix implies (``.gz`` looked through)."""
    if name:
        try:
            return FORMATS[name]
        except KeyError:
            raise UsageError(f"unknown format {name!r}",
                             fix="choose one of " + ", ".join(FORMATS)) from None
    if path is None or str(path) == "-":
        return FORMATS["turtle"]
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    for fmt in FORMATS.values():
        if suffixes and suffixes[-1] in fmt.suffixes:
            return fmt
    known = ", ".join(f"{s} ({f.name})" for f in FORMATS.values() for s in f.suffixes)
    raise UsageError(f"cannot tell the format from {str(path)!r}",
                     fix=f"use -f/--format or one of the suffixes {known}")


class AtomicOutput:
    """A file written under a temporary name and renamed into place only when complete."""

    def __init__(self, target: str | os.PathLike[str] | None) -> None:
        self.target = None if target is None or str(target) == "-" else Path(target)
        self._tmp: Path | None = None
        self._raw: IO[bytes] | None = None
        self.stream: IO[bytes]

    def __enter__(self) -> IO[bytes]:
        if self.target is None:
            self.stream = sys.stdout.buffer
            return self.stream
        folder = self.target.parent if str(self.target.parent) else Path(".")
        _remove_stale_temporaries(folder, self.target.name)
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.{os.getpid()}.",
                                        suffix=".tmp", dir=folder)
            # mkstemp makes the file private; the output gets the mode any new file would get.
            os.fchmod(fd, 0o666 & ~_umask())
        except OSError as err:
            raise OutputError(f"cannot write here: {err.strerror}", path=self.target,
                              fix="check that the folder exists and is writable") from None
        self._tmp = Path(name)
        self._raw = os.fdopen(fd, "wb")
        behind = _WriteBehind(self._raw)
        if self.target.suffix.lower() == ".gz":
            # mtime=0 and no file name inside: the same input gives byte-identical .gz output.
            self.stream = gzip.GzipFile(filename="", mode="wb", fileobj=behind,  # type: ignore[arg-type]
                                        mtime=0)
        else:
            self.stream = behind  # type: ignore[assignment]
        return self.stream

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.target is None:
            self.stream.flush()
            return
        assert self._tmp is not None and self._raw is not None
        try:
            if isinstance(self.stream, gzip.GzipFile):
                self.stream.close()
            self._raw.flush()
            if exc_type is None:
                os.fsync(self._raw.fileno())
            self._raw.close()
            if exc_type is None:
                os.replace(self._tmp, self.target)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


class _WriteBehind:
    """A file that does not fill the page cache: what was written 128 MB ago is on disk and
    dropped from memory (Linux ``sync_file_range`` + ``POSIX_FADV_DONTNEED``; elsewhere a plain
    file). Writing 11 GB (100,000 figures as N-Quads) into a full page cache made the kernel
    reclaim memory in the writer: 11.4 s of system CPU for 11 GB alone, 5.4 s this way, and the
    final fsync has almost nothing left to do."""

    STEP = 64 << 20

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.pos = self.pushed = self.dropped = 0
        self.sync = _sync_file_range()

    def write(self, data: bytes) -> int:
        n = self.raw.write(data)
        self.pos += len(data)
        if self.pos - self.pushed >= self.STEP:
            self._behind()
        return n

    def writelines(self, lines: Iterable[bytes]) -> None:
        self.raw.writelines(lines)
        self.pos = self.raw.tell()
        if self.pos - self.pushed >= self.STEP:
            self._behind()

    def copy_from(self, fd: int, offset: int, length: int) -> None:
        """Append ``length`` bytes of file ``fd`` from ``offset``, copied inside the kernel."""
        self.raw.flush()
        out = self.raw.fileno()
        while length:
            try:
                n = os.copy_file_range(fd, out, length, offset)
            except (AttributeError, OSError):  # not Linux, or not between these file systems
                n = len(data := os.pread(fd, min(length, 1 << 24), offset))
                self.raw.write(data)
                self.raw.flush()
            if n == 0:
                raise OSError(f"copy stopped {length} bytes early")
            offset, length, self.pos = offset + n, length - n, self.pos + n
        if self.pos - self.pushed >= self.STEP:
            self._behind()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.raw, name)

    def _behind(self) -> None:
        if self.sync is None:
            return
        fd = self.raw.fileno()
        self.sync(fd, self.pushed, self.pos - self.pushed, 2)  # start writing these out
        self.pushed = self.pos
        if self.pushed - self.dropped >= 4 * self.STEP:
            end = self.pushed - 2 * self.STEP
            self.sync(fd, self.dropped, end - self.dropped, 1 | 2 | 4)  # until written
            os.posix_fadvise(fd, self.dropped, end - self.dropped, os.POSIX_FADV_DONTNEED)
            self.dropped = end


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux") or not hasattr(os, "posix_fadvise"):
        return None
    import ctypes

    fn = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    if fn is None:
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return fn  # type: ignore[no-any-return]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    """Temporaries left by a killed run (``.NAME.PID.xxxx.tmp`` whose PID is gone)."""
    remove_leftovers(folder.glob(f".{glob_escape(name)}.*.tmp"), f".{name}.")


def remove_leftovers(paths: Iterable[Path], prefix: str) -> None:
    """Files or folders named ``PREFIX`` + PID + ``.`` or ``-`` ... whose process is gone: what
    a killed run left (output temporaries, spill folders)."""
    for path in paths:
        pid = re.match(r"(\d+)[.-]", path.name[len(prefix):])
        if pid is None or _alive(int(pid.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_CHUNK = 1 << 20


class _Dedup:
    """Remembers shared-node triples already written, by a 64-bit hash of the line (Python's
    own: stable within the process, which is all a run needs)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()


def _triple_lines(fg: FigureGraph, dedup: _Dedup) -> list[bytes]:
    """N-Triples lines of one figure; shared nodes only the first time they are seen."""
    iri = fg.iri.encode()
    suffix = len(iri) + 5  # b" <IRI> ." ends every line
    # A triple about this figure or one of its mentions (as subject or object) cannot come
    # from another figure: it is written without being remembered, so memory does not grow
    # with the corpus.
    local = (b"<" + iri + b"> ", b"<" + iri + b"#")
    names_figure, names_mention = b" <" + iri + b">", b" <" + iri + b"#"
    seen = dedup.seen
    out = []
    for line in fg.data.split(b"\n"):
        triple = line[:-suffix]
        if not triple:
            continue
        if not (triple.startswith(local) or triple.endswith(names_figure)
                or names_mention in triple):
            key = hash(triple)
            if key in seen:
                continue
            seen.add(key)
        out.append(triple + b" .\n")
    return out


class Writer:
    """Write figure graphs, then the VoID description, in one format, atomically."""

    def __init__(self, output: str | os.PathLike[str] | None, fmt: Format,
                 prefixes: dict[str, str] | None = None) -> None:
        self.fmt = fmt
        self.prefixes = prefixes or {k: v for k, v in vocab.PREFIXES.items() if k != "sh"}
        self._out = AtomicOutput(output)
        self._dedup = _Dedup()

    def __enter__(self) -> Writer:
        self.stream = self._out.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._out.__exit__(exc_type, exc, tb)

    def write_all(self, graphs: Iterable[FigureGraph], void: Callable[[], list[ox.Quad]]) -> None:
        """Stream every graph, then ``void()``'s quads (called once the graphs are counted)."""
        name = self.fmt.name
        if name == "nquads":
            direct = isinstance(self.stream, _WriteBehind)
            run: list[Any] = []  # [file, offset, length] of neighbouring spilled graphs
            for fg in graphs:
                span = getattr(fg, "span", None) if direct else None  # pipeline.SpilledGraph
                if span is not None and run and span[0] is run[0] \
                        and span[1] == run[1] + run[2]:
                    run[2] += span[2]
                    continue
                if run:  # one copy a batch: 200 calls cost ~30 % more system time
                    self.stream.copy_from(run[0].fd, run[1], run[2])
                    run = []
                if span is not None:
                    run = list(span)
                else:
                    self.stream.write(fg.data)
            if run:
                self.stream.copy_from(run[0].fd, run[1], run[2])
            self.stream.write(_nquads(void()))
        elif name == "ntriples":
            for fg in graphs:
                self.stream.writelines(_triple_lines(fg, self._dedup))
            self.stream.writelines(_triple_lines_of(void()))
        elif name in ("turtle", "trig"):
            self._write_prefixes()
            pending: list[bytes] = []
            size = 0
            for fg in graphs:  # serialized ~1 MB at a time: one parse per figure cost more
                chunk = fg.data if self.fmt.quads else b"".join(_triple_lines(fg, self._dedup))
                pending.append(chunk)
                size += len(chunk)
                if size >= _CHUNK:
                    self._write_body(b"".join(pending))
                    pending, size = [], 0
            self._write_body(b"".join(pending))
            self._write_body(_nquads(void()) if self.fmt.quads else
                             b"".join(_triple_lines_of(void())))
        elif name == "jsonld":
            self._write_jsonld(graphs, void)
        else:  # pragma: no cover - the table and this switch are kept together
            raise UsageError(f"no writer for {name}")

    def _write_prefixes(self) -> None:
        for prefix, iri in self.prefixes.items():
            self.stream.write(f"@prefix {prefix}: <{iri}> .\n".encode())
        self.stream.write(b"\n")

    def _write_body(self, data: bytes) -> None:
        """Serialize one chunk with the prefixes, dropping the @prefix lines already written."""
        if not data:
            return
        parse_as = ox.RdfFormat.N_QUADS if self.fmt.quads else ox.RdfFormat.N_TRIPLES
        buf = io.BytesIO()
        ox.serialize(ox.parse(data, format=parse_as), buf, self.fmt.rdf_format,
                     prefixes=self.prefixes)
        text = buf.getvalue()
        body_start = 0
        while text.startswith(b"@prefix", body_start):
            body_start = text.index(b"\n", body_start) + 1
        self.stream.write(text[body_start:].lstrip(b"\n"))
        self.stream.write(b"\n")

    def _write_jsonld(self, graphs: Iterable[FigureGraph],
                      void: Callable[[], list[ox.Quad]]) -> None:
        """JSON-LD compacted with the project's prefixes; one document, so not streaming."""
        from pyld import jsonld as pyld

        data = b"".join(fg.data for fg in graphs) + _nquads(void())
        expanded = json.loads(ox.serialize(ox.parse(data, format=ox.RdfFormat.N_QUADS),
                                           format=ox.RdfFormat.JSON_LD))
        compacted = pyld.compact(expanded, {"@context": self.prefixes},
                                 {"documentLoader": _no_loader})
        self.stream.write(json.dumps(compacted, ensure_ascii=False, indent=1,
                                     sort_keys=True).encode("utf-8"))
        self.stream.write(b"\n")


def _no_loader(url: str, options=None):  # pragma: no cover - the context is inline
    raise OutputError(f"refused to load {url}")


def _nquads(quads: Iterable[ox.Quad]) -> bytes:
    return "".join(sorted(f"{q} .\n" for q in quads)).encode("utf-8")


def _triple_lines_of(quads: Iterable[ox.Quad]) -> list[bytes]:
    return sorted(f"{q.triple} .\n".encode() for q in quads)
