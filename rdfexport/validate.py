"""SHACL validation of figure graphs, one figure at a time, with findings tied to file and line.

The shapes live in ``shapes/*.ttl`` (packaged as ``rdfexport/shapes``). pySHACL is the engine of
record; ``shacl-rust`` is the default because it is ~17x faster on batches (the difference
between hours and minutes for the whole collection) and tests show it reports exactly the same
results on the whole sample and with every shape violated (``tests/test_validate_engines.py``).

How a finding gets its line: every shape carries ``pfocrsh:frontMatterKey`` (the front-matter
key(s) its values come from); the figure record knows the line of every key (and of every list
item, ``key[i]``). That table lives in the shapes, next to the rules, and nowhere else.

Two facts the RDF model cannot carry are added, as ``pfocrsh:`` triples, to the graph that is
validated (never to the export), so that SHACL reports them like everything else:

- ``pfocrsh:repaired`` — one literal per :class:`rdfexport.errors.Repair` the exporter made;
  the shape ``pfocrsh:FigureRepair`` reports each as ``sh:Info``.
- ``pfocrsh:duplicateKeyword`` — a keyword listed twice in the ``schema-jsonld`` block (RDF
  folds repeated values); ``pfocrsh:FigureKeywordDuplicate`` reports it as ``sh:Warning``.
"""

from __future__ import annotations

import importlib.resources
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rdflib
from rdflib import RDF, BNode, Literal, URIRef
from rdflib.namespace import SH

from rdfexport.errors import Repair, UsageError, ValidationConfigError
from rdfexport.pipeline import DEFAULT_SHACL_ENGINE, SHACL_ENGINES

if TYPE_CHECKING:
    from rdfexport.graph import FigureGraph

XSD_STRING = URIRef("http://www.w3.org/2001/XMLSchema#string")
PFOCRSH = rdflib.Namespace("https://pfocr.wikipathways.org/shapes#")
FRONT_MATTER_KEY = PFOCRSH.frontMatterKey
REPAIR_SHAPE = PFOCRSH.FigureRepair
DUPLICATE_SHAPE = PFOCRSH.FigureKeywordDuplicate
REPAIRED = PFOCRSH.repaired
DUPLICATE_KEYWORD = PFOCRSH.duplicateKeyword



class Severity(IntEnum):
    """SHACL severities, ordered: ``Severity.VIOLATION > Severity.WARNING > Severity.INFO``."""

    INFO = 1
    WARNING = 2
    VIOLATION = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        """``"violation"``, ``"Warning"``, ``"sh:Info"`` or the full SHACL IRI."""
        name = str(text).strip()
        for prefix in (str(SH), "sh:"):
            name = name.removeprefix(prefix)
        try:
            return cls[name.upper()]
        except KeyError:
            raise UsageError(f"unknown severity {text!r}",
                             fix="use one of violation, warning, info") from None

    @property
    def iri(self) -> URIRef:
        return SH[self.label]

    @property
    def label(self) -> str:
        return self.name.capitalize()

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Finding:
    """One validation result, pointed at the figure file and the line of its front-matter key."""

    severity: Severity
    figid: str
    file: str
    line: int | None
    focus: str
    path: str | None
    value: str | None
    message: str
    shape: str
    # For the standard report (Turtle): the SHACL constraint component and the value as an
    # N-Triples term; not part of a finding's identity.
    component: str | None = field(default=None, compare=False, repr=False)
    value_nt: str | None = field(default=None, compare=False, repr=False)

    @property
    def rule(self) -> str:
        """The shape's local name, e.g. ``FigureTitle``: what the reports call the rule."""
        return self.shape.rsplit("#", 1)[-1].rsplit("/", 1)[-1]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.label, "figid": self.figid, "file": self.file,
            "line": self.line, "focus": self.focus, "path": self.path, "value": self.value,
            "message": self.message, "shape": self.shape,
        }


