"""``rdfexport convert``: figure files -> RDF in any standard format."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from rdfexport.cli import error, main, run, stderr_is_terminal
from rdfexport.errors import ExitCode, InputError, UsageError
from rdfexport.formats import FORMATS, Writer, guess_format
from rdfexport.graph import DEFAULT_ENGINE, ENGINES, ExportStats, FigureGraph, void_quads
from rdfexport.pipeline import (
    DEFAULT_SHACL_ENGINE,
    SHACL_ENGINES,
    ExportOptions,
    build_graphs,
    parse_shard,
)
from rdfexport.sources import Limits

SEVERITIES = ("violation", "warning", "info")


def export_options(engine: str, limits: Limits) -> ExportOptions:
    return ExportOptions(engine=engine, limits=limits)


def scale_options(f, progress: bool = True):
    """--jobs, --shard, --incremental, --cache (docs/SCALING.md)."""
    if progress:
        f = click.option("--progress/--no-progress", default=None,
                         help="Progress bar (default: when standard error is a terminal).")(f)
    f = click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path),
                     default=None,
                     help="Cache folder for --incremental (default: OUTPUT.cache, STORE.cache).")(f)
    f = click.option("--incremental", is_flag=True,
                     help="Rebuild only figures whose files, tables or organism pages changed.")(f)
    f = click.option("--shard", default=None, metavar="K/N",
                     help="Export only part K of N (by a hash of the file name), for N "
                          "machines.")(f)
    return jobs_option(f)


def jobs_option(f):
    return click.option("-j", "--jobs", type=click.IntRange(0), default=0, show_default=True,
                        help="Worker processes (0: one per core, plus one).")(f)


def scaled(options: ExportOptions, jobs: int, shard: str | None, incremental: bool,
           cache: Path | None, default_cache: Path, validate: bool = False,
           shapes: Path | None = None, progress: bool = False,
           shacl_engine: str = DEFAULT_SHACL_ENGINE) -> ExportOptions:
    return replace(options, jobs=jobs,  # 0: build_graphs picks (pipeline.default_jobs)
                   shard=parse_shard(shard) if shard else None, validate=validate,
                   shapes=shapes, shacl_engine=shacl_engine, progress=progress,
                   incremental=incremental,
                   cache=cache or (default_cache if incremental else None))


# --option -> Limits field, help; every command that reads figure files takes all of them.
LIMIT_OPTIONS = {
    "max_file_size": ("max_file_bytes", "Largest figure file read, in bytes"),
    "max_aliases": ("max_aliases", "YAML aliases allowed per file"),
    "max_depth": ("max_depth", "Deepest YAML nesting read"),
    "max_yaml_nodes": ("max_yaml_nodes", "Most YAML nodes per file once aliases are expanded"),
}


def input_options(f):
    """PATH... , --engine and the input limits, which reach the command as one ``limits``."""

    @functools.wraps(f)
    def with_limits(*args, **kwargs):
        given = {field: kwargs.pop(name) for name, (field, _) in LIMIT_OPTIONS.items()}
        kwargs["limits"] = Limits(**{k: v for k, v in given.items() if v is not None})
        return f(*args, **kwargs)

    for name, (field, text) in reversed(LIMIT_OPTIONS.items()):
        default = getattr(Limits(), field)
        with_limits = click.option(f"--{name.replace('_', '-')}", name,
                                   type=click.IntRange(0 if name == "max_aliases" else 1),
                                   default=None, help=f"{text} (default {default:,}).")(with_limits)
    with_limits = click.option(
        "--engine", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True,
        help="How graphs are built: direct (fastest), oxigraph (pyoxigraph's JSON-LD parser) "
             "or pyld (the JSON-LD processor of record); docs/DESIGN.md says how they are "
             "proven equal.")(with_limits)
    return click.argument("paths", nargs=-1, required=True,
                          type=click.Path(path_type=Path))(with_limits)


def shacl_engine_option(f):
    return click.option(
        "--shacl-engine", type=click.Choice(SHACL_ENGINES), default=DEFAULT_SHACL_ENGINE,
        show_default=True, help="SHACL engine: shacl-rust (fast) or pySHACL (of record); tests "
                                "show both report the same results.")(f)


def validation_options(f):
    f = shacl_engine_option(f)
    f = click.option("--shapes", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     default=None, help="Folder of SHACL shapes (default: the bundled ones).")(f)
    f = click.option("--fail-on", type=click.Choice(SEVERITIES), default="violation",
                     show_default=True, help="Exit 1 when findings reach this severity.")(f)
    f = click.option("--validate/--no-validate", default=True, show_default=True,
                     help="Check each figure against the SHACL shapes.")(f)
    return f


def tally(validate: bool) -> Any:
    """Where the workers' findings go: a :class:`rdfexport.validate.Tally`, which keeps counts,
    not the findings (the ``validate`` command is the one that reports each)."""
    if not validate:
        return []
    from rdfexport.validate import Tally

    return Tally()


class Checked:
    """Pass figure graphs through, printing bad files; the pipeline's workers validate them and
    fill ``findings``, which this turns into the summary and the exit status."""

    def __init__(self, items, validate: bool, shapes: Path | None, verbose: bool,
                 findings: list) -> None:
        self.items = items
        self.errors = 0
        self.findings = findings
        self.verbose = verbose
        self.validate = validate
        if validate:  # unreadable shapes: fail before any work, not inside a worker
            from rdfexport.validate import load_shapes

            load_shapes(shapes)

    def __iter__(self) -> Iterator[FigureGraph]:
        for item in self.items:
            if isinstance(item, InputError):
                self.errors += 1
                error(f"error: {item.message}")
                continue
            if self.verbose:
                for repair in item.figure.repairs:
                    error(f"note: {repair}")
            yield item

    def exit_code(self, fail_on: str) -> ExitCode:
        if self.errors:
            return ExitCode.BAD_INPUT
        if self.validate:
            from rdfexport.validate import Severity, reaches

            if reaches(self.findings, Severity.parse(fail_on)):
                return ExitCode.FINDINGS
        return ExitCode.OK

    def summary(self, stats: ExportStats) -> str:
        parts = [f"{stats.figures} figures, {stats.triples} triples"]
        if self.errors:
            parts.append(f"{self.errors} files failed")
        if stats.repairs:
            parts.append(f"{stats.repairs} repairs (-v lists them)")
        if self.validate:
            from rdfexport.validate import summary_line

            parts.append(summary_line(self.findings))
        return "; ".join(parts)


@main.command()
@input_options
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Output file ('-': standard output); a .gz suffix compresses.")
@click.option("-f", "--format", "fmt", type=click.Choice(list(FORMATS)), default=None,
              help="Output format (default: from the output suffix, else turtle).")
@validation_options
@scale_options
@click.option("-v", "--verbose", is_flag=True, help="List every repair made to the input.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def convert(paths, engine, limits, output, fmt, validate, fail_on, shapes, shacl_engine, jobs,
            shard, incremental, cache, progress, verbose, quiet):
    """Export figure files, folders or site checkouts (PATH...) to RDF.

    Bad files are reported and skipped; the rest is still written, and the exit status is 2.
    An OUTPUT ending in '/' (or an existing folder) receives N-Quads parts that concatenate to
    the export (part-NNN.nq, void.nq); with --incremental only the changed parts are rewritten.
    """

    def action() -> int:
        parts = output != "-" and (output.endswith("/") or Path(output).is_dir())
        out_format = FORMATS["nquads"] if parts else guess_format(
            None if output == "-" else output, fmt)
        if parts and fmt not in (None, "nquads"):
            raise UsageError("a folder output holds N-Quads parts",
                             fix="drop -f, or give a file name")
        default_cache = Path(".rdfexport-cache" if output == "-" else output + ".cache")
        options = scaled(export_options(engine, limits), jobs, shard, incremental,
                         Path(output) if parts else cache, default_cache, validate, shapes,
                         stderr_is_terminal() if progress is None else progress, shacl_engine)
        options = replace(options, digests=False)  # a file needs none; a cache makes its own
        stats = ExportStats()
        findings = tally(validate)
        checked = Checked(build_graphs(paths, options, stats, findings), validate, shapes,
                          verbose, findings)
        if parts:  # the pipeline writes the parts (they are its cache); here only the VoID
            for _ in checked:
                pass
            with Writer(Path(output) / "void.nq", out_format) as writer:
                writer.write_all([], lambda: void_quads(stats))
        else:
            with Writer(output, out_format) as writer:
                writer.write_all(checked, lambda: void_quads(stats))
        if not quiet:
            error(checked.summary(stats))
        return checked.exit_code(fail_on)

    run(action)
