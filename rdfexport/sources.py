"""Find figure files and read them: front matter with line numbers, tables, organism pages.

A PATH may be a figure file, a folder of figure files, or a site checkout (a folder holding
``_figures/``, whose ``_data/`` and ``_organisms/`` are then used too). A figure file is recognised
by its front matter, not its extension: the seed record is a ``.txt``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from rdfexport.errors import InputError, LimitError, UsageError

try:  # libyaml is ~10x faster than the pure-Python loader (docs/PERFORMANCE.md)
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

FIGURES_DIR = "_figures"
DATA_DIR = "_data"
ORGANISMS_DIR = "_organisms"
TABLE_KINDS = ("genes", "chemicals", "diseases")


@dataclass(frozen=True)
class Limits:
    """Guards against hostile input; every one can be raised from the command line."""

    max_file_bytes: int = 16 * 1024 * 1024
    max_aliases: int = 0
    max_depth: int = 32
    # Nodes the YAML would have once every alias is expanded: the "billion laughs" guard, which
    # still holds when --max-aliases is raised (each alias can double the document).
    max_yaml_nodes: int = 1_000_000


# Nesting deeper than this crashes libyaml's composer (a C stack overflow, not an exception), so
# any text that could nest this deep is checked event by event before it is composed.
_SCAN_BOUND = 2_000


@dataclass(frozen=True)
class Site:
    """A checkout of the PFOCR Jekyll site: the folder holding ``_figures/``."""

    root: Path

    def read_table(self, figid: str, kind: str, limits: Limits
                   ) -> tuple[Path, list[dict[str, str]]] | None:
        """The figure's table of this kind, read, and where it is; None when it has none (no
        regular file there): one open instead of a look and then an open, for 3 tables of every
        figure."""
        path = self._data / f"{figid}-{kind}.tsv"
        rows = _read_table(path, limits, optional=True)
        return None if rows is None else (path, rows)

    @cached_property
    def _data(self) -> Path:
        return self.root / DATA_DIR

    @cached_property
    def taxa(self) -> dict[str, str]:
        """Latin name -> NCBI taxid from ``_organisms/*.md``."""
        return self.organisms[0]

    @cached_property
    def organisms(self) -> tuple[dict[str, str], tuple[InputError, ...]]:
        """The taxa of the organism pages and the pages that could not be read."""
        errors: list[InputError] = []
        taxa = read_organism_pages(self.root / ORGANISMS_DIR, errors)
        return taxa, tuple(errors)


@dataclass(frozen=True)
class SourceFile:
    path: Path
    site: Site | None = None


@dataclass(frozen=True)
class FrontMatter:
    """The parsed YAML with the line of every key, so findings can point at the file."""

    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)
    repairs: tuple[tuple[str, str], ...] = ()  # (key, what was repaired)
    mtime: float = 0.0  # the file's, taken as it was read


_SITE_CACHE: dict[Path, Site] = {}


def _site(root: Path) -> Site:
    root = root.resolve()
    if root not in _SITE_CACHE:
        _SITE_CACHE[root] = Site(root)
    return _SITE_CACHE[root]


def _looks_like_site(folder: Path) -> bool:
    return (folder / DATA_DIR).is_dir() or (folder / ORGANISMS_DIR).is_dir()


def site_of(path: Path) -> Site | None:
    """The site a figure file belongs to: the folder above ``_figures/`` when it has tables."""
    parent = path.resolve().parent
    if parent.name == FIGURES_DIR and _looks_like_site(parent.parent):
        return _site(parent.parent)
    return None


def _has_front_matter(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"---")


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[SourceFile | InputError]:
    """Every figure file under PATHS once, in a deterministic order; bad paths as error items,
    and so are a site's unreadable organism pages (before its first figure)."""
    reported: set[Path] = set()
    for item in _discover(paths):
        site = item.site if isinstance(item, SourceFile) else None
        if site is not None and site.root not in reported:
            reported.add(site.root)
            yield from site.organisms[1]
        yield item


def _discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[SourceFile | InputError]:
    seen: set[str] = set()

    def emit(path: Path, site: Site | None) -> Iterator[SourceFile]:
        key = str(path.resolve())
        if key not in seen:
            seen.add(key)
            yield SourceFile(path, site)

    walked: set[Path] = set()

    def walk(folder: Path) -> Iterator[SourceFile]:
        real = folder.resolve()
        if real in walked:  # a symlink back up the tree: each folder is read once
            return
        walked.add(real)
        if (folder / FIGURES_DIR).is_dir():
            site = _site(folder)
            figures = folder / FIGURES_DIR
            real_figures = str(figures.resolve())
            # scandir: file types without a stat per file, and one resolve() for the folder
            # rather than one per file (100,000 figures: 0.5 s instead of 20 s).
            # Names, not DirEntry objects, are kept for sorting: 20 MB less at 100,000 figures.
            names: list[str] = []
            links: set[str] = set()
            with os.scandir(figures) as listing:
                for entry in listing:
                    if not entry.name.startswith(".") and entry.is_file():
                        names.append(entry.name)
                        if entry.is_symlink():
                            links.add(entry.name)
            names.sort()
            for name in names:
                key = (str((figures / name).resolve()) if name in links
                       else os.path.join(real_figures, name))
                if key not in seen:
                    seen.add(key)
                    yield SourceFile(figures / name, site)
            children = [c for c in sorted(folder.iterdir()) if c.name not in
                        (FIGURES_DIR, DATA_DIR, ORGANISMS_DIR)]
        else:
            in_figures = folder.name == FIGURES_DIR
            site = _site(folder.parent) if in_figures and _looks_like_site(folder.parent) else None
            children = sorted(folder.iterdir())
            for entry in children:
                if entry.is_file() and not entry.name.startswith(".") and (
                        in_figures or _has_front_matter(entry)):
                    yield from emit(entry, site)
        for child in children:
            if child.is_dir() and not child.name.startswith(".") and child.name not in (
                    DATA_DIR, ORGANISMS_DIR):
                yield from walk(child)

    try:
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                yield from walk(path)
            elif path.is_file():
                yield from emit(path, site_of(path))
            else:
                yield InputError("no such file or folder", path=path,
                                 fix="give a figure file, a folder of them or a site checkout")
    finally:
        # walk() refers to itself: the cycle kept this set of every path (15 MB at 100,000
        # figures) until a full collection, which the CLI's collector settings make rare.
        seen.clear()


_KEY_LINE = re.compile(r"""^( *)(?:- )?('[^']*'|"[^"]*"|[^\s#'"{\[][^:]*?)\s*:(?:\s|$)""")


def key_lines(text: str, first_line: int) -> tuple[dict[str, int], list[tuple[str, int, int]]]:
    """Map top-level keys, ``schema-jsonld.<key>`` and list items ``key[i]`` to 1-based lines.

    Also returns top-level keys that appear more than once, as (key, first line, second line).
    A line scanner, not a YAML parser: PFOCR front matter is block style, and the mapping only
    has to be good enough to point a curator at the right line.
    """
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    top: str | None = None
    sub: str | None = None
    top_is_list = False
    items: dict[str, int] = {}
    match = _KEY_LINE.match
    all_lines = text.split("\n")
    total = len(all_lines)
    after_run = 0
    for offset, line in enumerate(all_lines):
        if offset < after_run:  # an item of a run already counted
            continue
        number = first_line + offset
        if line[:1] == " ":
            rest = line.lstrip(" ")
            indent = len(line) - len(rest)
            if not rest.startswith("- "):
                # Only a "key:" two spaces in, under a top-level mapping, counts; deeper lines
                # (continuations, nested keys) name nothing.
                if indent == 2 and top is not None and not top_is_list and ":" in line:
                    m = match(line)
                    if m:
                        sub = f"{top}.{m.group(2).strip(_QUOTES)}"
                        lines.setdefault(sub, number)
                continue
        elif line.startswith("- "):
            indent = 0
        else:
            m = match(line) if ":" in line else None  # the regex is slow on long lines
            if m:
                key = m.group(2).strip(_QUOTES)
                if key in lines:
                    duplicates.append((key, lines[key], number))
                lines[key] = number
                top, sub, top_is_list = key, None, False
            continue
        if top is not None:  # a list item ("- ") at INDENT, and the items after it at INDENT
            prefix = " " * indent + "- "
            after_run = offset + 1
            while after_run < total and all_lines[after_run].startswith(prefix):
                after_run += 1
            top_is_list = top_is_list or (not indent and sub is None)
            owner = sub if (sub and indent >= 2) else top
            index = items.get(owner, 0)
            items[owner] = index + after_run - offset
            for i in range(after_run - offset):
                lines.setdefault(f"{owner}[{index + i}]", number + i)
    return lines, duplicates


_QUOTES = "'\""


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys and turning value errors into marked errors."""

    first_line = 1  # the file line of the YAML's first line, for messages

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as err:  # e.g. a 5,000-digit int, month 13
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {_short(node)}: {err}",
                node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True) if isinstance(
                    key_node, yaml.ScalarNode) else None
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} appears twice (first on line "
                            f"{self.first_line + seen[key]})", key_node.start_mark)
                    seen[key] = key_node.start_mark.line
                except TypeError:  # unhashable: the base class reports it with its line
                    continue
        return super().construct_mapping(node, deep)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _short(node: yaml.Node) -> str:
    value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _count_aliases(text: str) -> int:
    """Alias nodes in the YAML; a cheap text test first, the parser's events only if needed."""
    if not re.search(r"(?:^|[\s\[{,])\*[^\s,\]}]", text):
        return 0
    try:
        return sum(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=_Loader))
    except yaml.YAMLError:
        return 0  # the loader reports the syntax error with its line


def _nesting_bound(text: str) -> int:
    """An upper bound of the YAML's nesting depth: every level needs one of these characters."""
    return sum(text.count(c) for c in "[{-?:\n") + 2


def _scan(text: str, limits: Limits, path: Path, first: int) -> None:
    """Walk the parser's events (never recursive) and refuse deep nesting and alias bombs.

    Run before the YAML is composed, because libyaml's composer recurses in C: a document nested
    tens of thousands deep kills the process instead of raising.
    """
    depth = 0
    aliases = 0
    nodes = 0
    open_sizes: list[tuple[str | None, int]] = []  # (anchor, nodes before it) per open level
    anchored: dict[str, int] = {}
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            kind = type(event)
            if kind is yaml.ScalarEvent:
                nodes += 1
                if event.anchor:
                    anchored[event.anchor] = 1
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                depth += 1
                nodes += 1
                open_sizes.append((event.anchor, nodes - 1))
                if depth > limits.max_depth:
                    raise LimitError(
                        f"YAML nested deeper than {limits.max_depth} levels", path=path,
                        line=first + event.start_mark.line,
                        fix="PFOCR metadata is a few levels deep; raise --max-depth if this "
                            "file is genuine")
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                depth -= 1
                anchor, before = open_sizes.pop()
                if anchor:
                    anchored[anchor] = nodes - before
            elif kind is yaml.AliasEvent:
                aliases += 1
                if aliases > limits.max_aliases:
                    raise LimitError(
                        f"YAML uses more than {limits.max_aliases} aliases (*{event.anchor} "
                        "here)", path=path, line=first + event.start_mark.line,
                        fix="PFOCR front matter needs no anchors or aliases; expand them, or "
                            "raise --max-aliases")
                nodes += anchored.get(event.anchor, 1)
            if nodes > limits.max_yaml_nodes:
                raise LimitError(
                    f"YAML expands to more than {limits.max_yaml_nodes:,} nodes (aliases "
                    "repeating aliases: a 'billion laughs' document)", path=path,
                    line=first + event.start_mark.line,
                    fix="expand the aliases by hand, or raise --max-yaml-nodes if the file is "
                        "genuine")
    except yaml.YAMLError:
        return  # the loader reports the syntax error with its line


# The fast reading: the same libyaml parser, its events built into dicts and lists in one loop
# instead of composed into nodes and constructed (2-3x less CPU per figure). It only returns what
# the hardened loader would return: anything it cannot vouch for (an error, an anchor, an alias, a
# tag, a key that is not text, a duplicate key, nesting or nodes over a limit, a second document,
# a registered resolver or constructor that is not PyYAML's own) gives None, and the hardened
# loader then reads the file and reports the problem exactly as before.
_CParser = getattr(yaml, "cyaml", None) and getattr(yaml.cyaml, "CParser", None)
_STR_TAG = "tag:yaml.org,2002:str"
_STANDARD = {f"tag:yaml.org,2002:{name}": getattr(yaml.constructor.SafeConstructor,
                                                   f"construct_yaml_{name}")
             for name in ("str", "map", "seq", "null", "bool", "int", "float", "timestamp")}
_NO_KEY = object()


def _fast_load(text: str, limits: Limits) -> dict[str, Any] | None:
    """The front matter as ``_Loader`` reads it, or None to let ``_Loader`` read (and judge) it."""
    constructors = _Loader.yaml_constructors
    if _CParser is None or _Loader.yaml_path_resolvers or None in _Loader.yaml_implicit_resolvers \
            or any(constructors.get(tag) is not f for tag, f in _STANDARD.items()):
        return None
    parser = _CParser(text)
    try:
        return _build(parser, limits.max_depth, limits.max_yaml_nodes, constructors)
    except Exception:  # any error: the hardened loader reports it with its line
        return None
    finally:
        parser.dispose()


def _build(parser: Any, max_depth: int, max_nodes: int,
           constructors: dict[Any, Any]) -> dict[str, Any] | None:
    get = parser.get_event
    resolvers = _Loader.yaml_implicit_resolvers
    if type(get()) is not yaml.StreamStartEvent or type(get()) is not yaml.DocumentStartEvent:
        return None
    event = get()
    # Depth as _depth counts it (the root mapping is level 1, its values level 2): a collection
    # at level max_depth could hold a value over the limit, so it is left to the full loader.
    if type(event) is not yaml.MappingStartEvent or event.anchor is not None \
            or event.tag is not None or max_depth <= 1:
        return None
    root: dict[str, Any] = {}
    current: Any = root
    is_map = True
    key: Any = _NO_KEY
    depth = 1
    nodes = 1  # as _scan counts them: scalars and collections (no aliases here)
    parents: list[tuple[Any, bool]] = []
    scalar_event = yaml.ScalarEvent
    mapping_start = yaml.MappingStartEvent
    sequence_start = yaml.SequenceStartEvent
    mapping_end = yaml.MappingEndEvent
    sequence_end = yaml.SequenceEndEvent
    while True:
        event = get()
        kind = type(event)
        if kind is scalar_event:
            if event.tag is not None or event.anchor is not None:
                return None
            nodes += 1
            value = event.value
            if event.implicit[0]:  # a plain scalar: PyYAML's resolvers give its type
                for tag, regexp in resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        if is_map and key is _NO_KEY or tag == _STR_TAG:
                            return None  # a key that is not text (or a resolver not PyYAML's)
                        construct = constructors.get(tag)
                        if construct is None:
                            return None
                        value = construct(_CONSTRUCTOR, yaml.ScalarNode(tag, value))
                        break
            if is_map:
                if key is _NO_KEY:
                    if value in current:
                        return None  # a duplicate key
                    key = value
                else:
                    current[key] = value
                    key = _NO_KEY
            else:
                current.append(value)
        elif kind is mapping_start or kind is sequence_start:
            depth += 1
            if event.tag is not None or event.anchor is not None or depth >= max_depth \
                    or (is_map and key is _NO_KEY):
                return None
            nodes += 1
            child: Any = {} if kind is mapping_start else []
            if is_map:
                current[key] = child
            else:
                current.append(child)
            parents.append((current, is_map))
            current, is_map, key = child, kind is mapping_start, _NO_KEY
        elif kind is mapping_end or kind is sequence_end:
            if not parents:
                break
            current, is_map = parents.pop()
            key = _NO_KEY
            depth -= 1
        else:  # an alias, or anything else the hardened loader should judge
            return None
    if nodes > max_nodes or type(get()) is not yaml.DocumentEndEvent \
            or type(get()) is not yaml.StreamEndEvent:
        return None  # too many nodes for --max-yaml-nodes, or a second document
    return root


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def _read_text(path: Path, limits: Limits) -> tuple[str, list[tuple[str, str]], float]:
    """The file as text, with the byte-order mark and CRLF line ends repaired and reported,
    and its mtime."""
    try:
        raw, size, mtime = _read_capped(path, limits.max_file_bytes)  # type: ignore[misc]
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path=path) from None
    if raw is None:
        raise LimitError(f"file is {size:,} bytes, over the limit of "
                         f"{limits.max_file_bytes:,}", path=path,
                         fix="raise it with --max-file-size if the file is genuine")
    text, repairs = decode(raw, path)
    return text, repairs, mtime


def _read_capped(path: Path, limit: int, regular_only: bool = False
                 ) -> tuple[bytes | None, int, float] | None:
    """(content, size, mtime) of a file in one open, one fstat and the reads (the pipeline
    reads four files a figure). The content is None when the file is over LIMIT bytes: never
    more than that is read, even from a file that grows, and a small file does not first get a
    LIMIT-sized buffer. None, with ``regular_only``, for anything but a regular file; a FIFO
    does not block the open."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if regular_only and not stat.S_ISREG(st.st_mode):
            return None
        if st.st_size > limit:
            return None, st.st_size, st.st_mtime
        want = st.st_size + 1  # one byte more: a file that grew since the fstat is read on
        chunks: list[bytes] = []
        got = 0
        while True:
            chunk = os.read(fd, want - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                return None, got, st.st_mtime
            if got >= want:
                want = limit + 1
    finally:
        os.close(fd)
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), got, st.st_mtime


def decode(raw: bytes, path: Path, what: str = "a figure file"
           ) -> tuple[str, list[tuple[str, str]]]:
    """UTF-8 text with a byte-order mark and CRLF or CR line ends repaired; else InputError."""
    repairs: list[tuple[str, str]] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        repairs.append(("file", "removed a UTF-8 byte-order mark"))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("UTF-16 text (it starts with a UTF-16 byte-order mark)", path=path,
                         line=1, fix="re-save the file as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError(f"binary file, not {what} (a NUL byte at offset "
                         f"{nul:,})", path=path, line=raw[:nul].count(b"\n") + 1,
                         fix="remove it from the input or give the figure's .md file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})",
                         path=path, line=line, fix="re-save the file as UTF-8") from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        repairs.append(("file", "converted CRLF line ends to LF"))
    return text, repairs


def split_front_matter(text: str, path: Path) -> tuple[str, int]:
    """The YAML between the opening and closing ``---`` lines, and the line it starts on."""
    if not text or text.isspace():
        raise InputError("empty file", path=path, line=1,
                         fix="a figure file starts with a '---' line of YAML front matter")
    newline = text.find("\n")
    if not text.startswith("---") or (text if newline < 0 else text[:newline]).strip() != "---":
        raise InputError("no front matter: the first line is not '---'", path=path, line=1,
                         fix="a figure file starts with a '---' line of YAML front matter")
    # The first '---' or '...' line after the first line (the YAML keeps its last line break).
    end = _END_LINE.search(text, newline) if newline >= 0 else None
    if end is None:
        raise InputError("front matter never closed", path=path,
                         line=text.count("\n") + 1, fix="end the front matter with a '---' line")
    return text[newline + 1: end.start() + 1], 2


_END_LINE = re.compile(r"\n(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def read_front_matter(path: Path, limits: Limits = Limits()) -> FrontMatter:
    text, repairs, mtime = _read_text(path, limits)
    yaml_text, first = split_front_matter(text, path)
    data = _fast_load(yaml_text, limits)
    if data is None:
        data = _load(yaml_text, first, limits, path)
    lines, duplicates = key_lines(yaml_text, first)
    if duplicates:
        key, one, two = duplicates[0]
        raise InputError(f"key {key!r} appears twice (lines {one} and {two})", path=path,
                         line=two, fix="keep one of them")
    return FrontMatter(data, lines, tuple(repairs), mtime)


def _load(yaml_text: str, first: int, limits: Limits, path: Path) -> dict[str, Any]:
    """The hardened loader: every check, and the error messages, for any YAML at all."""
    if _count_aliases(yaml_text) or _nesting_bound(yaml_text) > min(
            _SCAN_BOUND, limits.max_yaml_nodes):
        _scan(yaml_text, limits, path, first)
    loader = _Loader(yaml_text)
    loader.first_line = first
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = first + mark.line if mark else None
        problem = f"invalid YAML: {_one_line(err.problem or str(err))}"
        if err.context and err.context_mark and err.context_mark is not mark:
            problem += f" ({err.context} that starts on line {first + err.context_mark.line})"
        fix = ("a key may appear once: keep one of them" if "appears twice" in problem
               else "remove the tag: figure files hold plain YAML values" if "for the tag" in
               problem else "fix the YAML syntax on that line")
        raise InputError(problem, path=path, line=line, fix=fix) from None
    except yaml.reader.ReaderError as err:
        line = first + yaml_text[: err.position].count("\n") if isinstance(
            err.position, int) else None
        char = (err.character if isinstance(err.character, int)
                else ord(str(err.character)[:1] or "?"))
        raise InputError(f"invalid YAML: character U+{char:04X} is not allowed "
                         f"({_one_line(err.reason)})", path=path, line=line,
                         fix="remove it, or write it escaped inside a double-quoted string "
                             "('\\x07')") from None
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {_one_line(str(err))}", path=path,
                         fix="fix the YAML syntax") from None
    except RecursionError:
        raise LimitError("YAML nested too deeply", path=path) from None
    if not isinstance(data, dict):
        raise InputError(f"front matter is {kind_of(data)}, not a mapping of keys",
                         path=path, line=first, fix="write the metadata as 'key: value' lines")
    if _depth(data, limits.max_depth) > limits.max_depth:
        raise LimitError(f"front matter nested deeper than {limits.max_depth} levels",
                         path=path, fix="PFOCR metadata is at most a few levels deep")
    return data


def kind_of(value: Any) -> str:
    """What a YAML value is, in the words of someone editing the file (not Python's)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (dt.date, dt.datetime)):
        return "a date"
    if isinstance(value, dict):
        return "a mapping (key: value lines)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "empty"
    return f"a YAML {type(value).__name__}"


MAX_CELL = 131_072  # csv's field limit, which the tables were first read with


def read_table(path: Path, limits: Limits = Limits()) -> list[dict[str, str]]:
    """A ``_data/*.tsv`` table as rows; CRLF line ends and a missing final newline are fine."""
    return _read_table(path, limits)  # type: ignore[return-value]


def _read_table(path: Path, limits: Limits, optional: bool = False
                ) -> list[dict[str, str]] | None:
    """``optional``: None where there is no regular file, instead of an error."""
    try:
        read = _read_capped(path, limits.max_file_bytes, regular_only=optional)
    except OSError as err:
        if optional and isinstance(err, (FileNotFoundError, NotADirectoryError)):
            return None
        raise InputError(f"cannot read table: {err.strerror or err}", path=path) from None
    if read is None:
        return None
    raw = read[0]
    if raw is None:
        raise LimitError(f"table is over the limit of {limits.max_file_bytes:,} bytes",
                         path=path, fix="raise it with --max-file-size if the table is genuine")
    try:
        text, _ = decode(raw, path, "a table")
    except InputError as err:
        raise InputError(f"table: {err.problem}", path=path, line=err.line,
                         fix="tables are UTF-8 tab-separated files") from None
    return _split_table(text, path)


def _split_table(text: str, path: Path) -> list[dict[str, str]]:
    """The rows exactly as ``csv.DictReader`` (tab, no quoting) gives them, 2-3x faster; a cell
    over csv's field limit is an error here too (tests/test_sources.py compares the two).

    Without quoting a record is one line: the header is the first line (even a blank one), blank
    lines are skipped, a short row gets None (then "") for its missing cells, a duplicate column
    name keeps its first place and its last value.
    """
    lines = text.split("\n")
    for number, line in enumerate(lines if len(text) > MAX_CELL else (), 1):
        if len(line) > MAX_CELL and any(len(cell) > MAX_CELL for cell in line.split("\t")):
            raise InputError(f"table: a cell is over the limit of {MAX_CELL:,} characters",
                             path=path, line=number,
                             fix="a cell holds one OCR word or id; check the tabs and line ends "
                                 "there")
    header = lines[0].split("\t") if lines[0] else []
    width = len(header)
    unnamed = "" in header  # a column without a name is left out
    strip = str.strip
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) == width:
            rows.append({k: v.strip() for k, v in zip(header, cells, strict=True) if k}
                        if unnamed else dict(zip(header, map(strip, cells), strict=True)))
            continue
        if len(cells) > width:
            raise InputError("row has more cells than the header", path=path, line=number,
                             fix="check the tabs on that line")
        row: dict[str, str | None] = dict(zip(header, cells, strict=False))
        for key in header[len(cells):]:
            row[key] = None
        rows.append({k: (v or "").strip() for k, v in row.items() if k})
    return rows


def read_organism_pages(folder: Path, errors: list[InputError] | None = None
                        ) -> dict[str, str]:
    """Latin name -> taxid from organism pages, read as hardened as figure files; pages
    without both keys are skipped (some organisms have no NCBI id), unreadable ones are
    appended to ``errors``."""
    taxa: dict[str, str] = {}
    if not folder.is_dir():
        return taxa
    for page in sorted(folder.glob("*.md")):
        try:
            data = read_front_matter(page).data
        except InputError as err:
            if errors is not None:
                fix = "" if isinstance(err, LimitError) else f"{err.fix}; " if err.fix else ""
                errors.append(type(err)(
                    f"organism page not read: {err.problem}", path=err.path, line=err.line,
                    fix=f"{fix}figures of this organism get no taxon from it"))
            continue
        latin, taxid = data.get("latin"), data.get("ncbi")
        if isinstance(latin, str) and str(taxid).isdigit():
            taxa.setdefault(latin.strip(), str(taxid))
    return taxa


def source_figids(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """For pruning a store: the figid each figure file of the input is named for (its name
    without the suffix, the PFOCR convention), one per file, readable or not. UsageError for an
    input path that does not exist and for an input without figure files: each would make the
    whole store look removed."""
    figids: list[str] = []
    for item in discover(paths):
        if isinstance(item, InputError):
            if item.path is not None and Path(item.path).parent.name == ORGANISMS_DIR:
                continue  # an organism page hides no figure
            raise UsageError(f"--prune: {item.path}: {item.problem}; the figures under it "
                             "would look removed and be dropped",
                             fix="give the whole source, every path existing, with --prune")
        figids.append(item.path.stem)
    if not figids:
        raise UsageError("--prune: the input holds no figure file, so every figure in the store "
                         "would look removed and be dropped",
                         fix="give the whole source (a site checkout or its _figures folder)")
    return figids


_FIGID_LINE = re.compile(r"""^figid[ \t]*:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\n#]*))""",
                         re.MULTILINE)


def figids_of_failed(path: Path) -> set[str]:
    """What figid a file that failed to read may belong to, besides its name (which
    :func:`source_figids` has): a table ``_data/<figid>-<kind>.tsv`` names its figure; a figure
    file's ``figid:`` lines, found in its bytes without parsing them. Nothing for what cannot be
    read at all."""
    found: set[str] = set()
    if path.parent.name == DATA_DIR and "-" in path.name:
        found.add(path.name.rsplit("-", 1)[0])
    try:
        with open(path, "rb") as fh:
            text = fh.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return found
    for m in _FIGID_LINE.finditer(text):
        value = next(g for g in m.groups() if g is not None).strip()
        if value:
            found.add(value)
    return found
