"""Property tests (issue 6): whatever the front matter holds, a run either writes RDF that
pyoxigraph parses back, or reports one clear error for that file; never a traceback.

Two generators, each starting from real sample figures:
- ``structured``: the front matter as data, with any key replaced by any YAML value (text in any
  script, control characters, NA markers, numbers, NaN, dates, lists, mappings...), then dumped;
- ``mutated``: the bytes of a real file with a few random edits (YAML punctuation, line breaks,
  tabs, NUL, invalid UTF-8...), so the parser's error paths are exercised too.

A third test mutates the `_data` tables of real figures the same way.

Each example is one library run over 4 to 10 such files (one batch, so a bad file must not
spoil its neighbours, and each error must name its own file). Examples per test come from the
hypothesis profile (tests/conftest.py): "ci" runs 300 per test, so at least 2,400 files in all;
the session summary prints how many files were tried and how each ended.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import conftest
import pyoxigraph as ox
import yaml
from conftest import FIGURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdfexport import vocab
from rdfexport.errors import InputError
from rdfexport.formats import FORMATS, Writer
from rdfexport.graph import FigureGraph
from rdfexport.pipeline import ExportOptions, build_graphs

BASES = ["PMC10031279__gr8.md", "PMC100003__mb2410470011.md", "PMC10029719__cs3c00075_0011.md"]
RAW = {name: (FIGURES / name).read_bytes() for name in BASES}
PARSED = {name: yaml.safe_load(raw.decode().split("\n---", 1)[0][4:]) for name, raw in RAW.items()}
WRITTEN_FORMATS = ["nquads", "turtle", "ntriples", "trig", "jsonld"]
OPTIONS = ExportOptions(engine="oxigraph")
NA = sorted(vocab.NA_MARKERS)
NA_LITERALS = {".na.character", "NA", ".na", ".na.real", ".na.integer"}

scalars = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20),
    st.sampled_from(NA + ["On", "NO", "Off", "true", "~", "null", "10.1000/x y", "<x>", "\\",
                          "\"", "'", "@id", "@context", "https://schema.org/", "PMC123__a",
                          "mesh:D005227", "CHEBI:15377", "WP554", "9606", "Homo sapiens",
                          "\x00", "\x1b[31m", "\u2028", "\ufeff", "a\r\nb", " ",
                          # relative IRIs (resolved against the figure IRI) and near misses
                          "PMC123__a.html", "../x/y?q#f", "./", "", ".gc", "//host/x", "a%zz",
                          "#fig"]),
    st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.dates(min_value=dt.date(1, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12) | st.sampled_from(
                                ["word", "symbol", "entrez", "source", "hgnc_symbol", "mesh",
                                 "identifier", "@id", "@type", "@value", "@language", "name",
                                 "@list", "@graph", "@reverse"]), inner, max_size=4)),
    max_leaves=8,
)


@st.composite
def front_matter(draw) -> tuple[str, dict]:
    name = draw(st.sampled_from(BASES))
    data = dict(PARSED[name])
    keys = sorted(data) + ["schema-jsonld.keywords", "schema-jsonld.name", "schema-jsonld.@id",
                           "schema-jsonld.url",
                           "schema-jsonld.@type", "schema-jsonld.license",
                           "schema-jsonld.creator", "schema-jsonld.description",
                           "schema-jsonld.@context", "extra", "wpid", "genes", "chemicals"]
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=4, unique=True)):
        value = draw(st.text(max_size=40) | values)  # half the time text, the expected type
        if key.startswith("schema-jsonld.") and isinstance(data.get("schema-jsonld"), dict):
            block = dict(data["schema-jsonld"])
            block[key.split(".", 1)[1]] = value
            data["schema-jsonld"] = block
        else:
            data[key] = value
    return name, data


def mutation(raw: bytes, draw) -> bytes:
    pieces = [b":", b": ", b"- ", b"-", b"'", b'"', b"[", b"]", b"{", b"}", b"&a ", b"*a",
              b"!!str ", b"? ", b"|", b">", b"#", b"%", b"@", b"\t", b"\r", b"\r\n", b"\n",
              b"\n---\n", b"---", b"...", b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\\",
              b"\\u", b"  ", b"NA", b".na.character", b"\xe2\x80\xa8", b"\x1b"]
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "dup_line"]))
        if kind == "insert":
            raw = raw[:at] + draw(st.sampled_from(pieces) | st.binary(max_size=4)) + raw[at:]
        elif kind == "delete":
            raw = raw[:at] + raw[at + draw(st.integers(1, 40)):]
        elif kind == "replace":
            raw = raw[:at] + draw(st.sampled_from(pieces)) + raw[at + 1:]
        else:
            start = raw.rfind(b"\n", 0, at) + 1
            end = raw.find(b"\n", at)
            end = len(raw) if end < 0 else end + 1
            raw = raw[:end] + raw[start:end] + raw[end:]
    return raw


def check_run(folder: Path, files: list[Path], fmt: str, kind: str) -> None:
    """One library run over FILES (one batch): each file gives its graph or one clear error naming
    it, and the graphs written in FMT parse back with pyoxigraph."""
    items = list(build_graphs([folder], OPTIONS))
    assert len(items) == len(files), items
    graphs = []
    for path, item in zip(sorted(files), items, strict=False):
        if isinstance(item, InputError):
            message = item.message
            assert str(path) in message, (path, message)
            assert "\n" not in message and "\r" not in message, repr(message)
            outcome = "error"
        else:
            assert isinstance(item, FigureGraph), item
            assert item.figure.path == str(path)
            quads = list(ox.parse(item.nquads(), ox.RdfFormat.N_QUADS))
            assert quads and all(q.graph_name == ox.NamedNode(item.iri) for q in quads)
            for q in quads:
                if isinstance(q.object, ox.Literal):
                    assert q.object.value.strip() not in NA_LITERALS, q
            graphs.append(item)
            outcome = "graph"
        key = f"{kind}:{outcome}"
        conftest.PROPERTY_EXAMPLES[key] = conftest.PROPERTY_EXAMPLES.get(key, 0) + 1
    if graphs:
        out = folder.parent / f"out{FORMATS[fmt].suffixes[0]}"
        with Writer(out, FORMATS[fmt]) as writer:
            writer.write_all(graphs, list)
        parsed = list(ox.parse(out.read_bytes(), FORMATS[fmt].rdf_format))
        assert len(parsed) >= sum(len(g.nquads().splitlines()) for g in graphs) \
            if FORMATS[fmt].quads else parsed


def write_files(tmp: Path, named: list[tuple[str, bytes]]) -> tuple[Path, list[Path]]:
    folder = tmp / "_figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, data) in enumerate(named):
        path = folder / f"{i:02d}-{name}"
        path.write_bytes(data)
        paths.append(path)
    return folder, paths


def unique(name: str, data: bytes, i: int) -> bytes:
    """The figure with its own figid, so the files of one run are not duplicates of each other."""
    figid = name[:-3].encode()
    return data.replace(figid, figid + b"-%d" % i)


FAST = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large], deadline=None)
FILES_PER_RUN = st.integers(min_value=4, max_value=10)


@FAST
@given(count=FILES_PER_RUN, fmt=st.sampled_from(WRITTEN_FORMATS), unicode=st.booleans(),
       data=st.data())
def test_structured_front_matter_gives_rdf_or_one_clear_error(count, fmt, unicode, data,
                                                              tmp_path_factory):
    named = []
    for i in range(count):
        name, fields = data.draw(front_matter())
        text = "---\n" + yaml.safe_dump(fields, allow_unicode=unicode, sort_keys=False) + "---\n"
        named.append((name, unique(name, text.encode("utf-8"), i)))
    folder, paths = write_files(tmp_path_factory.mktemp("structured"), named)
    check_run(folder, paths, fmt, "structured")


@FAST
@given(count=FILES_PER_RUN, fmt=st.sampled_from(WRITTEN_FORMATS), data=st.data())
def test_mutated_file_gives_rdf_or_one_clear_error(count, fmt, data, tmp_path_factory):
    named = []
    for i in range(count):
        name = data.draw(st.sampled_from(BASES))
        named.append((name, mutation(unique(name, RAW[name], i), data.draw)))
    folder, paths = write_files(tmp_path_factory.mktemp("mutated"), named)
    check_run(folder, paths, fmt, "mutated")


TABLES = {name: sorted((FIGURES.parent / "_data").glob(f"{name[:-3]}-*.tsv")) for name in BASES}


@settings(FAST, max_examples=max(10, settings().max_examples // 3))  # beyond the 2,400 files
@given(count=FILES_PER_RUN, fmt=st.sampled_from(WRITTEN_FORMATS), data=st.data())
def test_mutated_tables_give_rdf_or_one_clear_error(count, fmt, data, tmp_path_factory):
    """The `_data/<figid>-*.tsv` tables mutated: the figure gives its graph, or one error (naming
    the table or the figure) for that figure alone."""
    tmp = tmp_path_factory.mktemp("tables")
    named = []
    for i in range(count):
        name = data.draw(st.sampled_from([n for n in BASES if TABLES[n]]))
        named.append((name, unique(name, RAW[name], i)))
        for table in TABLES[name]:
            raw = table.read_bytes()
            if data.draw(st.booleans()):
                raw = mutation(raw, data.draw)
            (tmp / "_data").mkdir(exist_ok=True)
            kind = table.name[len(name) - 3:]  # "-genes.tsv" ...
            (tmp / "_data" / f"{name[:-3]}-{i}{kind}").write_bytes(raw)
    _, paths = write_files(tmp, named)
    items = list(build_graphs([tmp], OPTIONS))
    assert len(items) == len(paths), items
    for path, item in zip(sorted(paths), items, strict=False):
        if isinstance(item, InputError):
            assert "\n" not in item.message
            assert str(path) in item.message or "/_data/" in item.message, item.message
            outcome = "error"
        else:
            assert item.figure.path == str(path)
            list(ox.parse(item.nquads(), ox.RdfFormat.N_QUADS))
            outcome = "graph"
        key = f"tables:{outcome}"
        conftest.PROPERTY_EXAMPLES[key] = conftest.PROPERTY_EXAMPLES.get(key, 0) + 1


@settings(FAST, max_examples=max(10, settings().max_examples // 3))  # pyld is slow
@given(count=FILES_PER_RUN, unicode=st.booleans(), data=st.data())
def test_direct_engine_gives_pyld_bytes_on_generated_figures(count, unicode, data,
                                                            tmp_path_factory):
    """The direct engine against pyld, the JSON-LD processor of record, on generated front matter
    (with the figure's `_data` tables, mutated or not): the same graph bytes, or the same error,
    for every file."""
    tmp = tmp_path_factory.mktemp("engines")
    named = []
    for i in range(count):
        name, fields = data.draw(front_matter())
        text = "---\n" + yaml.safe_dump(fields, allow_unicode=unicode, sort_keys=False) + "---\n"
        named.append((name, unique(name, text.encode("utf-8"), i)))
        for table in TABLES[name]:
            raw = table.read_bytes()
            if data.draw(st.booleans()):
                raw = mutation(raw, data.draw)
            (tmp / "_data").mkdir(exist_ok=True)
            (tmp / "_data" / f"{name[:-3]}-{i}{table.name[len(name) - 3:]}").write_bytes(raw)
    _, paths = write_files(tmp, named)
    direct = list(build_graphs([tmp], ExportOptions(engine="direct")))
    reference = list(build_graphs([tmp], ExportOptions(engine="pyld")))
    assert len(direct) == len(reference) == len(paths)
    for got, expected in zip(direct, reference, strict=True):
        assert type(got) is type(expected), (got, expected)
        if isinstance(expected, InputError):
            assert str(got) == str(expected)
            outcome = "error"
        else:
            assert got.data == expected.data, expected.figure.path
            assert got.digest == expected.digest
            outcome = "graph"
        key = f"engines:{outcome}"
        conftest.PROPERTY_EXAMPLES[key] = conftest.PROPERTY_EXAMPLES.get(key, 0) + 1
