"""What each part of the shapes can see: shacl-rust validates a batch on less data.

shacl-rust copies the whole data graph into a SPARQL dataset for every SPARQL-based constraint,
and its cost for the rest grows with every triple it reads in. Measured on 1,000 generated
figures (~490 triples each): the three SPARQL shapes of the bundled set cost ~0.6 ms a figure
on the whole data and ~0.17 ms on the triples they read; the other shapes ~0.75 ms on the whole
data and ~0.54 ms on the two thirds of it whose predicates they read. So the shapes are split
once, when they are loaded:

- a *separable* shape is a node shape whose only constraint is ``sh:sparql`` with ``sh:select``
  queries in which every triple pattern reads ``$this <iri> ...``, whose targets are
  ``sh:targetClass`` only and which no other shape refers to. Its focus nodes are the subjects
  of ``rdf:type <class>`` triples and its queries match only the focus node's triples with the
  predicates they name;
- the other shapes (the *core*) read only triples whose predicate is in a path or target of
  theirs, ``rdf:type`` or ``rdfs:subClassOf`` (``sh:class``), unless one is ``sh:closed``,
  keeps a SPARQL constraint or uses a parameter beyond SHACL Core: then they see everything.

A graph holding every triple a part can read, and a subset of the rest, gives that part the
same results (a triple pattern with a fixed predicate matches only triples with it). With
``rdfs:subClassOf`` in the data, which widens ``sh:targetClass``, everything runs on the whole
data. tests/test_validate_engines.py checks the union of the runs against one run on the sample
with every shape violated, and against pySHACL.

The core run also reads each *folded* value once (:class:`Fold`): where every shape reading a
predicate judges its values one at a time (a pattern, a datatype, never a count), a value that
many focus nodes share (a keyword, a mention's count: ~40 % of a figure's core lines) is read
with one of them and its results are copied to the others.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain

import rdflib
from rdflib import RDF, RDFS, BNode, URIRef, Variable
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.plugins.sparql.parserutils import CompValue

SUBCLASS_OF = f"<{RDFS.subClassOf}>".encode()
_TYPE = f"<{RDF.type}>".encode()

# What a separable shape may say besides its sh:sparql constraints.
_SHAPE_KEYS = {SH.targetClass, SH.severity, SH.message, SH.sparql, SH.deactivated, SH.name,
               SH.description, SH.order, SH.group}
_CONSTRAINT_KEYS = {SH.select, SH.message, SH.deactivated}
# SHACL Core parameters: with only these, a shape reads no triple outside its paths, targets,
# property pairs and rdf:type/rdfs:subClassOf.
_CORE_KEYS = {SH[k] for k in (
    "targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf", "property", "path",
    "node", "class", "datatype", "nodeKind", "minCount", "maxCount", "minExclusive",
    "minInclusive", "maxExclusive", "maxInclusive", "minLength", "maxLength", "pattern", "flags",
    "languageIn", "uniqueLang", "equals", "disjoint", "lessThan", "lessThanOrEquals", "not",
    "and", "or", "xone", "qualifiedValueShape", "qualifiedMinCount", "qualifiedMaxCount",
    "qualifiedValueShapesDisjoint", "hasValue", "in", "severity", "message", "deactivated",
    "name", "description", "order", "group", "defaultValue", "alternativePath", "inversePath",
    "zeroOrMorePath", "oneOrMorePath", "zeroOrOnePath")}
_PAIRS = (SH.path, SH.targetSubjectsOf, SH.targetObjectsOf, SH.equals, SH.disjoint,
          SH.lessThan, SH.lessThanOrEquals)
# Query parts that read other graphs or run a query of their own ($this may be free there).
_OTHER_DATA = {"Graph", "GraphGraphPattern", "ServiceGraphPattern", "SubSelect", "ToMultiSet"}


@dataclass(frozen=True)
class Select:
    """A separable shape's SELECT query that gives every focus node's results in one run.

    SHACL pre-binds ``$this`` to each focus node in turn; shacl-rust pays ~40-75 us for each
    (0.13-0.2 ms a figure for the three bundled shapes). Left free, ``$this`` is bound by the
    query's own ``$this <iri> ?x`` patterns, so the solutions with ``$this`` = a focus node are
    that node's results, when nothing in the query depends on how many solutions there are
    (no LIMIT, OFFSET, grouping or aggregates), nothing binds ``$this`` but a required triple
    pattern (no OPTIONAL, UNION, MINUS, VALUES or BIND of it) and ``$this`` is projected (so
    DISTINCT never folds two focus nodes' rows). w3c/data-shapes#530 proposes this mode for
    SHACL itself, for the same reason."""

    shape: rdflib.term.Node
    classes: frozenset[URIRef]  # its sh:targetClass values: focus nodes are their instances
    query: str
    severity: URIRef
    message: str | None  # the last of the constraint's and the shape's, as shacl-rust reports


@dataclass(frozen=True)
class Split:
    """The shapes in two parts and what each part can see."""

    core: rdflib.Graph  # every shape but the separable ones
    sparql: rdflib.Graph  # the separable shapes alone (maybe none)
    selects: tuple[Select, ...]  # the separable shapes' queries that run once for all focus nodes
    rest: rdflib.Graph  # the separable shapes whose queries do not: run by the engine
    type_tails: tuple[bytes, ...]  # b" <rdf:type> <class> .\n" for each target class
    predicates: tuple[bytes, ...]  # b"<iri>" of every predicate their queries read
    core_predicates: frozenset[bytes] | None  # what the core reads; None: anything
    fold: Fold | None = None  # the core's predicates whose values are read once a batch

    def core_lines(self, lines: list[bytes]) -> list[bytes]:
        """The ``s p o`` texts the core shapes can read (subjects and predicates hold no space)."""
        keep = self.core_predicates
        if keep is None:
            return lines
        return [line for line in lines if line.split(b" ", 2)[1] in keep]

    def fold_lines(self, lines: Iterable[bytes],
                   groups: Sequence[Mapping[bytes, list[bytes]]] = ()) -> tuple[
            list[bytes], dict[bytes, dict[bytes, list[bytes]]], list[bytes] | None]:
        """:meth:`core_lines` without the lines no shape reads and with each folded value
        once (:class:`Fold`), unique; who holds a folded value: ``b"<p>" -> {object: [subject,
        ...]}``, the subject whose line is kept first; and the lines the separable shapes see
        (:meth:`visible`; None when there is no fold). ``groups``: more lines, by predicate
        (``compact_nquads.grouped``), each group decided on at once."""
        fold = self.fold
        if fold is None:
            every = [*lines, *chain.from_iterable(v for g in groups for v in g.values())]
            return self.core_lines(list(dict.fromkeys(every))), {}, None
        keep = self.core_predicates
        assert keep is not None  # a fold is made only when the core's reads are known
        classes = fold.classes
        typed: dict[bytes, set[bytes]] = {c: set() for cs in classes.values() for c in cs}
        out: list[bytes] = []
        append = out.append
        held: dict[bytes, list[bytes]] = {p: [] for p in classes}
        get = held.get
        seen, seen_types, seen_focus = self._seen, self._seen_types, set()
        picked: list[tuple[bytes, bytes]] = []
        types: list[bytes] = []
        for group in groups:
            for p, found in group.items():
                into = get(p)
                if into is not None:
                    into += found
                elif p in keep:
                    out += found
                    if p == _TYPE:
                        types += found
                if p in seen:
                    picked += [(line[:line.index(b" ")], line) for line in found]
        for line in lines:
            s, p, o = line.split(b" ", 2)
            into = get(p)
            if into is not None:
                into.append(line)
            elif p in keep:
                append(line)
                if p == _TYPE:
                    types.append(line)
            if p in seen:
                picked.append((s, line))
        for line in dict.fromkeys(types):  # a gene's, from every figure showing it
            s, _, o = line.split(b" ", 2)
            if o in typed and s[:1] == b"<":  # results name IRIs alike
                typed[o].add(s)
            if o in seen_types:
                picked.append((b"", line))
                seen_focus.add(s)
        visible = [line for s, line in dict.fromkeys(picked) if not s or s in seen_focus]
        focus: dict[frozenset[bytes], set[bytes]] = {}
        members: dict[bytes, dict[bytes, list[bytes]]] = {}
        for p, found in held.items():
            if not found:
                continue
            nodes = focus.get(classes[p])
            if nodes is None:
                nodes = focus[classes[p]] = set().union(*(typed[c] for c in classes[p]))
            folded = p in fold.values
            by_object: dict[bytes, list[bytes]] = {}
            for line in dict.fromkeys(found):
                s, _, o = line.split(b" ", 2)
                if s in nodes:
                    if not folded:
                        append(line)
                        continue
                    subjects = by_object.get(o)
                    if subjects is None:
                        by_object[o] = [s]
                        append(line)
                    else:
                        subjects.append(s)
                elif s[:1] != b"<":
                    append(line)
                # else an IRI that no shape reading p has as a focus node: nothing reads it
            if by_object:
                members[p] = by_object
        return list(dict.fromkeys(out)), members, visible

    @cached_property
    def _seen(self) -> frozenset[bytes]:
        return frozenset(self.predicates)

    @cached_property
    def _seen_types(self) -> frozenset[bytes]:
        return frozenset(tail.split(b" ")[2] for tail in self.type_tails)

    def visible(self, pieces: Sequence[tuple[bytes, list[bytes], bytes]]) -> list[bytes]:
        """The ``s p o`` texts of one figure's triples that the separable shapes can see.

        ``pieces``: once for the figure's graph and once for its source facts, the triples as
        text (each line ``s p o`` + ``end``: `` .\n``, or the graph name too for N-Quads) and
        as a *sorted* list of ``s p o`` texts. Sorted, the triples of one subject and predicate
        are neighbours: found by bisection.
        """
        out: list[bytes] = []
        focus: set[bytes] = set()
        for text, _, end in pieces:
            for tail in self.type_tails:
                po = tail[:-3]  # without " .\n"
                needle = po + end
                pos = text.find(needle)
                while pos >= 0:  # the needle ends a line, so it holds that line's p and o
                    subject = text[text.rfind(b"\n", 0, pos) + 1: pos]
                    focus.add(subject)
                    out.append(subject + po)
                    pos = text.find(needle, pos + len(needle))
        for _, lines, _ in pieces:
            for subject in focus:
                for predicate in self.predicates:
                    key = b"%s %s " % (subject, predicate)
                    i = bisect_left(lines, key)
                    while i < len(lines) and lines[i].startswith(key):
                        out.append(lines[i])
                        i += 1
        return out


@dataclass(frozen=True)
class Fold:
    """What the core run need not read of a predicate, decided once from the shapes.

    *Focus only*: when every shape reading a predicate is a property shape with it as its path
    (or in an ``sh:alternativePath`` of predicates), held (``sh:property``) only by node shapes
    whose one kind of target is ``sh:targetClass``, the predicate is read on those classes'
    instances and nowhere else: its lines about other IRIs (a gene's ``dcterms:isPartOf``,
    which only mentions are checked for) are left out.

    *Folded values*: when, besides, those shapes judge each value on its own (``sh:pattern``,
    ``sh:datatype``, ``sh:nodeKind``, ``sh:in``, ranges, lengths, and ``sh:not``/``and``/``or``/
    ``xone`` of such; no count, no ``sh:hasValue``, no comparison with other values or paths)
    and their holders target the same classes, a focus node gets one result per failing value,
    the same whichever focus node holds it. A batch then shows the engine one ``focus p value``
    line per value and copies each result to the other focus nodes holding that value
    (:meth:`Split.fold_lines`, ``validate._ShaclRust``). Keywords and mention counts are ~40 %
    of a figure's core lines and repeat across a batch's figures."""

    classes: dict[bytes, frozenset[bytes]]  # b"<p>" -> b"<class>"es: only their instances' read
    values: frozenset[bytes]  # the predicates whose values are folded
    shapes: dict[URIRef, tuple[bytes, ...]]  # folding property shape -> its path's predicates


def split(shapes: rdflib.Graph) -> Split:
    """The split of ``shapes`` (its SPARQL part is empty when no shape is separable)."""
    separable = [s for s in set(shapes.subjects(SH.sparql, None)) if _separable(shapes, s)]
    part: set[tuple] = set()
    classes: set[URIRef] = set()
    predicates: set[URIRef] = set()
    for shape in separable:
        part |= _closure(shapes, shape)
        classes.update(shapes.objects(shape, SH.targetClass))  # type: ignore[arg-type]
        for constraint in shapes.objects(shape, SH.sparql):
            for query in shapes.objects(constraint, SH.select):
                predicates |= _predicates(str(query)) or set()
    sparql = rdflib.Graph()
    core = rdflib.Graph()
    for triple in shapes:
        (sparql if triple in part else core).add(triple)
    selects: list[Select] = []
    rest = rdflib.Graph()
    for shape in separable:
        found = _selects(shapes, shape)
        if found is None:
            for triple in _closure(shapes, shape):
                rest.add(triple)
        else:
            selects += found
    reads = _reads(core)
    return Split(core, sparql, tuple(selects), rest,
                 tuple(sorted(b" %s <%s> .\n" % (_TYPE, str(c).encode()) for c in classes)),
                 tuple(sorted(f"<{p}>".encode() for p in predicates)), reads,
                 _fold(core) if reads is not None else None)


# Parameters that judge each value node on its own, whichever focus node it is a value of.
_VALUE_KEYS = {SH[k] for k in (
    "datatype", "nodeKind", "pattern", "flags", "languageIn", "in", "minInclusive",
    "maxInclusive", "minExclusive", "maxExclusive", "minLength", "maxLength", "not", "and", "or",
    "xone", "severity", "message", "deactivated", "name", "description", "order", "group")}
_LOGICAL = (SH["not"], SH["and"], SH["or"], SH.xone)


def _fold(core: rdflib.Graph) -> Fold | None:
    """The core's :class:`Fold`, or None when every line of every predicate is read."""
    uses: dict[URIRef, set[tuple[rdflib.term.Node, URIRef]]] = {}
    for key in _PAIRS:
        for subject, node in core.subject_objects(key):
            for p in _iris(core, node):
                uses.setdefault(p, set()).add((subject, key))
    classes: dict[bytes, frozenset[bytes]] = {}
    values: set[bytes] = set()
    for p, found in uses.items():
        if p in (RDF.type, RDFS.subClassOf):
            continue
        targets = [_held_targets(core, shape) if key == SH.path else None
                   for shape, key in found]
        if None in targets:
            continue
        name = b"<%s>" % str(p).encode()
        classes[name] = frozenset().union(*targets)  # type: ignore[arg-type]
        if len(set(targets)) == 1 and all(_judges_values(core, shape, path=True)
                                          for shape, _ in found):
            values.add(name)
    paths = {shape: tuple(sorted(b"<%s>" % str(q).encode()
                                 for q in _simple_path(core, core.value(shape, SH.path)) or ()))
             for found in uses.values() for shape, _ in found}
    readers = {b"<%s>" % str(p).encode(): {shape for shape, _ in found}
               for p, found in uses.items()}
    while True:  # every reader of a folded predicate folds: all its path's predicates do
        shapes = {shape: preds for shape, preds in paths.items()
                  if preds and all(q in values for q in preds)}
        unfolded = {p for p in values if readers[p] - shapes.keys()}
        if not unfolded:
            break
        values -= unfolded
    return Fold(classes, frozenset(values), shapes) if classes else None  # type: ignore[arg-type]


def _iris(core: rdflib.Graph, node: rdflib.term.Node) -> set[URIRef]:
    """Every IRI in a path (or a target's, a property pair's value): the predicates it reads."""
    found: set[URIRef] = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, URIRef) and n != RDF.nil:
            found.add(n)
        elif isinstance(n, BNode):
            todo += [o for _, o in core.predicate_objects(n)]
    return found