class Tally:
    """What ``convert`` and ``load`` report of the findings: counts by severity and the number
    of figures with violations or warnings. Used where a list of findings would be, so that
    memory does not grow with the collection (100,000 figures give ~250,000 findings)."""

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        self.by_severity: Counter[Severity] = Counter()
        self.flagged = 0
        self.extend(findings)

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings; the pipeline passes one figure's findings at a time (from the cache,
        with their severities alongside: counted without unpickling them)."""
        severities = getattr(findings, "severities", None)
        if severities is not None:
            flagged = False
            for severity in Severity:
                n = severities.count(severity)
                if n:
                    self.by_severity[severity] += n
                    flagged = flagged or severity > Severity.INFO
            self.flagged += flagged
            return
        flagged: set[str] = set()
        for f in findings:
            self.by_severity[f.severity] += 1
            if f.severity > Severity.INFO:
                flagged.add(f.figid)
        self.flagged += len(flagged)

    def counts(self) -> dict[Severity, int]:
        return {s: self.by_severity.get(s, 0) for s in sorted(Severity, reverse=True)}


def _tally(findings: Iterable[Finding] | Tally) -> Tally:
    return findings if isinstance(findings, Tally) else Tally(findings)


def counts(findings: Iterable[Finding] | Tally) -> dict[Severity, int]:
    return _tally(findings).counts()


def summary_line(findings: Iterable[Finding] | Tally, figures: int | None = None) -> str:
    """One line for standard error, e.g. ``validation: 2 violations, 5 warnings, 130 infos in 3
    of 130 figures``."""
    tally = _tally(findings)
    parts = [f"{n} {s.label.lower()}{'' if n == 1 else 's'}" for s, n in tally.counts().items()]
    of = f" of {figures}" if figures is not None else ""
    return (f"validation: {', '.join(parts)}; {tally.flagged}{of} figure(s) with violations or "
            "warnings")


def reaches(findings: Iterable[Finding] | Tally, fail_on: Severity) -> bool:
    """True when any finding is at least as severe as ``fail_on`` (the exit-1 condition)."""
    return any(n for s, n in _tally(findings).by_severity.items() if s >= fail_on)


def bundled_shapes_dir() -> Path:
    """``rdfexport/shapes`` in an installed wheel; the repository's ``shapes/`` in a checkout."""
    packaged = importlib.resources.files("rdfexport") / "shapes"
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parent.parent / "shapes"
    if source.is_dir():
        return source
    raise ValidationConfigError("the bundled SHACL shapes are missing from this installation",
                                fix="reinstall rdfexport, or pass --shapes DIR")


def load_shapes(shapes_dir: Path | None = None) -> rdflib.Graph:
    """All ``*.ttl`` files of ``shapes_dir`` (default: the bundled shapes) as one graph."""
    directory = Path(shapes_dir) if shapes_dir is not None else bundled_shapes_dir()
    if not directory.is_dir():
        raise ValidationConfigError(f"shapes directory {directory} does not exist",
                                    path=directory, fix="pass a directory holding *.ttl shapes")
    files = sorted(directory.glob("*.ttl"))
    if not files:
        raise ValidationConfigError(f"no *.ttl shapes files in {directory}", path=directory,
                                    fix="pass a directory holding SHACL shapes in Turtle")
    graph = rdflib.Graph()
    for f in files:
        try:
            graph.parse(f, format="turtle")
        except Exception as err:
            line = getattr(err, "lines", None) or getattr(err, "line", None)
            raise ValidationConfigError(f"cannot read shapes: {err}", path=f,
                                        line=line if isinstance(line, int) else None,
                                        fix="fix the Turtle syntax of the shapes file") from None
    return graph


