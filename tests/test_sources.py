"""Finding figure files and reading them: discovery rules, key lines, tables, organism pages."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import FIGURES, OLDER, SAMPLE, SEEDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdfexport import sources
from rdfexport.errors import InputError
from rdfexport.sources import (
    Limits,
    SourceFile,
    discover,
    key_lines,
    read_front_matter,
    read_organism_pages,
    read_table,
)


def files(*paths):
    return [i for i in discover(paths) if isinstance(i, SourceFile)]


def test_site_checkout_uses_figures_and_knows_its_site():
    found = files(SAMPLE)
    assert len(found) == 130
    assert all(f.site is not None and f.site.root == SAMPLE.resolve() for f in found)
    assert [f.path.name for f in found] == sorted(f.path.name for f in found)


def test_a_figure_is_recognised_by_front_matter_not_extension(tmp_path):
    shutil.copy(SEEDS / "000_01b0406e482cf21b.txt", tmp_path / "record.txt")
    (tmp_path / "README.md").write_text("# not a figure\n")
    (tmp_path / "notes.txt").write_text("plain text\n")
    assert [f.path.name for f in files(tmp_path)] == ["record.txt"]


def test_single_file_inside_a_site_finds_the_site_tables():
    (item,) = files(FIGURES / "PMC100003__mb2410470011.md")
    assert item.site is not None
    assert item.site.read_table("PMC100003__mb2410470011", "genes", Limits()) is not None


def test_a_table_that_is_not_a_regular_file_is_no_table(tmp_path):
    """Tables are opened without looking first: a folder or a FIFO in a table's place is still
    "no table", and the FIFO does not block the read."""
    import os

    site = shutil.copytree(SAMPLE, tmp_path / "site")
    figid = "PMC100003__mb2410470011"
    data = site / "_data"
    for kind in ("genes", "chemicals"):
        (data / f"{figid}-{kind}.tsv").unlink(missing_ok=True)
    (data / f"{figid}-genes.tsv").mkdir()
    os.mkfifo(data / f"{figid}-chemicals.tsv")
    (item,) = files(site / "_figures" / f"{figid}.md")
    assert item.site.read_table(figid, "genes", Limits()) is None
    assert item.site.read_table(figid, "chemicals", Limits()) is None
    assert item.site.read_table(figid, "absent", Limits()) is None


def test_a_file_is_read_up_to_the_limit_and_its_mtime_taken(tmp_path):
    import os

    path = tmp_path / "f.md"
    path.write_bytes(b"---\nfigid: PMC1__a\n---\n")
    os.utime(path, (1_600_000_000, 1_600_000_000))
    fm = read_front_matter(path)
    assert fm.data == {"figid": "PMC1__a"} and fm.mtime == 1_600_000_000
    size = path.stat().st_size
    assert sources._read_capped(path, size)[:2] == (path.read_bytes(), size)
    assert sources._read_capped(path, size - 1)[:2] == (None, size)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    assert sources._read_capped(empty, 10)[:2] == (b"", 0)


def test_nested_folders_and_duplicates_are_read_once():
    found = files(OLDER, OLDER / "276e5bbd")
    assert len(found) == len({f.path.resolve() for f in found}) == 6


def test_missing_path_is_an_error_item_not_an_exception():
    (item,) = list(discover(["/no/such/place"]))
    assert isinstance(item, InputError) and "no such file" in item.message


def test_key_lines_point_at_the_front_matter_lines():
    fm = read_front_matter(FIGURES / "PMC100003__mb2410470011.md")
    text = (FIGURES / "PMC100003__mb2410470011.md").read_text().splitlines()
    for key in ("figid", "figtitle", "pmcid", "year", "schema-jsonld.license",
                "schema-jsonld.keywords[2]", "genes[1]"):
        line = text[fm.lines[key] - 1]
        assert line.lstrip(" -").startswith(key.split(".")[-1].split("[")[0]) or "[" in key, key
    assert text[fm.lines["schema-jsonld.keywords[2]"] - 1].strip() == "- PTK2"
    assert text[fm.lines["genes[1]"] - 1].strip() == "- word: Etk"
    assert "genes.symbol" not in fm.lines


def test_crlf_table_without_final_newline_is_read(tmp_path):
    rows = read_table(SAMPLE / "_data" / "PMC6365454__fnins-13-00025-g0002-chemicals.tsv")
    assert rows and all("\r" not in v for row in rows for v in row.values())
    table = tmp_path / "t.tsv"
    table.write_bytes(b"word\tmesh\r\nATP\tmesh:D000255")
    assert read_table(table) == [{"word": "ATP", "mesh": "mesh:D000255"}]


def test_organism_pages_of_both_generations():
    assert read_organism_pages(SAMPLE / "_organisms")["Danio rerio"] == "7955"
    older = read_organism_pages(OLDER / "c6c3ba23" / "_organisms")
    assert older["Danio rerio"] == "7955"
    assert "Candida albicans" in read_organism_pages(OLDER / "f56a3456" / "_organisms")


def test_crlf_and_bom_are_repaired_and_reported(tmp_path):
    raw = (SEEDS / "000_01b0406e482cf21b.txt").read_bytes()
    path = tmp_path / "crlf.md"
    path.write_bytes(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"))
    fm = read_front_matter(Path(path))
    assert fm.data["figid"] == "PMC5701508__ott-10-5491Fig4"
    assert {m for _, m in fm.repairs} == {"removed a UTF-8 byte-order mark",
                                          "converted CRLF line ends to LF"}


# --- the fast reading is the hardened loader, only faster --------------------------------------
# sources._fast_load builds libyaml's events into dicts and lists; it may decline (None), and then
# sources._load (the hardened loader) reads the text. Where it does not decline, the data must be
# exactly what _load gives (types included: 1 is not True, 1.0 is not 1), and _load must not
# refuse the text. key_lines and the table reader were rewritten for speed too; the references
# below are the code they replaced.

_PATH = Path("figure.md")
_TRICKY = ["yes", "No", "on", "OFF", "y", "0o17", "017", "0x1F", "0b101", "1_000", "1e3", "1.0e3",
           "1.5E+3", "12:30:45", "190:20:30.15", ".5", "-.5", "5.", "+1", "-0", "09", ".inf",
           "-.Inf", ".NaN", "nan", "~", "null", "NULL", "", "true", "TRUE", "=", "<<", "2017-01-02",
           "2017-1-2", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2017-13-01",
           "9" * 5000, "'2016'", '"2016"', "NA", ".na.character", "a: b", "&a x", "*a", "!!str 1",
           "!!python/name:os.system", "! 12", "[x, {y: 1}]", "{a: 1, a: 2}", "? [a, b]", "|\n  x",
           '"\\x41\\u00e9\\N\\_\\L\\P"', '"\\ud800"', "'it''s'", "x\u2028y", "x\x85y", "a\tb"]


def _canon(value):
    """The value with every type spelled out, so that 1 != True != 1.0 and NaN == NaN."""
    if isinstance(value, dict):
        return ("dict", [(_canon(k), _canon(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_canon(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(repr(v) for v in value))
    return (type(value).__name__, repr(value))


def _hardened(text: str, limits: Limits):
    try:
        return _canon(sources._load(text, 2, limits, _PATH))
    except InputError as err:
        return ("error", err.message)


def assert_fast_is_hardened(text: str, limits: Limits = Limits()) -> bool:
    fast = sources._fast_load(text, limits)
    if fast is None:
        return False
    assert _canon(fast) == _hardened(text, limits), text[:300]
    return True


def _front_matter(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n", 1)[1].split("\n---", 1)[0] + "\n"


SAMPLE_TEXTS = [_front_matter(p) for p in sorted(FIGURES.glob("*.md"))]


def test_fast_reading_gives_the_hardened_loaders_data_on_every_sample_figure():
    taken = [assert_fast_is_hardened(t) for t in SAMPLE_TEXTS]
    assert all(taken)  # and it reads every one of them
    small = Limits(max_depth=3, max_yaml_nodes=60)
    assert [assert_fast_is_hardened(t, small) for t in SAMPLE_TEXTS].count(True) < len(taken)


def test_fast_reading_declines_what_it_cannot_vouch_for():
    base = SAMPLE_TEXTS[0]
    for extra in ["x: &a 1\ny: *a", "x: !!str 1", "yes: 1", "figid: again", "x:\n  a: 1\n  a: 2",
                  "x: 2017-13-01", "x: " + "9" * 5000, "x: =", "? [a]\n: 1", "m:\n  <<: {a: 1}",
                  "x: [" * 40 + "]" * 40, "x: \"\\ud800\"", "x: a\x07", "---\ny: 2", "x: 'open"]:
        assert sources._fast_load(base + extra + "\n", Limits()) is None, extra
    for text in ["", "# nothing\n", "- a\n", "text\n", "&a {x: 1}\n"]:
        assert sources._fast_load(text, Limits()) is None, text


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fast_reading_gives_the_hardened_loaders_data_on_generated_front_matter(data):
    import test_properties as tp

    name, fields = data.draw(tp.front_matter())
    dumped = yaml.safe_dump(fields, allow_unicode=data.draw(st.booleans()), sort_keys=False)
    mutated = tp.mutation(tp.RAW[data.draw(st.sampled_from(tp.BASES))], data.draw)
    try:
        mutated_text = mutated.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        mutated_text = ""
    lines = _front_matter(FIGURES / data.draw(st.sampled_from(tp.BASES))).split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        token = data.draw(st.sampled_from(_TRICKY) | st.text("0123456789._-+:eEoxbTZ ",
                                                            min_size=1, max_size=12))
        at = data.draw(st.integers(0, len(lines)))
        lines[at:at] = data.draw(st.sampled_from([
            [f"extra{at}: {token}"], [f"extra{at}:", f"- {token}"], [f"{token}: v"],
            [f"extra{at}:", f"  a: {token}", f"  b: [{token}]"], [f"- {token}"],
            [f"  k{at}: {token}"]]))
    limits = data.draw(st.sampled_from([Limits(), Limits(max_depth=3, max_yaml_nodes=80)]))
    for text in (dumped, mutated_text.split("\n---", 2)[1] if mutated_text.count("\n---") >= 2
                 else mutated_text, "\n".join(lines)):
        assert_fast_is_hardened(text, limits)
        assert key_lines(text, 2) == reference_key_lines(text, 2)


_KEY = re.compile(r"""^( *)(?:- )?('[^']*'|"[^"]*"|[^\s#'"{\[][^:]*?)\s*:(?:\s|$)""")
_ITEM = re.compile(r"^( *)- ")


