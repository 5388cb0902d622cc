"""rdfexport: PFOCR pathway figures to linked data.

The public API, a handful of verbs (the CLI is a thin layer over them)::

    import rdfexport

    for item in rdfexport.build_graphs(["site/"]):        # one item per figure file
        if isinstance(item, rdfexport.InputError):
            print(item)                                  # names the file and line
    result = rdfexport.export(["site/"], "pfocr.nq.gz")  # stream to any format, atomically
    dataset = rdfexport.to_dataset(["site/"])            # an rdflib Dataset, graph per figure
    with rdfexport.open_store("store/") as store:        # embedded Oxigraph, or endpoint=URL
        store.load(g for g in rdfexport.build_graphs(["site/"]) if not isinstance(g, Exception))
        print(store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows)
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

from rdfexport.errors import ExitCode, InputError, RdfExportError, Repair, StoreError

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator

    import rdflib

    from rdfexport.graph import ExportStats, FigureGraph
    from rdfexport.pipeline import ExportOptions
    from rdfexport.records import Figure

__all__ = [
    "ExitCode", "InputError", "RdfExportError", "Repair", "StoreError", "__version__",
    "build_graphs", "export", "open_store", "read_figures", "to_dataset",
]


def open_store(*args, **kwargs):  # type: ignore[no-untyped-def]
    """The embedded Oxigraph store in a folder, or a SPARQL 1.1 server with ``endpoint=URL``.

    See :func:`rdfexport.stores.open_store` for the options.
    """
    from rdfexport.stores import open_store as _open_store

    return _open_store(*args, **kwargs)


def read_figures(paths: Iterable[str | os.PathLike[str]],
                 options: ExportOptions | None = None) -> Iterator[Figure | InputError]:
    """Typed, cleaned records of every figure file under PATHS (errors as items)."""
    from rdfexport import pipeline

    return pipeline.read_figures(paths, options or pipeline.ExportOptions())


def build_graphs(paths: Iterable[str | os.PathLike[str]], options: ExportOptions | None = None,
                 stats: ExportStats | None = None) -> Iterator[FigureGraph | InputError]:
    """Each figure's graph (its own named graph), in a stable order (errors as items)."""
    from rdfexport import pipeline

    return pipeline.build_graphs(paths, options or pipeline.ExportOptions(), stats)


def export(paths: Iterable[str | os.PathLike[str]], output: str | os.PathLike[str] | None,
           format: str | None = None, options: ExportOptions | None = None
           ) -> tuple[ExportStats, list[InputError]]:
    """Write every figure under PATHS to OUTPUT (None: stdout); returns stats and bad files."""
    from rdfexport.formats import Writer, guess_format
    from rdfexport.graph import ExportStats, void_quads

    stats = ExportStats()
    errors: list[InputError] = []

    def good():
        for item in build_graphs(paths, options, stats):
            if isinstance(item, InputError):
                errors.append(item)
            else:
                yield item

    with Writer(output, guess_format(output, format)) as writer:
        writer.write_all(good(), lambda: void_quads(stats))
    return stats, errors


def to_dataset(paths: Iterable[str | os.PathLike[str]],
               options: ExportOptions | None = None) -> rdflib.Dataset:
    """All figures merged into one rdflib Dataset, a named graph per figure.

    Convenient for small collections and for rdflib users; the CLI streams instead, because an
    rdflib graph of the whole PFOCR collection would not fit in memory (docs/DESIGN.md).
    """
    import rdflib

    from rdfexport.graph import ExportStats, void_quads

    stats = ExportStats()
    data = bytearray()
    for item in build_graphs(paths, options, stats):
        if isinstance(item, InputError):
            raise item
        data += item.nquads()
    data += "".join(f"{q} .\n" for q in void_quads(stats)).encode()
    dataset = rdflib.Dataset()
    dataset.parse(data=bytes(data), format="nquads")
    return dataset