@dataclass(frozen=True)
class RawResult:
    """A validation result as an engine reports it, before it is tied to a file and line."""

    severity: Severity
    focus: rdflib.term.Node
    path: rdflib.term.Node | None
    value: rdflib.term.Node | None
    shape: rdflib.term.Node
    component: rdflib.term.Node | None
    message: str | None

    def key(self) -> tuple[str, ...]:
        """What two engines must agree on (messages are engine-specific wording)."""
        return (self.severity.label, _nt(self.focus), _nt(self.path) if self.path else "",
                _nt(self.value) if self.value is not None else "", _nt(self.shape),
                _nt(self.component) if self.component else "")


def _nt(term: rdflib.term.Node) -> str:
    return term.n3() if not isinstance(term, BNode) else "_:b"


def source_facts(fg: FigureGraph) -> tuple[list[tuple[Any, Any, Any]], dict[str, Repair]]:
    """The ``pfocrsh:`` triples stating repairs and duplicate keywords of one figure."""
    focus = URIRef(fg.iri)
    triples: list[tuple[Any, Any, Any]] = []
    by_text: dict[str, Repair] = {}
    for repair in fg.figure.repairs:
        text = f"{repair.key}: {repair.message}"
        by_text[text] = repair
        triples.append((focus, REPAIRED, Literal(text)))
    block = fg.figure.block or {}
    keywords = block.get("keywords")
    if isinstance(keywords, list):
        for word, n in Counter(k for k in keywords if isinstance(k, str)).items():
            if n > 1:
                triples.append((focus, DUPLICATE_KEYWORD, Literal(word)))
    return triples, by_text


