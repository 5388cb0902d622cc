"""The public library API: read, build, export, merge into rdflib."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from conftest import FIGURES, SEEDS
from rdflib import URIRef

import rdfexport


def test_read_figures_gives_typed_records():
    (fig,) = list(rdfexport.read_figures([SEEDS]))
    assert fig.figid == "PMC5701508__ott-10-5491Fig4"
    assert fig.organisms and fig.organisms[0].name == "Homo sapiens"
    assert {r.key for r in fig.repairs} == {"schema-jsonld.name", "schema-jsonld.license"}


def test_export_writes_and_reports_bad_files(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("---\nfigid: [\n---\n")
    stats, errors = rdfexport.export([SEEDS, bad], tmp_path / "out.trig")
    assert stats.figures == 1 and len(errors) == 1 and str(bad) in str(errors[0])
    assert list(ox.parse(path=str(tmp_path / "out.trig"), format=ox.RdfFormat.TRIG))


def test_to_dataset_has_a_named_graph_per_figure_and_void():
    ds = rdfexport.to_dataset([FIGURES / "PMC100003__mb2410470011.md", SEEDS])
    names = {str(g.identifier) for g in ds.graphs() if len(g)}
    assert "https://pfocr.wikipathways.org/figures/PMC100003__mb2410470011.html" in names
    assert "https://pfocr.wikipathways.org/void" in names
    assert any(ds.quads((URIRef("https://pfocr.wikipathways.org/void#pfocr"), None, None, None)))


def test_to_dataset_raises_on_a_bad_file(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("no front matter\n")
    with pytest.raises(rdfexport.InputError, match="no front matter"):
        rdfexport.to_dataset([bad])


def test_an_invalid_doi_is_dropped_and_reported_on_its_line(tmp_path):
    """Regression: a DOI that is not 10.x/y vanished without a word."""
    text = (FIGURES / "PMC10025411__fncel-17-1105247-g0001.md").read_text()
    bad = tmp_path / "PMC10025411__fncel-17-1105247-g0001.md"
    bad.write_text(text.replace("doi: 10.3389/fncel.2023.1105247", "doi: fncel.2023.1105247"))
    (fig,) = list(rdfexport.read_figures([bad]))
    (repair,) = [r for r in fig.repairs if r.key == "doi"]
    assert "fncel.2023.1105247" in repair.message
    assert bad.read_text().splitlines()[repair.line - 1].startswith("doi:")
    (fg,) = list(rdfexport.build_graphs([bad]))
    assert b"doi.org" not in fg.nquads()
