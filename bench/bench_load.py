"""Loading into the embedded store vs pyoxigraph's own ``bulk_load`` of the same N-Quads.

    python bench/bench_load.py SITE [--repeat 3] [--work DIR]
    python bench/bench_load.py --figures 5000        # generates a site with bench/generate.py

The figure graphs are built once (not timed). Then, alternately and ``--repeat`` times, each on a
fresh on-disk store:

- ``bulk_load``: ``pyoxigraph.Store(dir).bulk_load(<all canonical N-Quads>)`` and ``flush``;
- ``rdfexport``: ``EmbeddedStore(dir).load(graphs, void=...)`` and ``close`` (state graph, VoID,
  digests included).

It prints the medians and their ratio (the target: at most 1.5), and also times a reload of the
unchanged graphs (everything skipped) and, store reopened as a new ``rdfexport load`` would,
a reload with one figure changed: with the digests the last load kept beside the store, and
without them (looked up in the store one by one).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from rdfexport.graph import ExportStats, FigureGraph, store_void
from rdfexport.pipeline import build_graphs
from rdfexport.stores import EmbeddedStore


def build(site: Path) -> tuple[list[FigureGraph], ExportStats]:
    stats = ExportStats()
    graphs = [g for g in build_graphs([site], stats=stats) if isinstance(g, FigureGraph)]
    return graphs, stats


class _Changed:
    """A figure graph with one more triple (a new title), as an edited figure file gives."""

    def __init__(self, fg) -> None:  # type: ignore[no-untyped-def]
        self.iri = fg.iri
        title = ox.Quad(ox.NamedNode(fg.iri), ox.NamedNode("http://purl.org/dc/terms/title"),
                        ox.Literal(f"edited {time.time_ns()}"), ox.NamedNode(fg.iri))
        self.quads = (*fg.quads, title)
        self._data = fg.nquads() + ox.serialize([title], format=ox.RdfFormat.N_QUADS)
        self.digest = hashlib.sha256(self._data).hexdigest()

    def __len__(self) -> int:
        return len(self.quads)

    def nquads(self) -> bytes:
        return self._data


def timed_bulk_load(data: bytes, path: Path) -> float:
    shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    store = ox.Store(str(path))
    store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
    store.flush()
    elapsed = time.perf_counter() - start
    del store
    return elapsed


def timed_rdfexport(graphs: list[FigureGraph], export: ExportStats, path: Path) -> float:
    shutil.rmtree(path, ignore_errors=True)

    void = store_void(export)

    start = time.perf_counter()
    store = EmbeddedStore(path)
    store.load(graphs, void=void)
    store.close()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path)
    parser.add_argument("--figures", type=int, default=5000,
                        help="generate a site of this many figures when SITE is not given")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="scratch directory")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-load-"))
    work.mkdir(parents=True, exist_ok=True)
    site = args.site
    if site is None:
        site = work / "site"
        if not (site / "_figures").is_dir():
            subprocess.run([sys.executable, str(Path(__file__).with_name("generate.py")),
                            str(site), "--figures", str(args.figures)], check=True)

    t = time.perf_counter()
    graphs, export = build(site)
    data = b"".join(g.nquads() for g in graphs)
    triples = sum(len(g) for g in graphs)
    print(f"{len(graphs)} figures, {triples:,} triples, {len(data) / 1e6:.1f} MB of N-Quads "
          f"(built in {time.perf_counter() - t:.1f} s, not timed below)")

    bulk, ours = [], []
    for _ in range(args.repeat):
        bulk.append(timed_bulk_load(data, work / "bulk"))
        ours.append(timed_rdfexport(graphs, export, work / "ours"))
    b, o = statistics.median(bulk), statistics.median(ours)
    print(f"pyoxigraph bulk_load : median {b:.2f} s  {[round(x, 2) for x in bulk]}")
    print(f"rdfexport load       : median {o:.2f} s  {[round(x, 2) for x in ours]}")
    print(f"ratio rdfexport / bulk_load = {o / b:.2f}  (target <= 1.5)")

    store = EmbeddedStore(work / "ours")
    start = time.perf_counter()
    stats = store.load(graphs)
    print(f"reload, nothing changed: {time.perf_counter() - start:.2f} s "
          f"({stats.skipped} skipped)")
    store.close()
    changed = [*graphs[:1], _Changed(graphs[1]), *graphs[2:]]
    for label, keep in (("kept digests", True), ("digests looked up", False)):
        if not keep:  # what a store written to by another program gives: no usable copy
            (work / "ours" / "rdfexport-known-digests").unlink(missing_ok=True)
        start, cpu = time.perf_counter(), time.process_time()
        with EmbeddedStore(work / "ours") as store:
            stats = store.load(changed)
        print(f"reopen and reload, one figure changed ({label}): "
              f"{time.perf_counter() - start:.2f} s, CPU {time.process_time() - cpu:.2f} s "
              f"({stats.replaced} replaced, {stats.skipped} skipped)")
        changed[1] = _Changed(changed[1])
    shutil.rmtree(work / "bulk", ignore_errors=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
