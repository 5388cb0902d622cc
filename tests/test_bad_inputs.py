"""Issue 6: hostile and broken figure files give one clear error (or a reported repair), never a
traceback, and never stop the good files of the same run.

The cases are data: tests/bad_inputs/cases.yaml lists each broken file and what must happen.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
import yaml
from click.testing import CliRunner
from conftest import FIGURES, SAMPLE

from rdfexport import errors, sources
from rdfexport.cli import main
from rdfexport.graph import FigureGraph
from rdfexport.pipeline import ExportOptions, build_graphs
from rdfexport.records import load_figure
from rdfexport.sources import Limits, SourceFile, discover

HERE = Path(__file__).resolve().parent / "bad_inputs"
CASES = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
BASE = (FIGURES / "PMC10031279__gr8.md").read_bytes()
SEO = b"seo: CreativeWork\n"  # line 37 of the base figure: generated breakage goes below it


def _after_seo(extra: bytes) -> bytes:
    assert BASE.count(SEO) == 1
    return BASE.replace(SEO, SEO + extra)


def _alias_bomb() -> bytes:
    lines = [b"lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9).encode()
        lines.append(b"lol%d: &a%d [%s]" % (i, i, refs))
    return _after_seo(b"\n".join(lines) + b"\n")


def _huge_cell_table() -> dict[str, bytes]:
    table = (SAMPLE / "_data" / "PMC10031279__gr8-genes.tsv").read_bytes()
    return {"_figures/PMC10031279__gr8.md": BASE,
            "_data/PMC10031279__gr8-genes.tsv": table.replace(b"Irhom2", b"I" * 200_000, 1)}


GENERATORS = {
    "binary_png": lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64,
    "huge_caption": lambda: BASE.replace(b"caption: Schematic",
                                         b"caption: " + b"x" * (50 * 1024 * 1024) + b" Schematic"),
    "alias_bomb": _alias_bomb,
    "deep_flow": lambda: _after_seo(b"extra: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
    "deep_block": lambda: _after_seo(b"extra:\n" + b"".join(
        b"  " * (i + 1) + b"k%d:\n" % i for i in range(200)) + b"  " * 201 + b"leaf\n"),
    "deep_compact": lambda: _after_seo(b"extra:\n" + b"- " * 50_000 + b"x\n"),
    "huge_cell_table": _huge_cell_table,  # over csv's 128 KiB field limit: was a traceback
}


def case_ids(kind: str | None = None) -> list[dict]:
    return [c for c in CASES if kind is None or c["expect"] == kind]


def materialise(case: dict, tmp_path: Path) -> Path:
    """The case's mini site: the committed folder, or a folder the generator writes."""
    if "generate" not in case:
        folder = HERE / case["case"]
        assert (folder / case["file"]).is_file(), f"{case['case']}: {case['file']} is missing"
        return folder
    folder = tmp_path / case["case"]
    made = GENERATORS[case["generate"]]()
    for relative, data in (made.items() if isinstance(made, dict) else [(case["file"], made)]):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return folder


def clean_digest(file_name: str, tmp_path: Path) -> str:
    """The graph of the untouched sample figure, read alone (no _data tables), like the cases."""
    site = tmp_path / "clean"
    (site / "_figures").mkdir(parents=True)
    shutil.copy(FIGURES / file_name, site / "_figures" / file_name)
    (item,) = build_graphs([site])
    assert isinstance(item, FigureGraph), item
    return item.digest


def check_error(case: dict, err: errors.InputError, folder: Path) -> None:
    name = case["case"]
    assert type(err).__name__ == case["error"] or isinstance(err, getattr(errors, case["error"])), (
        f"{name}: {type(err).__name__} is not a {case['error']}: {err.message}")
    named = folder / case.get("table", case["file"])
    assert err.path is not None and Path(err.path).resolve() == named.resolve(), (
        f"{name}: the error names {err.path}, not {named}")
    if "line" in case:
        assert err.line == case["line"], f"{name}: line {err.line}, expected {case['line']}: {err}"
    message = err.message
    assert "\n" not in message and "\r" not in message, f"{name}: not one line: {message!r}"
    assert len(message) < 600, f"{name}: message too long: {message[:200]}..."
    for needle in case["contains"]:
        assert needle.lower() in message.lower(), f"{name}: {needle!r} not in {message!r}"
    assert err.fix, f"{name}: no fix in {message!r}"


@pytest.mark.parametrize("case", case_ids("error"), ids=lambda c: c["case"])
def test_bad_file_gives_one_clear_error(case, tmp_path):
    folder = materialise(case, tmp_path)
    items = list(build_graphs([folder]))
    assert len(items) == 1, f"{case['case']}: {items}"
    (err,) = items
    assert isinstance(err, errors.InputError), f"{case['case']}: exported instead of refused"
    check_error(case, err, folder)