def _simple_path(core: rdflib.Graph, node: rdflib.term.Node | None) -> tuple[URIRef, ...] | None:
    """A predicate path, or an ``sh:alternativePath`` of predicates: its predicates; else None."""
    if isinstance(node, URIRef):
        return (node,)
    if isinstance(node, BNode) and set(core.predicates(node)) == {SH.alternativePath}:
        items = list(Collection(core, core.value(node, SH.alternativePath)))
        if items and all(isinstance(i, URIRef) for i in items):
            return tuple(items)  # type: ignore[arg-type]
    return None


def _held_targets(core: rdflib.Graph, shape: rdflib.term.Node) -> frozenset[bytes] | None:
    """The classes whose instances are ``shape``'s focus nodes, when it is a named property
    shape with a predicate path (or an ``sh:alternativePath`` of them) held only by node
    shapes whose targets are ``sh:targetClass`` alone, which nothing refers to; else None."""
    if not isinstance(shape, URIRef) or set(core.objects(shape, RDF.type)) - {SH.PropertyShape}:
        return None
    if _simple_path(core, core.value(shape, SH.path)) is None:
        return None
    if any(key in _TARGETS for key in core.predicates(shape)):
        return None
    holders = list(core.subject_predicates(shape))
    if not holders or any(key != SH.property for _, key in holders):
        return None
    found: set[bytes] = set()
    for holder, _ in holders:
        if {key for key in core.predicates(holder) if key in _TARGETS} != {SH.targetClass} \
                or (None, None, holder) in core \
                or set(core.objects(holder, RDF.type)) - {SH.NodeShape}:
            return None
        found |= {b"<%s>" % str(c).encode() for c in core.objects(holder, SH.targetClass)
                  if isinstance(c, URIRef)}
    return frozenset(found)


