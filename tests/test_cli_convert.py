"""``rdfexport convert`` in-process, and the installed command on seeds/."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pyoxigraph as ox
from click.testing import CliRunner
from conftest import FIGURES, ROOT, SEEDS

from rdfexport.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_seed_to_stdout_is_turtle():
    result = invoke("convert", "--no-validate", str(SEEDS))
    assert result.exit_code == 0, result.output
    triples = list(ox.parse(result.stdout_bytes, format=ox.RdfFormat.TURTLE))
    assert any(t.object == ox.Literal("PMC5701508__ott-10-5491Fig4") for t in triples)
    assert "1 figures" in result.stderr


def test_a_bad_file_is_named_the_others_are_still_written(tmp_path):
    good = tmp_path / "good.md"
    shutil.copy(FIGURES / "PMC100003__mb2410470011.md", good)
    bad = tmp_path / "bad.md"
    bad.write_text("---\nfigid: PMC1__x\nfigtitle: [unclosed\n---\n")
    out = tmp_path / "out.nq"
    result = invoke("convert", "--no-validate", str(tmp_path), "-o", str(out))
    assert result.exit_code == 2
    assert f"{bad}:4: invalid YAML" in result.stderr
    assert "flow sequence that starts on line 3" in result.stderr
    quads = list(ox.parse(path=str(out), format=ox.RdfFormat.N_QUADS))
    assert any("PMC100003__mb2410470011" in q.graph_name.value for q in quads)


def test_a_keyword_like_iri_in_a_block_fails_its_figure_not_the_run(tmp_path):
    """``url: '@x'`` made pyld raise TypeError (not its JsonLdError): a traceback ended the
    whole run under the default engine."""
    shutil.copy(FIGURES / "PMC100003__mb2410470011.md", tmp_path / "good.md")
    text = (FIGURES / "PMC10031279__gr8.md").read_text(encoding="utf-8")
    bad = tmp_path / "PMC10031279__gr8.md"
    bad.write_text(text.replace("  '@type': Dataset\n", "  '@type': Dataset\n  url: '@x'\n", 1),
                   encoding="utf-8")
    out = tmp_path / "out.nq"
    for engine in ("direct", "pyld"):
        result = invoke("convert", "--no-validate", "--engine", engine, str(tmp_path), "-o",
                        str(out))
        assert result.exit_code == 2, result.output
        assert f"{bad}:38: cannot turn the metadata into RDF" in result.stderr
        graphs = {q.graph_name.value for q in ox.parse(path=str(out),
                                                       format=ox.RdfFormat.N_QUADS)}
        assert any("PMC100003__mb2410470011" in g for g in graphs)
        assert not any("PMC10031279__gr8" in g for g in graphs)


def test_failed_run_keeps_the_previous_output(tmp_path):
    out = tmp_path / "out.ttl"
    out.write_text("previous")
    result = invoke("convert", "--no-validate", str(SEEDS), "-o", str(tmp_path / "nope" / "x.ttl"))
    assert result.exit_code == 2 and "nope" in result.stderr
    assert out.read_text() == "previous"


def test_missing_path_is_a_usage_error():
    result = invoke("convert", "--no-validate", "does-not-exist")
    assert result.exit_code == 2
    assert "does-not-exist: no such file or folder" in result.stderr


def test_unknown_format_lists_the_choices():
    result = invoke("convert", str(SEEDS), "-f", "rdfxml")
    assert result.exit_code == 2
    assert "turtle" in result.output and "nquads" in result.output


def test_verbose_lists_each_repair_with_its_line():
    result = invoke("convert", "--no-validate", "-v", str(SEEDS))
    assert "000_01b0406e482cf21b.txt:45: repaired schema-jsonld.license" in result.stderr
    assert "000_01b0406e482cf21b.txt:46: repaired schema-jsonld.name" in result.stderr


def test_python_dash_m_and_installed_command_run_on_seeds(tmp_path):
    out = tmp_path / "seeds.nq"
    run = subprocess.run([sys.executable, "-m", "rdfexport", "convert", "--no-validate",
                          str(SEEDS), "-o", str(out)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(list(ox.parse(path=str(out), format=ox.RdfFormat.N_QUADS))) > 40
    exe = shutil.which("rdfexport")
    assert exe, "the console script is not installed: pip install -e ."
    run = subprocess.run([exe, "convert", str(ROOT / "seeds")], capture_output=True, cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    assert list(ox.parse(run.stdout, format=ox.RdfFormat.TURTLE))
