"""Issue 6: output files are written atomically. A `convert` killed half-way (SIGKILL: no clean-up
code runs) leaves the previous output byte for byte; whatever it left behind is a hidden temporary
file that no later run reads; running again completes with every figure exactly once.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import SAMPLE

pytestmark = pytest.mark.slow
COPIES = 4  # 130 sample figures x 4: a run long enough to be killed while it writes


def build_site(root: Path, copies: int) -> set[str]:
    """The sample `copies` times over, each copy with its own figids (tables renamed too)."""
    figids: set[str] = set()
    (root / "_figures").mkdir(parents=True)
    (root / "_data").mkdir()
    shutil.copytree(SAMPLE / "_organisms", root / "_organisms")
    for page in sorted((SAMPLE / "_figures").glob("*.md")):
        figid = page.stem
        text = page.read_text(encoding="utf-8")
        for k in range(copies):
            new = f"{figid}-c{k}"
            figids.add(new)
            (root / "_figures" / f"{new}.md").write_text(text.replace(figid, new),
                                                         encoding="utf-8")
            for table in (SAMPLE / "_data").glob(f"{figid}-*.tsv"):
                shutil.copy(table, root / "_data" / table.name.replace(figid, new))
    return figids


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("atomic")
    figids = build_site(root / "site", COPIES)
    reference = root / "reference.nq"
    done = convert(root / "site", reference)
    assert done.returncode == 0, done.stderr
    return root / "site", figids, reference.read_bytes()


def command(site: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rdfexport", "convert", str(site), "-o", str(out),
            "--no-validate", "-q", *extra]


def convert(site: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(site, out, *extra), capture_output=True, text=True,
                          timeout=600, check=False)


def temp_files(folder: Path, out: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name != out.name}


def graph_names(data: bytes) -> list[str]:
    names = {q.graph_name.value for q in ox.parse(data, ox.RdfFormat.N_QUADS)
             if isinstance(q.graph_name, ox.NamedNode)}
    return sorted(names)


@pytest.mark.parametrize(("when", "suffix", "jobs"), [
    ("early", ".nq", "1"),       # while reading: the temporary file may not exist yet
    ("writing", ".nq", "1"),     # the temporary file holds a few MB
    ("late", ".nq", "1"),        # the temporary file holds 3/4 of the output
    ("writing", ".nq", "2"),     # with worker processes (the whole process group is killed)
    ("writing", ".nq.gz", "1"),  # compressed output
])
def test_killed_convert_keeps_the_previous_output_and_a_rerun_completes(big, tmp_path, when,
                                                                        suffix, jobs):
    site, figids, reference = big
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / f"pfocr{suffix}"

    # The previous output: a complete run on three figures.
    small = tmp_path / "small" / "_figures"
    small.mkdir(parents=True)
    for page in sorted((site / "_figures").iterdir())[:3]:
        shutil.copy(page, small / page.name)
    assert convert(small.parent, out).returncode == 0
    previous = out.read_bytes()
    assert previous

    proc = subprocess.Popen(command(site, out, "--jobs", jobs), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    threshold = {"early": None, "writing": 2_000_000, "late": int(len(reference) * 0.75)}[when]
    if suffix.endswith(".gz") and threshold:
        threshold //= 20  # N-Quads compress about 20 times
    deadline = time.monotonic() + 300
    killed_at = None
    try:
        if when == "early":
            time.sleep(0.3)  # starting up or reading: no output yet
        else:
            while time.monotonic() < deadline and proc.poll() is None:
                sizes = [p.stat().st_size for p in out_dir.iterdir()
                         if p.name != out.name and p.exists()]
                if sizes and max(sizes) >= threshold:
                    killed_at = max(sizes)
                    break
                time.sleep(0.002)
        assert proc.poll() is None, "convert finished before it could be killed: make it bigger"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert when == "early" or killed_at, "never saw the temporary file grow"

    # 1. The previous output is intact, byte for byte.
    assert out.read_bytes() == previous
    # 2. Anything left behind is a hidden temporary file named after the output.
    leftovers = temp_files(out_dir, out)
    assert all(re.fullmatch(rf"\.{re.escape(out.name)}\..+\.tmp", n) for n in leftovers), leftovers
    if when != "early":
        assert leftovers, "killed while writing, yet no temporary file: where did it write?"

    # 3. Running again completes: every figure exactly once, as a clean run writes it.
    done = convert(site, out, "--jobs", jobs)
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    if suffix.endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    assert data == reference
    expected = {f"https://pfocr.wikipathways.org/figures/{f}.html" for f in figids}
    names = graph_names(data)
    assert expected <= set(names) and len(names) == len(expected) + 1  # + the VoID graph
    # 4. The rerun removed its own temporary file and the killed run's leftover too.
    assert temp_files(out_dir, out) == set()