_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def _judges_values(core: rdflib.Graph, shape: rdflib.term.Node, path: bool = False) -> bool:
    """Whether ``shape``'s parameters judge each value node alone (nested shapes: blank nodes)."""
    allowed = _VALUE_KEYS | {SH.path} if path else _VALUE_KEYS
    for key, value in core.predicate_objects(shape):
        if not str(key).startswith(str(SH)):
            continue  # annotations (rdfs:comment, pfocrsh:frontMatterKey...)
        if key not in allowed:
            return False
        if key in _LOGICAL:
            nested = ([value] if key == SH["not"]
                      else list(Collection(core, value)))
            if not all(isinstance(n, BNode) and _judges_values(core, n) for n in nested):
                return False
    return True


def _reads(core: rdflib.Graph) -> frozenset[bytes] | None:
    """The predicates of every triple the core shapes can read; None when that is unbounded."""
    used = {p for p in core.predicates() if str(p).startswith(str(SH))}
    if used - _CORE_KEYS or any(o.toPython() is True for o in core.objects(None, SH.closed)):
        return None
    found = {RDF.type, RDFS.subClassOf}
    todo = [o for key in _PAIRS for o in core.objects(None, key)]
    while todo:  # paths: an IRI, or a blank node holding IRIs, lists and path nodes
        node = todo.pop()
        if isinstance(node, URIRef):
            if node != RDF.nil:
                found.add(node)
        elif isinstance(node, BNode):
            for p, o in core.predicate_objects(node):
                if p not in (RDF.first, RDF.rest, *_CORE_KEYS):
                    return None
                todo.append(o)
        else:
            return None
    return frozenset(f"<{p}>".encode() for p in found)


