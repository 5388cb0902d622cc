"""Orchestration: paths in, figure graphs out, one item per figure file, errors as items.

Errors are items rather than exceptions so that one bad file never stops a batch: the caller
reports it, goes on, and sets the exit status at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rdfexport import graph
from rdfexport.errors import InputError
from rdfexport.graph import ExportStats, FigureGraph
from rdfexport.records import Figure, load_figure
from rdfexport.sources import Limits, SourceFile, discover


@dataclass(frozen=True)
class ExportOptions:
    """How to export; frozen so that one value describes a whole run."""

    engine: str = "oxigraph"
    limits: Limits = field(default_factory=Limits)
    batch_size: int = 200


def read_figures(paths: Iterable[str | os.PathLike[str]],
                 options: ExportOptions = ExportOptions(),
                 stats: ExportStats | None = None) -> Iterator[Figure | InputError]:
    """Clean records of every figure file under PATHS; a figid seen twice is an error."""
    seen: dict[str, str] = {}
    newest = 0.0
    for item in discover(paths):
        if isinstance(item, InputError):
            yield item
            continue
        try:
            fig = load_figure(item, options.limits)
        except InputError as err:
            yield err
            continue
        newest = max(newest, _mtime(item))
        if fig.figid in seen:
            yield InputError(f"figid {fig.figid!r} was already exported from {seen[fig.figid]}",
                             path=fig.path, line=fig.lines.get("figid"),
                             fix="export each figure once: give one version of the site")
            continue
        seen[fig.figid] = fig.path
        yield fig
    if stats is not None:
        stats.created = created_time(newest)


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


def _batches(items: Iterable[Figure | InputError], size: int) -> Iterator[list[Figure | InputError]]:
    batch: list[Figure | InputError] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def build_graphs(paths: Iterable[str | os.PathLike[str]],
                 options: ExportOptions = ExportOptions(),
                 stats: ExportStats | None = None) -> Iterator[FigureGraph | InputError]:
    """Every figure's graph in discovery order; bad files as InputError items."""
    stats = stats if stats is not None else ExportStats()
    for batch in _batches(read_figures(paths, options, stats), options.batch_size):
        figs = [item for item in batch if isinstance(item, Figure)]
        built = iter(graph.build(figs, options.engine)) if figs else iter(())
        for item in batch:
            out = next(built) if isinstance(item, Figure) else item
            if isinstance(out, FigureGraph):
                stats.add(out)
            else:
                stats.failed += 1
            yield out