class Validator:
    """Validate figure graphs one at a time against the SHACL shapes.

    ``Validator(shapes_dir=None, engine="pyshacl").validate(fg) -> list[Finding]``.
    """

    def __init__(self, shapes_dir: Path | None = None, engine: str = DEFAULT_SHACL_ENGINE) -> None:
        if engine not in SHACL_ENGINES:
            raise UsageError(f"unknown SHACL engine {engine!r}",
                             fix=f"use one of {', '.join(SHACL_ENGINES)}")
        self.shapes_dir = shapes_dir
        self.engine_name = engine
        self.shapes = load_shapes(shapes_dir)
        self._keys: dict[rdflib.term.Node, tuple[str, ...]] = {}
        for shape, text in self.shapes.subject_objects(FRONT_MATTER_KEY):
            self._keys[shape] = tuple(str(text).split())
        self._messages: dict[rdflib.term.Node, str] = {
            s: str(m) for s, m in self.shapes.subject_objects(SH.message)}
        self._engine = _make_engine(engine, self.shapes)

    @property
    def batches(self) -> bool:
        """Whether batches pay off: shacl-rust pays its fixed cost once a batch; pySHACL is
        not faster on a merged graph."""
        return bool(self._engine.text_input)

    # -- the API the convert command uses ----------------------------------------------------

    def validate(self, fg: FigureGraph) -> list[Finding]:
        """All findings for one figure graph, sorted by line, severity and rule."""
        triples, by_text = source_facts(fg)
        raw = self._run([(fg, triples)])
        findings = [self._finding(r, fg, by_text) for r in raw]
        findings.sort(key=_sort_key)
        return findings

    def validate_batch(self, fgs: Sequence[FigureGraph]) -> list[list[Finding]]:
        """``[self.validate(fg) for fg in fgs]``, computed with one engine run for the batch.

        Faster (the engine's fixed cost is paid once per batch; with shacl-rust ~2 ms instead
        of ~10 ms per figure) and still streaming: memory is bounded by the batch. Each result
        goes to the figures whose own graph produces it: the figure whose IRI is the focus
        node, else (shared genes, articles, taxa) every figure of the batch holding the focus
        node's offending triple. ``tests/test_validate.py`` proves it equals per-figure
        validation on the sample.
        """
        if not fgs:
            return []
        facts = [source_facts(fg) for fg in fgs]
        raw = self._run([(fg, triples) for fg, (triples, _) in zip(fgs, facts, strict=True)])
        owners = _Owners(fgs)
        out: list[list[Finding]] = [[] for _ in fgs]
        for r in raw:
            for i in owners.of(r):
                out[i].append(self._finding(r, fgs[i], facts[i][1]))
        for findings in out:
            findings.sort(key=_sort_key)
        return out

    def _run(self, items: list[tuple[FigureGraph, list[tuple[Any, Any, Any]]]]
             ) -> list[RawResult]:
        """One engine run over figure graphs, each with its source-fact triples."""
        if self._engine.text_input:
            return self._engine.run_pieces([_pieces(fg, t) for fg, t in items],
                                           [fg.predicate_groups() for fg, _ in items])
        if len(items) == 1:
            return self._engine.run(self.data_graph(*items[0]))
        merged = rdflib.Graph()
        for fg, triples in items:
            merged += self.data_graph(fg, triples)
        return self._engine.run(merged)

    def data_graph(self, fg: FigureGraph,
                   triples: list[tuple[Any, Any, Any]] | None = None) -> rdflib.Graph:
        """The graph that is validated: the figure's triples plus its source facts
        (``triples``, when the caller has them already)."""
        data = rdflib.Graph()
        add = data.add
        for q in fg.quads:  # straight from pyoxigraph terms: faster than re-parsing N-Triples
            add((_rdflib(q.subject), _rdflib(q.predicate), _rdflib(q.object)))
        for triple in source_facts(fg)[0] if triples is None else triples:
            add(triple)
        return data

    def raw(self, data: rdflib.Graph) -> list[RawResult]:
        """The engine's results for any data graph (used to compare engines and whole graphs)."""
        return self._engine.run(data)

    # -- from an engine result to a finding --------------------------------------------------

    def _finding(self, r: RawResult, fg: FigureGraph, by_text: dict[str, Repair]) -> Finding:
        figure = fg.figure
        value = None if r.value is None else str(r.value)
        path = str(r.path) if isinstance(r.path, URIRef) else None  # not a path expression
        message = self._messages.get(r.shape) or r.message or "does not conform"
        if r.shape == REPAIR_SHAPE and value in by_text:
            repair = by_text[value]
            return Finding(
                Severity.INFO, figure.figid, figure.path, repair.line, str(r.focus), path, None,
                f"repaired {repair.key}: {repair.message}; fix it in the source", str(r.shape),
                str(r.component) if r.component else None, _nt(r.value) if r.value else None)
        return Finding(
            r.severity, figure.figid, figure.path, self.line_of(r, fg), str(r.focus), path,
            value, message, str(r.shape),
            str(r.component) if r.component else None,
            _nt(r.value) if r.value is not None else None)

    def keys_of(self, shape: rdflib.term.Node) -> tuple[str, ...]:
        return self._keys.get(shape, ())

    def line_of(self, r: RawResult, fg: FigureGraph) -> int | None:
        """The line of the front-matter key behind a result (of the list item when known)."""
        lines = fg.figure.lines
        repaired_keys = {rep.key for rep in fg.figure.repairs}
        for key in self.keys_of(r.shape):
            if key not in lines:
                continue
            item = (_item_index(fg, key, r.value, last=r.shape == DUPLICATE_SHAPE)
                    if key not in repaired_keys else None)
            if item is not None and f"{key}[{item}]" in lines:
                return lines[f"{key}[{item}]"]
            return lines[key]
        return lines.get("figid")


def _pieces(fg: FigureGraph, triples: list[tuple[Any, Any, Any]]
            ) -> list[tuple[bytes, list[bytes], bytes]]:
    """The validated graph for :meth:`shacl_split.Split.visible`: the figure's canonical
    N-Quads (lines end in its graph name) and its source facts as N-Triples, each with the same
    triples as sorted ``s p o`` texts."""
    import pyoxigraph as ox

    pieces = [(fg.data, fg.triple_lines(), b" <%s> .\n" % fg.iri.encode())]
    if triples:
        extra = [ox.Triple(_ox(a), _ox(b), _ox(c)) for a, b, c in triples]
        pieces.append(_sorted(ox.serialize(extra, format=ox.RdfFormat.N_TRIPLES) or b""))
    return pieces


