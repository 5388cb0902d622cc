"""The bundled example queries: one ``NAME.rq`` file each, starting with a ``# description``
line and a full PREFIX block, so each one runs as is on any SPARQL 1.1 store."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Example:
    name: str
    description: str
    text: str


def examples() -> dict[str, Example]:
    """Every bundled query by name, sorted."""
    found: dict[str, Example] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".rq"):
            text = entry.read_text(encoding="utf-8")
            first = text.splitlines()[0] if text else ""
            name = entry.name[: -len(".rq")]
            found[name] = Example(name, first.lstrip("#").strip(), text)
    return found


def example(name: str) -> Example:
    """One bundled query; KeyError lists nothing, callers say which names exist."""
    return examples()[name]
