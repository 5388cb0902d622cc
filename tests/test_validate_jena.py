"""Jena's SHACL engine (Debian libapache-jena-java, run through scripts/jena.sh) and pySHACL
give the same report on the sample, and on the sample with every shape violated."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import rdflib
from conftest import ROOT, require_binary
from test_validate_engines import (  # noqa: F401 - fixtures
    defective_sample,
    pyshacl_validator,
    sample_data,
)

from rdfexport.validate import bundled_shapes_dir, parse_report

JENA_JARS = Path("/usr/share/java/jena-cmds.jar")


def jena_report(data: rdflib.Graph, tmp_path: Path) -> rdflib.Graph:
    require_binary("java", "Jena's SHACL engine runs on Java")
    if not JENA_JARS.exists():
        message = "libapache-jena-java not installed; scripts/install-system.sh installs it"
        if os.environ.get("RDFEXPORT_REQUIRE_SERVERS"):
            pytest.fail(message)
        pytest.skip(message)
    data_file = tmp_path / "data.nt"
    data.serialize(data_file, format="nt", encoding="utf-8")
    shapes = sorted(bundled_shapes_dir().glob("*.ttl"))
    args = ["bash", str(ROOT / "scripts" / "jena.sh"), "shacl", "validate", "--data",
            str(data_file)]
    for s in shapes:
        args += ["--shapes", str(s)]
    env = {**os.environ, "JENA_OVERLAY_DIR": str(tmp_path / "jena-overlay"), "JENA_LOG": "nop"}
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr
    return rdflib.Graph().parse(data=done.stdout, format="turtle")


def test_jena_agrees_with_pyshacl_on_the_sample(pyshacl_validator, sample_data,  # noqa: F811
                                                tmp_path):
    merged = rdflib.Graph()
    for _, data in sample_data:
        merged += data
    reference = {r.key() for r in pyshacl_validator.raw(merged)}
    jena = {r.key() for r in parse_report(jena_report(merged, tmp_path))}
    assert jena == reference
    assert len(reference) == 283


def test_jena_agrees_with_pyshacl_with_every_shape_violated(pyshacl_validator,  # noqa: F811
                                                            sample_data, tmp_path):  # noqa: F811
    data = defective_sample(sample_data)
    reference = {r.key() for r in pyshacl_validator.raw(data)}
    jena = {r.key() for r in parse_report(jena_report(data, tmp_path))}
    assert jena == reference, (sorted(jena - reference)[:5], sorted(reference - jena)[:5])


def test_shapes_file_is_valid_turtle_for_jena(tmp_path):
    require_binary("java", "Jena's riot checks the shapes' Turtle")
    env = {**os.environ, "JENA_OVERLAY_DIR": str(tmp_path / "jena-overlay"), "JENA_LOG": "nop"}
    for shapes in sorted(bundled_shapes_dir().glob("*.ttl")):
        done = subprocess.run(["bash", str(ROOT / "scripts" / "jena.sh"), "riot", "--validate",
                               str(shapes)], check=False, capture_output=True, text=True,
                              env=env, timeout=120)
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr
