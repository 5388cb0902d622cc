"""The ``rdfexport`` command: a thin click layer over the library.

Each command parses options, calls one or two library functions, prints, and leaves the mapping
of exceptions to exit codes to :func:`run`, so every command exits the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from rdfexport import __version__
from rdfexport.errors import ExitCode, RdfExportError


def run(action: Callable[[], int | None]) -> None:
    """Run a command body; map rdfexport errors to their exit code with one clear line."""
    try:
        code = action()
    except RdfExportError as err:
        click.echo(f"error: {err.message}", err=True)
        raise SystemExit(int(err.exit_code)) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(130) from None
    raise SystemExit(int(code or ExitCode.OK))


def error(message: str) -> None:
    click.echo(message, err=True)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rdfexport")
def main() -> None:
    """Export PFOCR pathway figures to RDF, validate them and load them into SPARQL stores.

    Exit codes: 0 ok, 1 validation findings at or above --fail-on, 2 bad input or usage,
    3 store or network failure.
    """
    from rdfexport.pipeline import collect_less

    collect_less()


def _register() -> None:
    from rdfexport.cli import convert as _convert  # noqa: F401

    for name in ("validate", "load", "query"):
        try:
            __import__(f"rdfexport.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"rdfexport.cli.{name}":
                raise


_register()
