"""Compact JSON-LD nodes under one fixed context -> N-Quads lines, without a JSON-LD processor.

``jsonld.figure_nodes`` writes a figure's front matter as compact JSON-LD nodes under the project
context (``contexts/pfocr.jsonld``). Those nodes use a small, fixed part of JSON-LD: terms mapped
to IRIs, ``@type: @id`` and datatype coercion, ``@language``, keyword aliases for ``@id`` and
``@type``, string values, lists of them, and ``{"@value": text}`` objects. This module reads the
context ONCE into a table (term -> predicate, how its strings become RDF terms) and then writes
the lines of a figure with string operations only: ~10x cheaper than building the JSON-LD
document and handing it to any processor.

The writer interprets exactly that subset, as JSON-LD 1.1 (and pyld, the processor of record)
define it, and nothing more: anything else it meets (an unknown key, a term the table refused, a
number, a nested node, an IRI that is not a plain absolute ``http(s)`` IRI accepted by
pyoxigraph...) raises :class:`Unsupported`, and the caller must convert that figure with a real
JSON-LD processor instead. It never guesses. Lines come out exactly as pyoxigraph's N-Quads
serializer writes them (``graph.finish`` sorts and hashes them); tests/test_engines.py proves
byte equality with pyld on the whole sample and on generated figures.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from typing import Any

import pyoxigraph as ox

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_GEN_DELIMS = tuple(":/?#[]@")
# A value the writer takes as an IRI: absolute http(s), which pyld returns untouched (a suffix
# starting with '//' is never a compact IRI) and keeps (no whitespace: its absolute-IRI test is
# `[^\s]*`); pyoxigraph must also accept it (checked once per IRI).
_HTTP_IRI = re.compile(r'https?://[^\s<>"{}|^`\\]*')
_ROUNDTRIP = '<http://example.org/s> <http://example.org/p> "x"{} <http://example.org/g> .\n'


class Unsupported(ValueError):
    """The nodes hold something this writer does not interpret: use a JSON-LD processor."""


@dataclass(frozen=True)
class Predicate:
    """How one term's values become N-Quads: `` <p> `` and, for strings, IRI or literal."""

    text: str  # " <iri> ", ready to go between subject and object
    iri_valued: bool  # "@type": "@id": a string value is an IRI
    suffix: str = ""  # after a literal's quoted form: "", "@en", "^^<datatype>"


@dataclass(eq=False)  # hashed by identity: _compiled() keeps one writer form per table
class ContextTable:
    """A JSON-LD context read once, for the subset of JSON-LD the writer handles."""

    ids: frozenset[str] = frozenset({"@id"})  # keys meaning @id (the keyword and its aliases)
    types: frozenset[str] = frozenset({"@type"})
    classes: dict[str, str] = field(default_factory=dict)  # @type value (a term) -> "<iri>"
    predicates: dict[str, Predicate] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # term -> why it is left to JSON-LD
    problem: str | None = None  # set when the context as a whole is beyond the writer


def _roundtrip_suffix(suffix: str) -> str | None:
    """The literal suffix (``@en``, ``^^<dt>``) exactly as pyoxigraph writes it after reading it,
    which is what the JSON-LD engines' output goes through; None if pyoxigraph refuses it."""
    try:
        quads = list(ox.parse(_ROUNDTRIP.format(suffix).encode(), format=ox.RdfFormat.N_QUADS))
        line = ox.serialize(quads, format=ox.RdfFormat.N_QUADS).decode()
    except (SyntaxError, ValueError):
        return None
    start = line.index('"x"') + 3
    return line[start:line.index(" <http://example.org/g> .", start)]


def _checked_iri(value: str) -> str | None:
    if not _HTTP_IRI.fullmatch(value):
        return None
    try:
        ox.NamedNode(value)
    except ValueError:
        return None
    return value


