"""``rdfexport load``: export (and validate, as ``convert`` does) and load into a triple store."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import click

from rdfexport.cli import error, main, run, stderr_is_terminal
from rdfexport.cli.convert import (
    Checked,
    export_options,
    input_options,
    scale_options,
    scaled,
    tally,
    validation_options,
)
from rdfexport.errors import ExitCode, InputError, UsageError
from rdfexport.stores import DEFAULT_STORE_DIR, BaseStore, open_store

PASSWORD_VARIABLE = "RDFEXPORT_PASSWORD"


def store_options(f):  # type: ignore[no-untyped-def]
    """Where to load or query: the embedded store (default) or a SPARQL 1.1 server."""
    f = click.option("--retries", type=click.IntRange(0), default=4, show_default=True,
                     help="Retries of a request after a connection error or a 5xx answer, "
                          "with exponential backoff.")(f)
    f = click.option("--server-type", type=click.Choice(["auto", "virtuoso", "oxigraph",
                                                         "generic"]),
                     default="auto", show_default=True,
                     help="Server quirks to expect (auto: from the server's answer).")(f)
    f = click.option("--auth", type=click.Choice(["digest", "basic"]), default="digest",
                     show_default=True, help="HTTP authentication scheme for --user.")(f)
    f = click.option("--user", default=None, metavar="NAME",
                     help=f"User for the endpoint; the password is read from ${PASSWORD_VARIABLE} "
                          "only.")(f)
    f = click.option("--update-endpoint", default=None, metavar="URL",
                     help="SPARQL Update URL, when not the --endpoint (Oxigraph: /update, "
                          "derived automatically).")(f)
    f = click.option("--graph-store", default=None, metavar="URL",
                     help="Graph Store Protocol URL (derived for Virtuoso and Oxigraph).")(f)
    f = click.option("--endpoint", default=None, metavar="URL",
                     help="A SPARQL 1.1 query/update service instead of the embedded store, "
                          "e.g. http://127.0.0.1:8890/sparql-auth.")(f)
    f = click.option("--store", "store_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=DEFAULT_STORE_DIR, show_default=True,
                     help="Directory of the embedded Oxigraph store.")(f)
    return f


def open_target(store_dir: Path, endpoint: str | None, graph_store: str | None,
                update_endpoint: str | None, user: str | None, auth: str, server_type: str,
                retries: int, read_only: bool = False) -> BaseStore:
    password = os.environ.get(PASSWORD_VARIABLE) if user is not None else None
    return open_store(store_dir, endpoint=endpoint, graph_store=graph_store,
                      update_endpoint=update_endpoint, user=user, password=password, auth=auth,
                      flavor=server_type, retries=retries, read_only=read_only)


def count_figure_files(paths: tuple[Path, ...]) -> int:
    from rdfexport.sources import discover

    return sum(1 for _ in discover(paths))


@main.command()
@input_options
@store_options
@validation_options
@functools.partial(scale_options, progress=False)
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: when standard error is a terminal).")
@click.option("-v", "--verbose", is_flag=True, help="List every repair made to the input.")
@click.option("-q", "--quiet", is_flag=True, help="No closing summary line.")
@click.option("--force", is_flag=True,
              help="Rewrite every figure graph, even those whose digest is unchanged (for a "
                   "store that was edited by other means).")
@click.option("--prune", is_flag=True,
              help="After a complete load, drop the graphs (and state) of figures an earlier "
                   "rdfexport load put in the store whose figid is in no figure file of PATHS "
                   "(readable or not); other graphs are never touched. PATHS must be the whole "
                   "source; not with --shard.")
def load(paths, engine, limits, store_dir, endpoint, graph_store,
         update_endpoint, user, auth, server_type, retries, validate, fail_on, shapes,
         shacl_engine, jobs, shard, incremental, cache, progress, verbose, quiet,
         force, prune):  # type: ignore[no-untyped-def]
    """Export figure files, folders or site checkouts (PATH...) and load them into a store.

    One named graph per figure (its IRI). A figure whose content changed replaces exactly its
    graph; an unchanged one is skipped, so loading the same files twice changes nothing. The
    VoID description is rewritten whenever a graph changed.

    Default target: an embedded Oxigraph store in --store DIR. With --endpoint URL: any SPARQL
    1.1 server (query, update and Graph Store Protocol); for Virtuoso pass
    --endpoint http://HOST:8890/sparql-auth --user dba with the password in $RDFEXPORT_PASSWORD.

    With --prune, figures removed from the source leave the store too (docs/LOADING.md).
    """

    def action() -> int:
        from rdfexport.graph import ExportStats, store_void
        from rdfexport.pipeline import build_graphs

        present = prune_inputs(paths, shard) if prune else None

        options = replace(scaled(export_options(engine, limits), jobs, shard,
                                 incremental, cache, store_dir.with_name(store_dir.name + ".cache"),
                                 validate, shapes, shacl_engine=shacl_engine),
                      cache_data=False)
        findings = tally(validate)
        export_stats = ExportStats()
        failed: list[Path] = []
        checked = Checked(_failed_paths(build_graphs(paths, options, export_stats, findings),
                                        failed), validate, shapes, verbose, findings)

        def keep() -> set[str] | None:
            """Figure graphs --prune keeps besides those just loaded: every figure file of
            the input, readable or not, by its name and by the figid written in it."""
            if present is None:
                return None
            from rdfexport import sources
            from rdfexport.vocab import figure_iri

            figids = set(present)
            for path in failed:
                figids |= sources.figids_of_failed(path)
            return {figure_iri(f) for f in figids}

        void = store_void(export_stats)

        show = stderr_is_terminal() if progress is None else progress
        with open_target(store_dir, endpoint, graph_store, update_endpoint, user, auth,
                         server_type, retries) as store:
            if show:
                with click.progressbar(length=count_figure_files(paths) if present is None
                                       else len(present), label="loading",
                                       file=click.get_text_stream("stderr"),
                                       show_pos=True) as bar:
                    stats = store.load(checked, void=void, progress=_advance(bar),
                                       force=force, prune=keep if prune else None)
            else:
                stats = store.load(checked, void=void, force=force,
                                   prune=keep if prune else None)
            target = store.target
        if not quiet:
            tail = ""
            if checked.errors:
                tail += f"; {checked.errors} files failed"
            if checked.validate:
                from rdfexport.validate import summary_line

                tail += f"; {summary_line(checked.findings)}"
            error(f"loaded into {target}: {stats.summary()}{tail}")
        return int(checked.exit_code(fail_on)) if checked.errors or validate else ExitCode.OK

    run(action)


def prune_inputs(paths: Iterable[Path], shard: str | None) -> list[str]:
    """The figids --prune keeps: refused with --shard, which sees only part of the input."""
    from rdfexport.sources import source_figids

    if shard:
        raise UsageError(f"--prune cannot be used with --shard {shard}: a shard sees only part "
                         "of the input, so every figure of the other shards would look removed "
                         "and be dropped",
                         fix="load all shards without --prune, then run `rdfexport load PATH... "
                         "--incremental --prune` once over the whole input")
    return source_figids(paths)


def _failed_paths(items: Iterable[object], failed: list[Path]) -> Iterator[object]:
    for item in items:
        if isinstance(item, InputError) and item.path is not None:
            failed.append(Path(item.path))
        yield item


def _advance(bar) -> Callable[[int, int], None]:  # type: ignore[no-untyped-def]
    done = 0

    def update(figures: int, triples: int) -> None:
        nonlocal done
        bar.update(figures - done)
        done = figures

    return update