def _separable(shapes: rdflib.Graph, shape: rdflib.term.Node) -> bool:
    if (None, None, shape) in shapes:  # referred to (sh:node, sh:property, lists...)
        return False
    if set(shapes.objects(shape, RDF.type)) - {SH.NodeShape}:
        return False  # a property shape, or a class: implicit targets
    for p in shapes.predicates(shape, None):
        if str(p).startswith(str(SH)) and p not in _SHAPE_KEYS:
            return False
    for constraint in shapes.objects(shape, SH.sparql):
        if not isinstance(constraint, BNode | URIRef):
            return False
        keys = set(shapes.predicates(constraint, None)) - {RDF.type}
        if keys - _CONSTRAINT_KEYS or SH.select not in keys:
            return False
        if any(_predicates(str(q)) is None for q in shapes.objects(constraint, SH.select)):
            return False
    return True


def _selects(shapes: rdflib.Graph, shape: rdflib.term.Node) -> list[Select] | None:
    """The separable ``shape`` as :class:`Select` runs; None when a query must be pre-bound
    or its results need more than ``$this`` and ``?value`` (``?path``, ``?failure``, message
    templates)."""
    if _true(shapes.value(shape, SH.deactivated)):
        return []
    classes = frozenset(c for c in shapes.objects(shape, SH.targetClass) if isinstance(c, URIRef))
    severity = shapes.value(shape, SH.severity)
    shape_messages = sorted(str(m) for m in shapes.objects(shape, SH.message))
    out = []
    for constraint in shapes.objects(shape, SH.sparql):
        if _true(shapes.value(constraint, SH.deactivated)):
            continue
        messages = sorted(str(m) for m in shapes.objects(constraint, SH.message)) + shape_messages
        queries = list(shapes.objects(constraint, SH.select))
        if len(queries) != 1 or not _at_once(str(queries[0])) or any("{" in m for m in messages):
            return None
        out.append(Select(shape, classes, str(queries[0]),
                          severity if isinstance(severity, URIRef) else SH.Violation,
                          messages[-1] if messages else None))
    return out