def reference_key_lines(text: str, first_line: int):
    """key_lines as it was: two regular expressions on every line."""
    lines: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    top = sub = None
    top_is_list = False
    items: dict[str, int] = {}
    for offset, line in enumerate(text.split("\n")):
        number = first_line + offset
        m = _KEY.match(line)
        if m and not line.startswith("- "):
            indent = len(m.group(1))
            key = m.group(2).strip("'\"")
            if indent == 0:
                if key in lines:
                    duplicates.append((key, lines[key], number))
                lines[key] = number
                top, sub, top_is_list = key, None, False
                continue
            if indent == 2 and top is not None and not top_is_list and not line.lstrip(
                    ).startswith("- "):
                sub = f"{top}.{key}"
                lines.setdefault(sub, number)
                continue
        im = _ITEM.match(line)
        if im and top is not None:
            top_is_list = top_is_list or (not im.group(1) and sub is None)
            owner = sub if (sub and len(im.group(1)) >= 2) else top
            index = items.get(owner, 0)
            items[owner] = index + 1
            lines.setdefault(f"{owner}[{index}]", number)
    return lines, duplicates


def test_key_lines_as_before_on_every_sample_figure():
    for text in SAMPLE_TEXTS:
        assert key_lines(text, 2) == reference_key_lines(text, 2)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["figid: x", "a:", "- b", "  - c", "  k: v", "  k:", "    d: e",
                                 "- k: v", "  - k: v", "'q': 1", '"q q": 2', "# c", "", " - x",
                                 "x", "a: b: c", "\tt: 1", "-x: 1", "  x", "   - y", "{a: 1}"])
                | st.text(alphabet=" -:'\"#ab\t[{", max_size=8), max_size=30))
