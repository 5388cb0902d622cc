"""``rdfexport validate`` and ``convert``'s validation, in-process: exit codes, the four report
formats, and the HTML page in headless Chromium (screenshot in test-artifacts/)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner
from conftest import FIGURES, ROOT, SAMPLE, require_binary
from rdflib.namespace import SH
from test_validate_engines import require_module

from rdfexport.cli import main
from rdfexport.validate import parse_report

FIELDS = {"severity", "figid", "file", "line", "focus", "path", "value", "message", "shape"}
ARTIFACTS = ROOT / "test-artifacts"


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def sample_json():
    result = invoke("validate", SAMPLE, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def broken_copy(tmp_path: Path) -> Path:
    """A real figure with a violation planted (pathway score above 1)."""
    target = tmp_path / "PMC100003__mb2410470011.md"
    text = (FIGURES / target.name).read_text()
    target.write_text(text.replace("pathway_score: 0.9537671", "pathway_score: 1.9537671"))
    return target


# -- exit codes -------------------------------------------------------------------------------


def test_sample_passes_by_default_and_the_summary_goes_to_stderr():
    result = invoke("validate", SAMPLE)
    assert result.exit_code == 0
    assert result.stderr.strip().startswith("validation: 0 violations, 17 warnings, 266 infos")


@pytest.mark.parametrize("fail_on,code", [("violation", 0), ("warning", 1), ("info", 1)])
def test_fail_on_sets_the_exit_code_on_the_sample(fail_on, code):
    assert invoke("validate", SAMPLE, "--fail-on", fail_on).exit_code == code


def test_a_violation_exits_1_and_is_named_by_file_and_line(tmp_path):
    path = broken_copy(tmp_path)
    result = invoke("validate", path)
    assert result.exit_code == 1
    assert f"{path}:11: violation FigureScore: pathway score is not one decimal in [0, 1]" \
        in result.stdout
    assert "[value: '1.9537671']" in result.stdout


def test_only_infos_pass_even_with_fail_on_warning():
    # PMC100003's only findings are the exporter's repairs (licence text, placeholder name).
    result = invoke("validate", FIGURES / "PMC100003__mb2410470011.md", "--fail-on", "warning")
    assert result.exit_code == 0
    assert "0 violations, 0 warnings, 2 infos" in result.stderr


def test_an_unreadable_file_exits_2_and_the_report_is_still_written(tmp_path):
    shutil.copy(FIGURES / "PMC10036500__ga1.md", tmp_path / "good.md")
    (tmp_path / "bad.md").write_text("---\nfigid: PMC1__x\nfigtitle: [unclosed\n---\n")
    out = tmp_path / "report.json"
    result = invoke("validate", tmp_path, "--format", "json", "-o", out)
    assert result.exit_code == 2
    assert f"{tmp_path / 'bad.md'}:" in result.stderr
    doc = json.loads(out.read_text())
    assert any(r["shape"].endswith("#FigureCaptionPlaceholder") for r in doc["results"])


def test_bad_shapes_exit_2_naming_the_file(tmp_path):
    (tmp_path / "broken.ttl").write_text("@prefix sh: <http://www.w3.org/ns/shacl#> .\nthis is not turtle\n")
    result = invoke("validate", FIGURES / "PMC100003__mb2410470011.md", "--shapes", tmp_path)
    assert result.exit_code == 2
    assert str(tmp_path / "broken.ttl") in result.stderr
    assert "fix the Turtle syntax" in result.stderr


def test_shapes_option_uses_only_those_shapes(tmp_path):
    (tmp_path / "one.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix ex: <https://example.org/> .\n"
        "ex:Needs2020 a sh:NodeShape ; sh:targetClass <http://schema.org/ScholarlyArticle> ;\n"
        "  sh:property [ sh:path <http://schema.org/datePublished> ; sh:minInclusive 2020 ;\n"
        "                sh:severity sh:Warning ; sh:message \"older than 2020\" ] .\n")
    result = invoke("validate", FIGURES / "PMC100003__mb2410470011.md", "--shapes", tmp_path,
                    "--format", "json")
    doc = json.loads(result.stdout)
    assert {r["message"] for r in doc["results"]} == {"older than 2020"}


# -- formats ----------------------------------------------------------------------------------


def test_text_report_groups_by_figure_with_file_and_line():
    result = invoke("validate", SAMPLE, "--fail-on", "violation")
    lines = result.stdout.split("\n")
    header = next(i for i, line in enumerate(lines) if line.startswith("PMC10036500__ga1  "))
    assert "https://pfocr.wikipathways.org/figures/PMC10036500__ga1.html" in lines[header]
    group = lines[header + 1: lines.index("", header)]
    path = SAMPLE / "_figures" / "PMC10036500__ga1.md"
    assert f"  {path}:16: warning FigureCaptionPlaceholder: caption is only a figure label" \
        in "\n".join(group)
    assert lines[-2].endswith("conforms (--fail-on violation)")


def test_json_report_has_the_documented_shape(sample_json):
    doc = sample_json
    assert doc["conforms"] is True
    assert all(set(r) == FIELDS for r in doc["results"])
    assert doc["summary"]["figures"] == 130
    assert (doc["summary"]["violations"], doc["summary"]["warnings"],
            doc["summary"]["infos"]) == (0, 17, 266)
    caption = next(r for r in doc["results"] if r["shape"].endswith("#FigureCaptionPlaceholder"))
    assert caption == {
        "severity": "Warning", "figid": "PMC10036500__ga1",
        "file": str(SAMPLE / "_figures" / "PMC10036500__ga1.md"), "line": 16,
        "focus": "https://pfocr.wikipathways.org/figures/PMC10036500__ga1.html",
        "path": "http://purl.org/dc/terms/description", "value": "Figure",
        "message": caption["message"],
        "shape": "https://pfocr.wikipathways.org/shapes#FigureCaptionPlaceholder"}
    assert doc["summary"]["by_rule"]["Warning:ArticleReftextYear"] == 10


def test_turtle_report_is_the_standard_validation_report(sample_json, tmp_path):
    out = tmp_path / "report.ttl"
    assert invoke("validate", SAMPLE, "--format", "turtle", "-o", out).exit_code == 0
    g = rdflib.Graph().parse(out, format="turtle")
    report = next(g.subjects(rdflib.RDF.type, SH.ValidationReport))
    assert g.value(report, SH.conforms).toPython() is True
    results = parse_report(g)
    assert len(results) == len(sample_json["results"]) == 283
    assert all(g.value(r, SH.sourceConstraintComponent) is not None
               for r in g.objects(report, SH.result))
    dup = [r for r in results if str(r.shape).endswith("#FigureKeywordDuplicate")]
    assert {str(r.value) for r in dup} == {"MPP5", "TRH"}


def test_fast_engine_gives_the_same_json(sample_json):
    require_module("shacl_rust", "the fast SHACL engine under test")
    result = invoke("validate", SAMPLE, "--format", "json", "--shacl-engine", "shacl-rust")
    assert json.loads(result.stdout) == sample_json


def test_html_report_is_self_contained(tmp_path):
    out = tmp_path / "report.html"
    assert invoke("validate", SAMPLE, "--format", "html", "-o", out).exit_code == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert 'href="https://pfocr.wikipathways.org/figures/PMC10036500__ga1.html"' in page


# -- convert validates by default ---------------------------------------------------------------


def test_convert_validates_by_default_and_still_writes(tmp_path):
    (tmp_path / "in").mkdir()
    path = broken_copy(tmp_path / "in")
    out = tmp_path / "out.nt"
    result = invoke("convert", path, "-o", out)
    assert result.exit_code == 1
    assert out.stat().st_size > 0
    summary = [line for line in result.stderr.splitlines() if "validation:" in line]
    assert len(summary) == 1 and "1 violation," in summary[0]


def test_convert_no_validate_skips_validation(tmp_path):
    path = broken_copy(tmp_path)
    result = invoke("convert", path, "--no-validate", "-o", tmp_path / "out.nt")
    assert result.exit_code == 0
    assert "validation:" not in result.stderr


def test_convert_fail_on_warning_on_the_sample(tmp_path):
    result = invoke("convert", SAMPLE, "-o", tmp_path / "out.nq", "--fail-on", "warning")
    assert result.exit_code == 1
    assert "17 warnings" in result.stderr


# -- the HTML page in a browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    chromium = require_binary("chromium", "the HTML report is tested in headless Chromium")
    driver_path = require_binary("chromedriver", "Selenium drives Chromium through it")
    webdriver = require_module("selenium.webdriver", "Selenium drives the browser")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def test_html_report_in_chromium_counts_filters_and_links(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out = tmp_path / "report.html"
    invoke("validate", SAMPLE, "--format", "html", "-o", out)
    browser.get(out.as_uri())

    def visible() -> int:
        rows = browser.find_elements(By.CSS_SELECTOR, "#findings tbody tr")
        shown = [r for r in rows if r.is_displayed()]
        assert browser.find_element(By.ID, "shown").text == str(len(shown))
        return len(shown)

    assert browser.find_element(By.ID, "count-Violation").text == "0"
    assert browser.find_element(By.ID, "count-Warning").text == "17"
    assert browser.find_element(By.ID, "count-Info").text == "266"
    assert visible() == 283
    browser.find_element(By.CSS_SELECTOR, "input.sev[value=Info]").click()
    assert visible() == 17
    Select(browser.find_element(By.ID, "rule")).select_by_value("ArticleReftextYear")
    assert visible() == 10
    search = browser.find_element(By.ID, "search")
    search.send_keys("Dev Cell")
    assert visible() == 1
    link = browser.find_element(By.CSS_SELECTOR, "#findings tbody tr:not([style*=none]) a.figure")
    assert link.get_attribute("href") == \
        "https://pfocr.wikipathways.org/figures/PMC2221774__nihms34078f1.html"
    search.clear()
    Select(browser.find_element(By.ID, "rule")).select_by_value("")
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "validation-report.png"))
    assert (ARTIFACTS / "validation-report.png").stat().st_size > 10_000
    # Clicking a rule in the counts table filters by it.
    browser.find_element(By.LINK_TEXT, "FigureFiglinkArticle").click()
    assert visible() == 3
    assert os.path.getsize(out) < 2_000_000