def _true(node: rdflib.term.Node | None) -> bool:
    return isinstance(node, rdflib.Literal) and node.toPython() is True


# What may stand between a SELECT and its triple patterns in a query run once for all focus
# nodes: each keeps or drops a solution on its own bindings (Filter: its EXISTS see them too).
_PER_SOLUTION = {"Project", "Distinct", "Reduced", "OrderBy", "Filter", "Extend", "Join", "BGP"}
_THIS = Variable("this")


@lru_cache(maxsize=256)
def _at_once(query: str) -> bool:
    """Whether a separable query gives each focus node's results when run once with ``$this``
    free (see :class:`Select`)."""
    if _predicates(query) is None:
        return False
    from rdflib.plugins.sparql import prepareQuery

    algebra = prepareQuery(query).algebra
    if algebra.name != "SelectQuery" or dict.get(algebra, "datasetClause") is not None:
        return False
    projected = set(algebra.PV)
    if _THIS not in projected or projected & {Variable("path"), Variable("failure")}:
        return False
    bound = False
    todo = [algebra.p]
    while todo:
        node = todo.pop()
        if not isinstance(node, CompValue) or node.name not in _PER_SOLUTION:
            return False
        if node.name == "Extend" and node.var == _THIS:
            return False
        if node.name == "BGP":
            bound = bound or any(s == _THIS for s, _, _ in node.triples)
        else:
            todo += [node[k] for k in ("p", "p1", "p2") if k in node]
    return bound