def interpret(context: dict[str, Any]) -> ContextTable:
    """Read a JSON-LD context (the value of ``@context``) into a :class:`ContextTable`.

    Handled: ``@version`` 1.1; prefixes (simple terms whose IRI ends in a gen-delim); keyword
    aliases of ``@id`` and ``@type``; terms mapped to an absolute or compact IRI, simply or with
    ``@id`` plus one of ``@type: @id``, ``@type: <datatype>``, ``@language``, and an optional
    ``@container: @set``. Any other term is refused (figures using it go to a JSON-LD processor);
    any other context keyword (``@vocab``, ``@base``, a default ``@language``...) sets ``problem``
    and every figure goes to a JSON-LD processor.
    """
    table = ContextTable()
    if not isinstance(context, dict):
        table.problem = "the context is not one inline object"
        return table
    for key, value in context.items():
        if key.startswith("@") and not (key == "@version" and value == 1.1):
            table.problem = f"context keyword {key!r}"
            return table
    prefixes = {k: v for k, v in context.items()
                if isinstance(v, str) and not k.startswith("@") and ":" not in k
                and v.endswith(_GEN_DELIMS) and _absolute(v)}

    def expand(value: Any) -> str | None:
        """A term definition's IRI, as JSON-LD expands it (compact or absolute); None if not."""
        if not isinstance(value, str) or value in context or ":" not in value:
            return None
        prefix, suffix = value.split(":", 1)
        if prefix == "_":
            return None
        if suffix.startswith("//"):
            return value
        if prefix in prefixes:
            return prefixes[prefix] + suffix
        return None

    ids, types = {"@id"}, {"@type"}
    for term, definition in context.items():
        if term.startswith("@"):
            continue
        if ":" in term or "/" in term or term == "":
            table.refused[term] = "a term that looks like an IRI"
            continue
        if definition == "@id":
            ids.add(term)
            continue
        if definition == "@type":
            types.add(term)
            continue
        if isinstance(definition, str):
            definition = {"@id": definition}
        if not isinstance(definition, dict):
            table.refused[term] = f"definition {definition!r}"
            continue
        extra = set(definition) - {"@id", "@type", "@language", "@container"}
        container = definition.get("@container", "@set")
        if extra or container not in ("@set", ["@set"]):
            table.refused[term] = f"definition keys {sorted(definition)}"
            continue
        iri = expand(definition.get("@id"))
        if iri is None or _checked_iri(iri) is None:
            table.refused[term] = f"IRI {definition.get('@id')!r}"
            continue
        table.classes[term] = f"<{iri}>"
        coerce, language = definition.get("@type"), definition.get("@language")
        if coerce is not None and language is not None:
            table.refused[term] = "both @type and @language"
            continue
        if coerce == "@id":
            table.predicates[term] = Predicate(f" <{iri}> ", True)
            continue
        if coerce is not None:
            datatype = expand(coerce)
            suffix = _roundtrip_suffix(f"^^<{datatype}>") if datatype else None
        elif language is not None:
            suffix = (_roundtrip_suffix(f"@{language.lower()}")  # pyld lowercases it too
                      if isinstance(language, str) else None)
        else:
            suffix = ""
        if suffix is None:
            table.refused[term] = f"@type {coerce!r} / @language {language!r}"
            continue
        table.predicates[term] = Predicate(f" <{iri}> ", False, suffix)
    table.ids, table.types = frozenset(ids), frozenset(types)
    for term in (*ids, *types):
        table.predicates.pop(term, None)
    return table


def _absolute(iri: str) -> bool:
    return _checked_iri(iri) is not None


@cache
def project_table() -> ContextTable:
    """The table of the project context ``contexts/pfocr.jsonld``, read once per process."""
    from rdfexport import jsonld

    return interpret(jsonld.bundled_context(jsonld.PFOCR_CONTEXT_URL)["@context"])


# IRIs already checked, rendered b"<iri>"; shared nodes (genes, taxa, licence) repeat across
# figures. Cleared when large, so memory stays bounded on any corpus.
_IRIS: dict[str, bytes] = {}
_IRIS_MAX = 50_000


def _iri(value: Any) -> bytes:
    text = _IRIS.get(value) if type(value) is str else None
    if text is None:
        if type(value) is not str or _checked_iri(value) is None:
            raise Unsupported(f"not an absolute http(s) IRI: {value!r}")
        if len(_IRIS) >= _IRIS_MAX:
            _IRIS.clear()
        text = _IRIS[value] = f"<{value}>".encode()
    return text


def _literal(value: str) -> str:
    """A string as pyoxigraph writes it. Printable text without quote or backslash is written as
    it is (pyoxigraph escapes only controls, U+FFFE, U+FFFF, quote and backslash, none of which
    is printable text); anything else is left to pyoxigraph itself."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    try:
        return str(ox.Literal(value))
    except (UnicodeError, ValueError) as err:  # a lone surrogate: no RDF can hold it
        raise Unsupported(f"cannot write the string {value!r}") from err


class _Term:
    """One term in the writer's form, with the "<predicate> object" texts of values seen."""

    __slots__ = ("cache", "iri_valued", "key", "predicate", "suffix", "text")

    def __init__(self, p: Predicate) -> None:
        self.text = p.text[1:]  # "<p> "
        self.predicate = self.text.encode()
        self.key = self.predicate[:-1]  # b"<p>": what grouped() groups lines by
        self.iri_valued = p.iri_valued
        self.suffix = p.suffix
        self.cache: dict[str, bytes] = {}

    def po(self, value: Any) -> bytes | None:
        """b"<p> object" for one value; None for null (JSON-LD drops it)."""
        if type(value) is str:
            if self.iri_valued:
                po = self.predicate + _iri(value)
            else:
                po = f"{self.text}{_literal(value)}{self.suffix}".encode()
            if len(value) <= 100:  # short values repeat (sources, counts, symbols, genes)
                if len(self.cache) >= 4_096:  # bounded: a few MB for all terms
                    self.cache.clear()
                self.cache[value] = po
            return po
        if value is None:
            return None
        if type(value) is dict and len(value) == 1 and type(value.get("@value")) is str:
            return f"{self.text}{_literal(value['@value'])}".encode()  # never coerced
        raise Unsupported(f"value {value!r}")


