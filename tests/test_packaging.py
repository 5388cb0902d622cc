"""The built wheel works on its own: assets load through importlib.resources, offline."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pyoxigraph as ox
from conftest import ROOT, SEEDS


def test_wheel_installs_and_converts_outside_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("rdfexport-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("rdfexport/contexts/schemaorg-30.0.jsonld", "rdfexport/contexts/pfocr.jsonld",
                  "rdfexport/ontology/pfocr.ttl", "rdfexport/shapes/pfocr.shapes.ttl"):
        assert asset in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    run = subprocess.run([venv / "bin" / "rdfexport", "convert", str(SEEDS), "-o", "seed.nq"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    where = subprocess.run([venv / "bin" / "python", "-c",
                            "import rdfexport; print(rdfexport.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True).stdout
    assert str(venv) in where
    assert list(ox.parse(path=str(tmp_path / "seed.nq"), format=ox.RdfFormat.N_QUADS))