def _closure(shapes: rdflib.Graph, node: rdflib.term.Node) -> set[tuple]:
    """The shape's triples and those of the blank nodes it holds."""
    out: set[tuple] = set()
    todo = [node]
    while todo:
        for triple in shapes.triples((todo.pop(), None, None)):
            out.add(triple)
            if isinstance(triple[2], BNode):
                todo.append(triple[2])
    return out


@lru_cache(maxsize=256)  # asked twice per query (is it separable, what does it read)
def _predicates(query: str) -> frozenset[URIRef] | None:
    """The predicates a SELECT query reads when every triple pattern is ``$this <iri> ...``;
    None for any other query (it may see more of the graph: it runs on the whole data)."""
    if "shapesGraph" in query or "currentShape" in query:
        return None
    try:
        from rdflib.plugins.sparql import prepareQuery

        algebra = prepareQuery(query).algebra
    except Exception:  # not for us to judge: the engine reports a bad query itself
        return None
    found: set[URIRef] = set()
    this = Variable("this")

    def walk(node: object) -> bool:
        if isinstance(node, CompValue):
            if node.name in _OTHER_DATA:
                return False
            # BGP: (s, p, o) tuples; TriplesBlock (inside EXISTS, untranslated): flat s p o lists
            for chunk in dict.get(node, "triples", ()):  # CompValue.get's default is the key
                for i in range(0, len(chunk), 3):
                    s, p = chunk[i], chunk[i + 1]
                    if s != this or not isinstance(p, URIRef):
                        return False
                    found.add(p)
            return all(walk(v) for v in node.values())
        if isinstance(node, list | tuple):
            return all(walk(v) for v in node)
        return True

    return frozenset(found) if walk(algebra) else None