def _sorted(ntriples: bytes) -> tuple[bytes, list[bytes], bytes]:
    lines = sorted(line.removesuffix(b" .") for line in ntriples.split(b"\n") if line)
    return b"".join(line + b" .\n" for line in lines), lines, b" .\n"


def _rdflib(term: Any) -> rdflib.term.Node:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    if datatype == str(XSD_STRING):
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(datatype))


def _ox(term: rdflib.term.Node) -> Any:
    import pyoxigraph as ox

    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    assert isinstance(term, Literal)
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))


class _Owners:
    """Which figures of a batch a result belongs to, as if each had been validated alone."""

    def __init__(self, fgs: Sequence[FigureGraph]) -> None:
        self.fgs = fgs
        self.figure_index = {fg.iri: i for i, fg in enumerate(fgs)}

    def holding(self, focus: str) -> list[int]:
        """Figures with a triple about ``focus`` (canonical lines have no blank nodes: every
        subject is ``<iri>``), found by bisection in their sorted lines: a few microseconds a
        figure, where indexing every subject of the batch cost ~0.15 ms a figure."""
        key = b"<%s> " % focus.encode("utf-8")
        return [i for i, fg in enumerate(self.fgs) if _starts(fg.triple_lines(), key)]

    def of(self, r: RawResult) -> list[int]:
        focus = str(r.focus)
        if focus in self.figure_index:
            return [self.figure_index[focus]]
        candidates = self.holding(focus)
        if len(candidates) <= 1 or not isinstance(r.path, URIRef) or r.value is None:
            return candidates
        import pyoxigraph as ox

        # both sides are pyoxigraph's canonical serialization: equal triples are equal text
        triple = ox.serialize([ox.Triple(_ox(r.focus), _ox(r.path), _ox(r.value))],
                              format=ox.RdfFormat.N_TRIPLES).removesuffix(b" .\n")
        holding = [i for i in candidates if _starts(self.fgs[i].triple_lines(), triple, whole=True)]
        return holding or candidates


def _starts(lines: list[bytes], key: bytes, whole: bool = False) -> bool:
    """Whether the sorted ``lines`` hold a line starting with ``key`` (equal to it: ``whole``)."""
    i = bisect_left(lines, key)
    return i < len(lines) and (lines[i] == key if whole else lines[i].startswith(key))


def _item_index(fg: FigureGraph, key: str, value: rdflib.term.Node | None,
                last: bool = False) -> int | None:
    """Index of ``value`` (its ``last`` occurrence) in the list behind ``key``, or None."""
    if value is None or not isinstance(value, Literal):
        return None
    if key == "schema-jsonld.keywords":
        items = (fg.figure.block or {}).get("keywords")
        if isinstance(items, list):
            found = [i for i, item in enumerate(items) if item == str(value)]
            if found:
                return found[-1] if last else found[0]
    return None


def _sort_key(f: Finding) -> tuple[Any, ...]:
    return (f.line or 0, -int(f.severity), f.rule, f.value or "")


# -- engines -----------------------------------------------------------------------------------


