"""One exception tree and the exit codes every command shares.

Each error carries where it happened (file, line) and what to do about it, so that the CLI can
print one useful line per problem and a batch can collect problems instead of stopping at the
first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Documented in the README; the same for every command."""

    OK = 0
    FINDINGS = 1  # validation findings at or above --fail-on
    BAD_INPUT = 2  # bad input files or bad usage
    STORE = 3  # store, network or server failure


class RdfExportError(Exception):
    """Base of every error rdfexport raises on purpose."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.line = line
        self.fix = fix
        super().__init__(self.message)

    @property
    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.problem}" if self.where else self.problem
        return f"{text} ({self.fix})" if self.fix else text

    def __str__(self) -> str:
        return self.message


class InputError(RdfExportError):
    """A figure file, table or organism page that cannot be read as PFOCR data."""


class LimitError(InputError):
    """An input over a configured limit (file size, YAML aliases, nesting)."""


class RemoteContextError(InputError):
    """A JSON-LD document names a context that is not bundled; nothing is ever fetched."""


class UsageError(RdfExportError):
    """Bad options or arguments."""


class OutputError(RdfExportError):
    """The output cannot be written."""


class ValidationConfigError(RdfExportError):
    """Shapes that cannot be read or used."""


class StoreError(RdfExportError):
    """A triple store refused, failed or could not be reached."""

    exit_code = ExitCode.STORE


@dataclass(frozen=True)
class Repair:
    """A known defect of the published data that the exporter repaired; reported, never silent."""

    path: str
    figid: str
    key: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: repaired {self.key}: {self.message}"