@pytest.mark.parametrize("case", case_ids(), ids=lambda c: c["case"])
def test_the_fast_front_matter_reading_changes_no_outcome(case, tmp_path, monkeypatch):
    """Each case gives the same record, or the same error word for word and line for line, with
    the fast front-matter reading as with the hardened loader alone."""
    folder = materialise(case, tmp_path)

    def outcomes() -> list[tuple]:
        found = []
        for source in discover([folder]):
            try:
                assert isinstance(source, SourceFile), source
                figure = load_figure(source)
                found.append((repr(figure), figure.lines, figure.repairs))
            except errors.InputError as err:
                found.append((type(err).__name__, err.message, err.line))
        return found

    fast = outcomes()
    monkeypatch.setattr(sources, "_fast_load", lambda text, limits: None)
    assert outcomes() == fast


@pytest.mark.parametrize("case", case_ids("repair"), ids=lambda c: c["case"])
def test_repairable_file_gives_the_clean_graph_and_says_so(case, tmp_path):
    folder = materialise(case, tmp_path)
    (item,) = build_graphs([folder])
    assert isinstance(item, FigureGraph), f"{case['case']}: {item}"
    assert item.digest == clean_digest(Path(case["file"]).name, tmp_path)
    notes = [str(r) for r in item.figure.repairs]
    for needle in case["contains"]:
        assert any(needle.lower() in n.lower() for n in notes), f"{needle!r} not in {notes}"


def test_collection_covers_every_kind_the_issue_names():
    names = {c["case"] for c in CASES}
    for required in ("invalid_yaml_unclosed_flow", "no_front_matter", "front_matter_not_closed",
                     "empty_file", "binary_png", "non_utf8_latin1", "bom", "crlf", "alias_bomb",
                     "deep_nesting_flow", "huge_caption_50mb", "duplicate_key_top",
                     "organisms_number", "genes_string", "year_20017", "figid_space",
                     "figid_angle_brackets", "figid_greater_than", "figid_double_quote",
                     "figid_newline", "context_other_url", "context_file_passwd",
                     "context_localhost", "context_import", "schema_jsonld_string"):
        assert required in names
    committed = {p.name for p in HERE.iterdir() if p.is_dir()}
    assert committed == {c["case"] for c in CASES if "generate" not in c}, (
        "every folder under tests/bad_inputs/ is a case in cases.yaml, and back")


def test_one_run_reports_every_bad_file_and_exports_every_good_one(tmp_path):
    """All error cases and the whole good sample in one `convert`: exit 2, one stderr line per bad
    file, and every good figure in the output."""
    folders = [materialise(c, tmp_path / "gen") for c in case_ids("error")]
    out = tmp_path / "out.nq"
    result = CliRunner().invoke(main, ["convert", *map(str, folders), str(SAMPLE),
                                       "-o", str(out), "--no-validate"])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    stderr = result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    for case, folder in zip(case_ids("error"), folders, strict=False):
        named = str(folder / case.get("table", case["file"]))
        lines = [line for line in stderr if named in line]
        assert len(lines) == 1, f"{case['case']}: {len(lines)} stderr lines name {named}"
        for needle in case["contains"]:
            assert needle.lower() in lines[0].lower(), (case["case"], needle, lines[0])
    graphs = {q.graph_name.value for q in ox.parse(out.read_bytes(), ox.RdfFormat.N_QUADS)}
    wanted = {f"https://pfocr.wikipathways.org/figures/{p.stem}.html"
              for p in FIGURES.glob("*.md")}
    assert wanted <= graphs, sorted(wanted - graphs)[:5]
    assert f"{len(folders)} files failed" in result.stderr


@pytest.mark.parametrize("case", case_ids("repair"), ids=lambda c: c["case"])
def test_repairs_are_listed_by_convert_verbose_and_exit_0(case, tmp_path):
    folder = materialise(case, tmp_path)
    result = CliRunner().invoke(main, ["convert", str(folder), "-o", str(tmp_path / "o.nt"),
                                       "--no-validate", "-v"])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    for needle in case["contains"]:
        assert any(needle.lower() in n.lower() for n in notes), (needle, notes)


# --- limits: clear messages, configurable ----------------------------------------------------------

def write_figure(tmp_path: Path, data: bytes, name: str = "PMC10031279__gr8.md") -> Path:
    (tmp_path / "_figures").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "_figures" / name
    path.write_bytes(data)
    return tmp_path


def only(folder: Path, **limits) -> object:
    (item,) = build_graphs([folder], ExportOptions(limits=Limits(**limits)))
    return item


def test_max_file_size_is_configurable_from_library_and_cli(tmp_path):
    folder = write_figure(tmp_path, BASE)
    err = only(folder, max_file_bytes=1000)
    assert isinstance(err, errors.LimitError)
    assert f"{len(BASE):,} bytes, over the limit of 1,000" in err.message
    assert isinstance(only(folder, max_file_bytes=len(BASE)), FigureGraph)
    result = CliRunner().invoke(main, ["convert", str(folder), "--max-file-size", "1000",
                                       "--no-validate", "-o", str(tmp_path / "o.nt")])
    assert result.exit_code == 2 and "--max-file-size" in result.stderr, result.output