def test_key_lines_as_before_on_generated_lines(lines):
    text = "\n".join(lines)
    assert key_lines(text, 2) == reference_key_lines(text, 2)


def reference_table(text: str) -> list[dict[str, str]] | int:
    """read_table's rows as csv.DictReader gave them, or the line of its error."""
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = []
    for row in reader:
        if None in row:
            return reader.line_num
        rows.append({k: (v or "").strip() for k, v in row.items() if k})
    return rows


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["word", "mesh", "", " ", "a b", "NA", "x ", "'", '"',
                                          "mesh", "\x0b", "\u2028", "\x1c", "#"]), max_size=5),
                max_size=6), st.booleans())
def test_tables_read_as_csv_read_them(rows, final_newline):
    text = "\n".join("\t".join(r) for r in rows) + ("\n" if final_newline else "")
    try:
        got: list[dict[str, str]] | int | None = sources._split_table(text, _PATH)
    except InputError as err:
        got = err.line
    assert got == reference_table(text)


def test_every_sample_table_reads_as_csv_read_it():
    for table in sorted((SAMPLE / "_data").glob("*.tsv")):
        text = table.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        assert read_table(table) == reference_table(text), table


def test_a_hostile_organism_page_is_an_error_naming_it_not_a_crash(tmp_path):
    """Organism pages went to libyaml without the figure files' hardening: a page nested
    100,000 deep killed the process (segmentation fault); a broken page was skipped silently."""
    import subprocess
    import sys

    site = tmp_path / "site"
    (site / "_figures").mkdir(parents=True)
    shutil.copytree(SAMPLE / "_data", site / "_data")
    shutil.copy(FIGURES / "PMC100003__mb2410470011.md", site / "_figures")
    organisms = site / "_organisms"
    shutil.copytree(SAMPLE / "_organisms", organisms)
    (organisms / "zz_deep.md").write_text("---\nlatin: " + "[" * 100_000 + "]" * 100_000
                                          + "\n---\n", encoding="utf-8")
    (organisms / "zz_broken.md").write_text("---\nlatin: [unclosed\n---\n", encoding="utf-8")
    out = tmp_path / "out.nq"
    done = subprocess.run([sys.executable, "-m", "rdfexport", "convert", str(site), "-o",
                           str(out), "--no-validate"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{organisms / 'zz_deep.md'}:2: organism page not read: YAML nested deeper" \
        in done.stderr
    assert f"{organisms / 'zz_broken.md'}:3: organism page not read: invalid YAML" in done.stderr
    assert "1 figures" in done.stderr and out.stat().st_size > 0
    taxa, errors = sources.Site(site).organisms
    assert len(errors) == 2 and taxa == sources.Site(SAMPLE).taxa  # the good pages still count


@pytest.mark.parametrize("size, fails", [(131_072, False), (131_073, True)])
def test_a_cell_over_csvs_field_limit_is_an_error_on_its_line(size, fails):
    """One reader for every table: the limit is csv's, which the tables were first read with."""
    text = "word\tmesh\nATP\tD000255\nx\t" + "y" * size + "\n"
    csv_failed = False
    try:
        list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    except csv.Error:
        csv_failed = True
    assert csv_failed is fails
    if fails:
        with pytest.raises(InputError) as err:
            sources._split_table(text, _PATH)
        assert err.value.line == 3 and "over the limit of 131,072 characters" in err.value.problem
    else:
        assert sources._split_table(text, _PATH)[1]["mesh"] == "y" * size
