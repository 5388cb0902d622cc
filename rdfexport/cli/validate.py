"""``rdfexport validate``: check figure files against the SHACL shapes and report findings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from rdfexport.cli import error, main, run
from rdfexport.cli.convert import (
    SEVERITIES,
    export_options,
    input_options,
    jobs_option,
    shacl_engine_option,
)
from rdfexport.errors import ExitCode, OutputError


@main.command()
@input_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "turtle", "html"]),
              default="text", show_default=True,
              help="Report format: text (by figure, file:line), json, turtle (the standard "
                   "sh:ValidationReport) or html (one page for a browser).")
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Write the report to FILE ('-': standard output).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="violation",
              show_default=True, help="Exit 1 when findings reach this severity.")
@click.option("--shapes", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Folder of SHACL shapes (*.ttl; default: the bundled ones).")
@shacl_engine_option
@jobs_option
def validate(paths, engine, limits, fmt, output, fail_on, shapes,
             shacl_engine, jobs):
    """Validate figure files, folders or site checkouts (PATH...) before publishing.

    Exit status: 0 no finding at or above --fail-on, 1 findings at or above it, 2 unreadable
    files or bad usage (the report on the readable files is still written).
    """

    def action() -> int:
        from rdfexport import report
        from rdfexport.validate import Severity, Validator, reaches, summary_line, validate_paths

        threshold = Severity.parse(fail_on)
        validator = Validator(shapes, engine=shacl_engine)
        options = replace(export_options(engine, limits), jobs=jobs)
        outcome = validate_paths(paths, options, validator)
        for err in outcome.errors:
            error(f"error: {err.message}")
        text = report.render(fmt, outcome.findings, outcome.figures, threshold)
        if output == "-":
            click.echo(text, nl=False)
        else:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as err:
                raise OutputError(f"cannot write the report: {err.strerror}", path=output,
                                  fix="choose a writable file with -o") from None
        error(summary_line(outcome.findings, outcome.figures))
        if outcome.errors:
            return ExitCode.BAD_INPUT
        return ExitCode.FINDINGS if reaches(outcome.findings, threshold) else ExitCode.OK

    run(action)
