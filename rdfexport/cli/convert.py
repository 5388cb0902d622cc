"""``rdfexport convert``: figure files -> RDF in any standard format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from rdfexport.cli import error, main, run
from rdfexport.errors import ExitCode, InputError
from rdfexport.formats import FORMATS, Writer, guess_format
from rdfexport.graph import ENGINES, ExportStats, FigureGraph, void_quads
from rdfexport.pipeline import ExportOptions, build_graphs
from rdfexport.sources import Limits

SEVERITIES = ("violation", "warning", "info")


def export_options(engine: str, max_file_size: int | None, max_aliases: int | None) -> ExportOptions:
    defaults = Limits()
    return ExportOptions(engine=engine, limits=Limits(
        max_file_bytes=max_file_size if max_file_size is not None else defaults.max_file_bytes,
        max_aliases=max_aliases if max_aliases is not None else defaults.max_aliases))


def input_options(f):
    """Options shared by every command that reads figure files."""
    f = click.option("--max-aliases", type=click.IntRange(0), default=None,
                     help=f"YAML aliases allowed per file (default {Limits().max_aliases}).")(f)
    f = click.option("--max-file-size", type=click.IntRange(1), default=None, metavar="BYTES",
                     help=f"Largest figure file read (default {Limits().max_file_bytes:,}).")(f)
    f = click.option("--engine", type=click.Choice(ENGINES), default="oxigraph", show_default=True,
                     help="JSON-LD processor: pyoxigraph (fast) or pyld (of record); "
                          "both give the same graphs.")(f)
    f = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))(f)
    return f


def validation_options(f):
    f = click.option("--shapes", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     default=None, help="Folder of SHACL shapes (default: the bundled ones).")(f)
    f = click.option("--fail-on", type=click.Choice(SEVERITIES), default="violation",
                     show_default=True, help="Exit 1 when findings reach this severity.")(f)
    f = click.option("--validate/--no-validate", default=True, show_default=True,
                     help="Check each figure against the SHACL shapes.")(f)
    return f


class Checked:
    """Pass figure graphs through, printing bad files and collecting validation findings."""

    def __init__(self, items, validate: bool, shapes: Path | None, verbose: bool) -> None:
        self.items = items
        self.errors = 0
        self.findings: list = []
        self.verbose = verbose
        self.validator = None
        if validate:
            from rdfexport.validate import Validator

            self.validator = Validator(shapes)

    def __iter__(self) -> Iterator[FigureGraph]:
        for item in self.items:
            if isinstance(item, InputError):
                self.errors += 1
                error(f"error: {item.message}")
                continue
            if self.verbose:
                for repair in item.figure.repairs:
                    error(f"note: {repair}")
            if self.validator is not None:
                self.findings.extend(self.validator.validate(item))
            yield item

    def exit_code(self, fail_on: str) -> ExitCode:
        if self.errors:
            return ExitCode.BAD_INPUT
        if self.validator is not None:
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
        if self.validator is not None:
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
@click.option("-v", "--verbose", is_flag=True, help="List every repair made to the input.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def convert(paths, engine, max_file_size, max_aliases, output, fmt, validate, fail_on, shapes,
            verbose, quiet):
    """Export figure files, folders or site checkouts (PATH...) to RDF.

    Bad files are reported and skipped; the rest is still written, and the exit status is 2.
    """

    def action() -> int:
        out_format = guess_format(None if output == "-" else output, fmt)
        options = export_options(engine, max_file_size, max_aliases)
        stats = ExportStats()
        checked = Checked(build_graphs(paths, options, stats), validate, shapes, verbose)
        with Writer(output, out_format) as writer:
            writer.write_all(checked, lambda: void_quads(stats))
        if not quiet:
            error(checked.summary(stats))
        return checked.exit_code(fail_on)

    run(action)