class _PySHACL:
    """pySHACL, the engine of record. The shapes are harvested once and reused."""

    text_input = False

    def __init__(self, shapes: rdflib.Graph) -> None:
        from pyshacl.shapes_graph import ShapesGraph

        self.shapes = shapes
        self.shapes_graph = ShapesGraph(shapes)
        self.shapes_graph.shapes  # noqa: B018 - harvest the shapes once, now
        self.options = {"inference": "none", "abort_on_first": False, "allow_infos": True,
                        "allow_warnings": True, "advanced": False, "inplace": True,
                        "use_js": False, "iterate_rules": False}

    def run(self, data: rdflib.Graph) -> list[RawResult]:
        from pyshacl.graph_abstraction import DataGraph
        from pyshacl.validator import Validator as PyValidator

        validator = PyValidator.__new__(PyValidator)
        # Validator.__init__ would harvest the shapes again for every figure (most of the cost);
        # set up the same state with the shapes harvested once.
        options = dict(self.options)
        PyValidator._load_default_options(options)
        validator.options = options
        validator.logger = options["logger"]
        validator.debug = options["debug"]
        validator.pre_inferenced = False
        validator.inplace = True
        validator.data_graph = DataGraph.from_rdflib(data)
        validator._target_graph = None
        validator.ont_graph = None
        validator.data_graph_is_multigraph = validator.data_graph.is_multigraph()
        validator.shacl_graph = self.shapes_graph
        with _prepared_sparql():
            _, report, _ = validator.run()
        return parse_report(report)


_PREPARED: dict[tuple[str, str | None], Any] = {}


class _prepared_sparql:
    """Parse each SPARQL constraint's query once per process instead of once per focus node.

    pySHACL hands rdflib the same query text (with ``$this`` as an initial binding) for every
    focus node, and rdflib parses it every time: ~75 ms per query per figure, most of
    pySHACL's cost. While a pySHACL run of ours is active, rdflib's SPARQL processor takes the
    translated query from a cache instead (what rdflib's own ``prepareQuery`` reuse does).
    Our queries use full IRIs only, so the data graph's namespaces cannot change their meaning.
    Re-entrant and thread-safe: the processor is patched while at least one run is active.
    """

    _lock = threading.Lock()
    _active = 0
    _original: Any = None

    def __enter__(self) -> None:
        from rdflib.plugins.sparql import processor

        cls = type(self)
        with cls._lock:
            if cls._active == 0:
                cls._original = processor.SPARQLProcessor.query
                original = cls._original

                def query(proc, strOrQuery, initBindings=None, initNs=None,
                          base=None, DEBUG=False):
                    if isinstance(strOrQuery, str):
                        key = (strOrQuery, base)
                        prepared = _PREPARED.get(key)
                        if prepared is None:
                            prepared = processor.translateQuery(
                                processor.parseQuery(strOrQuery), base, initNs or {})
                            _PREPARED[key] = prepared
                        strOrQuery = prepared
                    return original(proc, strOrQuery, initBindings or {}, initNs, base, DEBUG)

                processor.SPARQLProcessor.query = query  # type: ignore[method-assign]
            cls._active += 1

    def __exit__(self, *exc: object) -> None:
        from rdflib.plugins.sparql import processor

        cls = type(self)
        with cls._lock:
            cls._active -= 1
            if cls._active == 0:
                processor.SPARQLProcessor.query = cls._original  # type: ignore[method-assign]


