"""The bundled example queries: one ``NAME.rq`` file each, starting with a ``# description``
line and a full PREFIX block, so each one runs as is on any SPARQL 1.1 store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from rdfexport.errors import UsageError


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


_VALUES = re.compile(r"VALUES\s+\?(\w+)\s*\{[^{}]*\}", re.IGNORECASE)
_PREFIXED = re.compile(r"([A-Za-z][\w.-]*)?:[^\s<>\"{}]*")


def bind(text: str, values: dict[str, list[str]]) -> str:
    """``text`` with the one-variable ``VALUES ?name { ... }`` block of each ``name`` replaced
    by ``values[name]``, so that a researcher asks for another gene or organism without
    editing the query. A value is written as an IRI when it is ``<...>``, an http(s) address or
    a prefixed name whose prefix the query declares; otherwise as a string."""
    present = {m.group(1) for m in _VALUES.finditer(text)}
    for name in values:
        if name not in present:
            raise UsageError(
                f"the query has no 'VALUES ?{name} {{ ... }}' line to bind",
                fix=("bind one of: " + ", ".join(sorted(present))) if present
                else "this query takes no values; edit it, or give your own with QUERY")
    declared = {m.group(1) for m in re.finditer(r"PREFIX\s+([\w.-]*):", text, re.IGNORECASE)}

    def term(value: str) -> str:
        if value.startswith("<") and value.endswith(">") and " " not in value:
            return value
        if re.match(r"https?://\S+$", value) and not re.search(r"[<>\"{}|^`\\]", value):
            return f"<{value}>"
        m = _PREFIXED.fullmatch(value)
        if m and (m.group(1) or "") in declared:
            return value
        escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                   .replace("\r", "\\r").replace("\t", "\\t"))
        return f'"{escaped}"'

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            return m.group(0)
        return f"VALUES ?{name} {{ {' '.join(term(v) for v in values[name])} }}"

    return _VALUES.sub(replace, text)