class _Types(_Term):
    """``@type`` (or an alias): its values are terms, each the object of an ``rdf:type``."""

    def __init__(self, classes: dict[str, str]) -> None:
        self.cache = {k: f"{RDF_TYPE} {c}".encode() for k, c in classes.items()}
        self.key = RDF_TYPE.encode()

    def po(self, value: Any) -> bytes | None:
        raise Unsupported(f"@type {value!r} is not a term")


_ID = _Types({})  # @id (or an alias): the subject, skipped among the properties


@cache
def _compiled(table: ContextTable) -> dict[str, _Term]:
    """The table in the writer's form: key -> _Term (``_ID`` for the keys meaning @id)."""
    terms: dict[str, _Term] = {k: _Term(p) for k, p in table.predicates.items()}
    types = _Types(table.classes)
    terms.update({k: types for k in table.types})
    terms.update({k: _ID for k in table.ids})
    return terms


class Fixed(dict):  # type: ignore[type-arg]
    """A node that is never changed once made, shared by many figures (a gene): ``grouped``
    writes its lines once per process and table (~40 % of a figure's front-matter lines)."""

    __slots__ = ()


# id(node) -> (node, table, its lines by predicate); holding the node keeps its id unused.
_FIXED: dict[int, tuple[Fixed, ContextTable, tuple[tuple[bytes, list[bytes]], ...]]] = {}
_FIXED_MAX = 50_000


def triples(nodes: Iterable[Any], table: ContextTable | None = None) -> list[bytes]:
    """The triples of compact JSON-LD ``nodes`` under the table's context, each as UTF-8
    N-Triples text without the final `` .`` (subject, predicate, object separated by one space):
    unsorted, maybe repeated. Raises :class:`Unsupported` for anything beyond the writer's subset.
    """
    return list(chain.from_iterable(grouped(nodes, table).values()))


def grouped(nodes: Iterable[Any], table: ContextTable | None = None) -> dict[bytes, list[bytes]]:
    """:func:`triples` by predicate: ``b"<p>" -> lines``. Validation reads a figure's lines a
    predicate at a time (``shacl_split.Split.fold_lines``), so the writer, which knows each
    line's predicate, keeps them apart instead of validation splitting every line again."""
    t = table or project_table()
    if t.problem:
        raise Unsupported(t.problem)
    terms = _compiled(t)
    primary, *others = sorted(t.ids, key=lambda k: k.startswith("@"))  # "id" before "@id"
    groups: defaultdict[bytes, list[bytes]] = defaultdict(list)
    for node in nodes:
        target = groups
        if type(node) is not dict:
            if type(node) is not Fixed:
                raise Unsupported(f"a node that is not an object: {node!r}")
            known_groups = _FIXED.get(id(node))
            if known_groups is not None and known_groups[1] is t:
                for key, lines in known_groups[2]:
                    groups[key] += lines
                continue
            target = defaultdict(list)
        subject = node.get(primary)
        for k in others:
            if k in node:
                raise Unsupported(f"a node with {k!r} (the writer reads {primary!r})")
        s = _iri(subject) + b" "
        for key, value in node.items():
            term = terms.get(key)
            if term is None:
                raise Unsupported(f"key {key!r}: {t.refused.get(key, 'not a term')}")
            if term is _ID:
                continue
            known = term.cache
            if type(value) is str:
                target[term.key].append(s + (known.get(value) or term.po(value)))  # type: ignore[operator]
                continue
            if type(value) is not list:
                value = (value,)
            bucket = target[term.key]
            for v in value:
                po = (known.get(v) if type(v) is str else None) or term.po(v)
                if po is not None:
                    bucket.append(s + po)
        if target is not groups:
            if len(_FIXED) >= _FIXED_MAX:
                _FIXED.clear()
            items = tuple((k, v) for k, v in target.items() if v)
            _FIXED[id(node)] = (node, t, items)  # type: ignore[index]
            for key, lines in items:
                groups[key] += lines
    return groups