class _ShaclRust:
    """shacl-rust (PyPI ``shacl-rust``): the same results as pySHACL (tests prove it on the
    sample and on every shape violated); ~13x faster on batches. SPARQL-based shapes that can
    run on a small part of the data do (rdfexport/shacl_split.py)."""

    def __init__(self, shapes: rdflib.Graph) -> None:
        try:
            import shacl_rust
        except ImportError:
            raise UsageError("the shacl-rust engine is not installed",
                             fix="pip install shacl-rust, or use --engine pyshacl") from None
        from rdfexport import shacl_split

        self.module = shacl_rust
        self.shapes_text = shapes.serialize(format="nt")
        self.split = shacl_split.split(shapes)
        self.core_text = self.split.core.serialize(format="nt")
        self.rest_text = self.split.rest.serialize(format="nt")

    text_input = True  # N-Triples straight from pyoxigraph: no rdflib graph per figure

    def run(self, data: rdflib.Graph) -> list[RawResult]:
        return self.run_pieces([[_sorted(data.serialize(format="nt", encoding="utf-8"))]])

    def run_pieces(self, figures: list[list[tuple[bytes, list[bytes], bytes]]],
                   groups: Sequence[Any] | None = None) -> list[RawResult]:
        """Results for the figures, each given as :func:`_pieces`: one run for the core
        shapes on the triples they can read, one for the separable SPARQL shapes on theirs
        (rdfexport/shacl_split.py); one run on everything with rdfs:subClassOf in the data.
        ``groups``: each figure's ``FigureGraph.predicate_groups()``, read instead of its
        graph's lines when every figure has them (a decision per predicate, not per line)."""
        from rdfexport.shacl_split import SUBCLASS_OF

        split = self.split

        def everything() -> list[bytes]:
            return list(dict.fromkeys(chain.from_iterable(
                [lines for pieces in figures for _, lines, _ in pieces])))

        if groups and split.fold is not None and all(g is not None for g in groups):
            loose = [*chain.from_iterable(block for _, block in groups),
                     *chain.from_iterable(lines for pieces in figures
                                          for _, lines, _ in pieces[1:])]
            lines, members, visible = split.fold_lines(loose, [g for g, _ in groups])
        else:
            # Figures of a batch share genes, taxa, articles: a third of the lines are
            # repeats, and shacl-rust's time grows with the lines it reads.
            lines, members, visible = split.fold_lines(everything())
        core = _joined(lines)
        # The core reads every rdfs:subClassOf triple: none there, none anywhere.
        if SUBCLASS_OF in core:
            return self._validate(_joined(everything()), self.shapes_text)
        results = self._validate(core, self.core_text)
        if members:
            spread = _spread(results, members, split.fold.shapes)  # type: ignore[union-attr]
            results = (spread if spread is not None else self._validate(
                _joined(split.core_lines(everything())), self.core_text))
        if len(split.sparql):
            seen = visible if visible is not None else [
                line for pieces in figures for line in split.visible(pieces)]
            if seen:
                data = _joined(seen)
                if split.selects:
                    results += _run_selects(split.selects, data)
                if len(split.rest):
                    results += self._validate(data, self.rest_text)
        return results

    def _validate(self, data: bytes, shapes: str) -> list[RawResult]:
        # The interned index is the fast path for batches; it reports the same results (tests).
        report = self.module.validate(data.decode("utf-8"), shapes, data_format="nt",
                                      shapes_format="nt", experimental_index=True)
        return [_from_rust(r) for r in report["results"]]


def _spread(results: list[RawResult], members: dict[bytes, dict[bytes, list[bytes]]],
            shapes: dict[Any, tuple[bytes, ...]]) -> list[RawResult] | None:
    """Each result of a folded shape (``shacl_split.Fold``) copied to every focus node holding
    its value, as if each had been read; None if a result is not one the fold made (then the
    caller validates without folding: never a result lost)."""
    import pyoxigraph as ox

    out: list[RawResult] = []
    objects: dict[Any, bytes] = {}
    for r in results:
        predicates = shapes.get(r.shape)
        if predicates is None:
            out.append(r)
            continue
        if r.value is None or not isinstance(r.focus, URIRef):
            return None
        value = objects.get(r.value)
        if value is None:  # the object as the lines hold it: pyoxigraph's N-Triples
            value = objects[r.value] = ox.serialize(
                [ox.Triple(ox.NamedNode("urn:s"), ox.NamedNode("urn:p"), _ox(r.value))],
                format=ox.RdfFormat.N_TRIPLES)[len("<urn:s> <urn:p> "):-len(" .\n")]
        holders = dict.fromkeys(s for p in predicates for s in members.get(p, {}).get(value, ()))
        if b"<%s>" % str(r.focus).encode() not in holders:
            return None
        out += [r if s[1:-1].decode() == r.focus else replace(r, focus=URIRef(s[1:-1].decode()))
                for s in holders]
    return out