def test_raising_max_aliases_allows_a_few_aliases(tmp_path):
    folder = write_figure(tmp_path, _after_seo(b"extra: &x [a, b]\nextra2: *x\n"))
    assert isinstance(only(folder), errors.LimitError)
    assert isinstance(only(folder, max_aliases=5), FigureGraph)


def test_alias_bomb_is_stopped_even_when_aliases_are_allowed(tmp_path):
    folder = write_figure(tmp_path, _alias_bomb())
    err = only(folder, max_aliases=10_000)
    assert isinstance(err, errors.LimitError)
    assert "expands to more than 1,000,000 nodes" in err.message and "--max-yaml-nodes" in err.message


def test_max_depth_is_configurable(tmp_path):
    nested = b"extra:\n" + b"".join(b"  " * (i + 1) + b"k%d:\n" % i for i in range(40)) + \
        b"  " * 41 + b"leaf\n"
    folder = write_figure(tmp_path, _after_seo(nested))
    assert isinstance(only(folder), errors.LimitError)
    assert isinstance(only(folder, max_depth=64), FigureGraph)
    result = CliRunner().invoke(main, ["convert", str(folder), "--max-depth", "64",
                                       "--no-validate", "-o", str(tmp_path / "o.nt")])
    assert result.exit_code == 0, result.output


def test_deep_flow_nesting_does_not_kill_the_process(tmp_path):
    """Regression: 100,000 nested '[' made libyaml's C composer overflow the stack (SIGSEGV), so
    the guard must run before composing. A child process, so a crash fails this test only."""
    folder = write_figure(tmp_path, GENERATORS["deep_flow"]())
    code = ("import sys; from rdfexport.pipeline import build_graphs; "
            "(e,) = build_graphs([sys.argv[1]]); print(type(e).__name__, e.line)")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["LimitError", "38"]


def test_a_python_tag_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    folder = write_figure(tmp_path / "site", BASE.replace(
        b"ndex: ''", f"ndex: !!python/object/apply:os.system ['touch {marker}']".encode()))
    assert isinstance(only(folder), errors.InputError)
    assert not marker.exists()


def test_symlink_loops_are_walked_once(tmp_path):
    """Regression: two symlinks back to the parent made discovery walk 2^40 paths (a hang).
    In a child process with a timeout, so a regression fails instead of hanging the suite."""
    folder = tmp_path / "loop" / "a"
    folder.mkdir(parents=True)
    (folder / "PMC10031279__gr8.md").write_bytes(BASE)
    (folder / "up1").symlink_to("..")
    (folder / "up2").symlink_to("..")
    code = ("import sys; from rdfexport.sources import discover; "
            "print(len(list(discover([sys.argv[1]]))))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "loop")], check=False,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]


@pytest.mark.parametrize("command", [["validate", "-o", "{tmp}/report.txt"],
                                     ["load", "--store", "{tmp}/store", "--no-validate"]],
                         ids=["validate", "load"])
def test_validate_and_load_also_report_every_bad_file_and_go_on(command, tmp_path):
    """The same collection through the other commands that read figure files."""
    folders = [materialise(c, tmp_path / "gen") for c in case_ids("error")]
    good = [FIGURES / "PMC100003__mb2410470011.md", FIGURES / "PMC10029719__cs3c00075_0011.md"]
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, [args[0], *map(str, folders), *map(str, good), *args[1:]])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    for case, folder in zip(case_ids("error"), folders, strict=False):
        named = str(folder / case.get("table", case["file"]))
        assert sum(named in line for line in result.stderr.splitlines()) == 1, case["case"]
    if args[0] == "load":
        store = ox.Store.read_only(str(tmp_path / "store"))
        names = {g.value for g in store.named_graphs()}
        assert {f"https://pfocr.wikipathways.org/figures/{p.stem}.html" for p in good} <= names
    else:
        report = (tmp_path / "report.txt").read_text()
        assert all(p.stem in report for p in good), report[:500]  # the good ones were validated
        assert "in 2 of 2 figures" in report, report[-300:]


@pytest.mark.parametrize("command", ["convert", "validate", "load"])
def test_every_reading_command_takes_every_input_limit(command, tmp_path):
    """Regression: --max-depth and --max-yaml-nodes were only on convert."""
    seed = Path(__file__).resolve().parent.parent / "seeds"
    extra = ["--store", str(tmp_path / "store")] if command == "load" else []
    result = CliRunner().invoke(main, [command, str(seed), "--no-validate" if command != "validate"
                                       else "--fail-on=violation", "--max-depth", "2", *extra])
    assert result.exit_code == 2
    assert "deeper than 2" in result.output or "nested" in result.output, result.output
