"""Every output format round-trips, parses with independent parsers and is stable byte for byte."""

from __future__ import annotations

import gzip
import os
import re
import stat
import subprocess

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from conftest import OLDER, ROOT, SAMPLE, SEEDS, require_binary

from rdfexport.cli import main
from rdfexport.errors import UsageError
from rdfexport.formats import FORMATS, guess_format


def convert(*args: str) -> None:
    result = CliRunner().invoke(main, ["convert", "--no-validate", "-q", *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sample as N-Quads: the dataset every other format must give back."""
    out = tmp_path_factory.mktemp("ref") / "sample.nq"
    convert(str(SAMPLE), "-o", str(out))
    return set(ox.parse(path=str(out), format=ox.RdfFormat.N_QUADS))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_round_trip(name, reference, tmp_path):
    fmt = FORMATS[name]
    out = tmp_path / f"sample{fmt.suffixes[0]}"
    convert(str(SAMPLE), "-o", str(out))
    parsed = set(ox.parse(path=str(out), format=fmt.rdf_format))
    if fmt.quads:
        assert parsed == reference
    else:
        assert {q.triple for q in parsed} == {q.triple for q in reference}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_same_input_gives_byte_identical_output(name, tmp_path):
    suffix = FORMATS[name].suffixes[0]
    convert(str(SAMPLE), "-o", str(tmp_path / f"a{suffix}"))
    convert(str(SAMPLE), "-o", str(tmp_path / f"b{suffix}"))
    assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()


def test_gzip_output_is_compressed_and_stable(tmp_path):
    convert(str(SAMPLE), "-o", str(tmp_path / "a.nq.gz"))
    convert(str(SAMPLE), "-o", str(tmp_path / "b.nq.gz"))
    data = (tmp_path / "a.nq.gz").read_bytes()
    assert data == (tmp_path / "b.nq.gz").read_bytes()
    assert list(ox.parse(gzip.decompress(data), format=ox.RdfFormat.N_QUADS))


def test_turtle_is_what_every_store_accepts(tmp_path):
    out = tmp_path / "sample.ttl"
    convert(str(SAMPLE), str(SEEDS), "-o", str(out))
    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    data.decode("utf-8")
    text = data.decode()
    head = [line for line in text.splitlines() if line][:5]
    assert all(line.startswith("@prefix") for line in head)
    assert "^^xsd:string" not in text and "XMLSchema#string" not in text
    assert not re.search(r"^\s*@prefix", text.split("\n\n", 1)[1], re.M)
    for quad in ox.parse(data, format=ox.RdfFormat.TURTLE):
        for term in (quad.subject, quad.predicate, quad.object):
            if isinstance(term, ox.NamedNode):
                assert re.match(r"^[a-z][a-z0-9+.-]*:", term.value), term
                assert not re.search(r"[\s<>\"{}|^`\\]", term.value), term
                assert len(term.value) < 1800
            assert not isinstance(term, ox.BlankNode)


def test_turtle_passes_rapper(tmp_path):
    rapper = require_binary("rapper", "independent Turtle parser (raptor2-utils)")
    out = tmp_path / "sample.ttl"
    convert(str(SAMPLE), "-o", str(out))
    run = subprocess.run([rapper, "-i", "turtle", "-c", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "returned" in run.stderr and "triples" in run.stderr


def test_outputs_pass_jena_riot(tmp_path):
    require_binary("java", "Jena riot --validate")
    jena = ROOT / "scripts" / "jena.sh"
    if not jena.exists():
        pytest.skip("scripts/jena.sh not present")
    for suffix in (".ttl", ".nq", ".trig", ".nt"):
        out = tmp_path / f"sample{suffix}"
        convert(str(SAMPLE), "-o", str(out))
        run = subprocess.run(["bash", str(jena), "riot", "--validate", str(out)],
                             capture_output=True, text=True)
        assert run.returncode == 0, (suffix, run.stdout, run.stderr)


def test_format_guessed_from_suffix():
    assert guess_format("x.ttl").name == "turtle"
    assert guess_format("x.nq.gz").name == "nquads"
    assert guess_format("x.jsonld").name == "jsonld"
    assert guess_format("-").name == "turtle"
    assert guess_format("x.txt", "trig").name == "trig"


def test_unknown_suffix_names_the_choices():
    with pytest.raises(UsageError) as err:
        guess_format("out.rdf")
    assert "out.rdf" in str(err.value) and ".nq (nquads)" in str(err.value)


def test_jsonld_output_is_compacted_with_project_prefixes(tmp_path):
    out = tmp_path / "seed.jsonld"
    convert(str(SEEDS), "-o", str(out))
    text = out.read_text()
    assert '"schema": "http://schema.org/"' in text
    assert '"dcterms:identifier"' in text


@pytest.mark.parametrize("version", sorted(p.name for p in OLDER.iterdir() if (p / "_figures").is_dir()))
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_older_versions_convert_in_every_format(version, name, tmp_path):
    fmt = FORMATS[name]
    out = tmp_path / f"old{fmt.suffixes[0]}"
    convert(str(OLDER / version), "-o", str(out))
    parsed = list(ox.parse(path=str(out), format=fmt.rdf_format))
    figures = {t.subject.value for t in parsed if t.object == ox.NamedNode(
        "http://purl.org/spar/fabio/Figure")}
    assert figures and len(figures) == len(list((OLDER / version / "_figures").iterdir()))


def test_output_file_gets_the_usual_mode_not_a_private_one(tmp_path):
    old = os.umask(0o022)
    try:
        convert(str(SEEDS), "-o", str(tmp_path / "seed.ttl"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "seed.ttl").stat().st_mode) == 0o644


def test_temporaries_of_killed_runs_are_cleaned_by_the_next_run(tmp_path):
    dead = subprocess.run(["true"]).returncode or 999_999  # a pid no process has
    leftover = tmp_path / f".seed.ttl.{dead}.abc123.tmp"
    leftover.write_text("half")
    other = tmp_path / f".seed.ttl.{os.getpid()}.live.tmp"  # a running writer's: kept
    other.write_text("in progress")
    convert(str(SEEDS), "-o", str(tmp_path / "seed.ttl"))
    assert not leftover.exists() and other.exists()


def test_write_behind_output_is_intact_and_leaves_the_page_cache(tmp_path, monkeypatch):
    """Large outputs are pushed to disk and dropped from memory as they are written (Linux);
    the bytes are the bytes written, through plain and gzip streams."""
    import gzip
    import sys

    from rdfexport import formats

    monkeypatch.setattr(formats._WriteBehind, "STEP", 1 << 16)
    chunks = [bytes([i % 251]) * (3000 + i) for i in range(400)]
    for name in ("big.nq", "big.nq.gz"):
        out = formats.AtomicOutput(tmp_path / name)
        stream = out.__enter__()
        for i, chunk in enumerate(chunks):
            stream.write(chunk) if i % 2 else stream.writelines([chunk[:10], chunk[10:]])
        behind = stream if name.endswith(".nq") else stream.fileobj
        out.__exit__(None, None, None)
        data = (tmp_path / name).read_bytes()
        assert (gzip.decompress(data) if name.endswith(".gz") else data) == b"".join(chunks)
        if sys.platform.startswith("linux") and name.endswith(".nq"):
            assert behind.dropped > 0 and behind.pushed > behind.dropped
