"""Finding figure files and reading them: discovery rules, key lines, tables, organism pages."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FIGURES, OLDER, SAMPLE, SEEDS

from rdfexport.errors import InputError
from rdfexport.sources import (
    SourceFile,
    discover,
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
    assert item.site.table("PMC100003__mb2410470011", "genes") is not None


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