def _run_selects(selects: Sequence[Any], data: bytes) -> list[RawResult]:
    """:class:`shacl_split.Select` queries run once each on ``data`` (N-Triples) with
    pyoxigraph: one row a result, as a SHACL-SPARQL engine reports it (``sh:value`` is
    ``?value``, or the focus node when unbound, as pySHACL has it)."""
    import pyoxigraph as ox

    store = ox.Store()
    store.load(data, format=ox.RdfFormat.N_TRIPLES)
    rdf_type = ox.NamedNode(str(RDF.type))
    out = []
    for select in selects:
        classes = [ox.NamedNode(str(c)) for c in select.classes]
        severity = Severity.parse(str(select.severity))
        focus: dict[Any, bool] = {}
        rows = store.query(select.query)
        names = {v.value for v in rows.variables}
        for row in rows:
            this = row["this"]
            if this not in focus:
                focus[this] = any(ox.Quad(this, rdf_type, c) in store for c in classes)
            if focus[this]:
                value = row["value"] if "value" in names else None
                out.append(RawResult(severity, _rdflib(this), None,
                                     _rdflib(this if value is None else value), select.shape,
                                     SH.SPARQLConstraintComponent, select.message))
    return out


def _joined(lines: list[bytes]) -> bytes:
    """``s p o`` texts as N-Triples."""
    return b" .\n".join([*lines, b""]) if lines else b""


def _make_engine(name: str, shapes: rdflib.Graph) -> Any:
    return _PySHACL(shapes) if name == "pyshacl" else _ShaclRust(shapes)


@lru_cache(maxsize=16_384)  # results repeat values (repairs, shapes, paths); terms are immutable
def _term(text: str | None) -> rdflib.term.Node | None:
    if text is None or text == "":
        return None
    if text.startswith("<") and text.endswith(">"):
        return URIRef(text[1:-1])
    if text.startswith(("_:", "(")):  # a blank node or a path expression
        return BNode(text[2:] if text.startswith("_:") else None)
    import pyoxigraph as ox

    return _rdflib(next(iter(ox.parse(f"<urn:s> <urn:p> {text} .",
                                      format=ox.RdfFormat.N_TRIPLES))).object)


def _from_rust(r: dict[str, Any]) -> RawResult:
    messages = r.get("messages") or []
    return RawResult(Severity.parse(str(_term(r["severity"]))), _term(r["focusNode"]),
                     _term(r.get("resultPath")), _term(r.get("value")), _term(r["sourceShape"]),
                     _term(r.get("sourceConstraintComponent")),
                     messages[-1] if messages else None)


def parse_report(report: rdflib.Graph) -> list[RawResult]:
    """The results of a standard ``sh:ValidationReport`` graph."""
    out = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        severity = report.value(r, SH.resultSeverity)
        message = report.value(r, SH.resultMessage)
        out.append(RawResult(
            Severity.parse(str(severity)), report.value(r, SH.focusNode),
            report.value(r, SH.resultPath), report.value(r, SH.value),
            report.value(r, SH.sourceShape), report.value(r, SH.sourceConstraintComponent),
            str(message) if message is not None else None))
    return out


# -- whole runs ----------------------------------------------------------------------------------


@dataclass
class ValidationRun:
    """The outcome of validating figure files: findings, unreadable files, figures checked."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)  # rdfexport.errors.InputError
    figures: int = 0


def validate_paths(paths: Iterable[Any], options: Any = None,
                   validator: Validator | None = None) -> ValidationRun:
    """Read figure files under ``paths`` and validate them as they come: streaming, in the
    pipeline's workers (``options.jobs``), in batches with shacl-rust (the same findings, only
    faster). ``validator`` gives the shapes and engine (default: the bundled shapes)."""

    from rdfexport.errors import InputError
    from rdfexport.pipeline import ExportOptions, build_graphs

    validator = validator or Validator()
    options = replace(options or ExportOptions(), validate=True, shapes=validator.shapes_dir,
                      shacl_engine=validator.engine_name)
    run = ValidationRun()
    for item in build_graphs(paths, options, findings=run.findings):
        if isinstance(item, InputError):
            run.errors.append(item)
        else:
            run.figures += 1
    return run
