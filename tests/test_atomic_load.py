"""Issue 6: a `load` into the embedded store that is killed (SIGKILL) at any point is completed by
running it again: afterwards the store holds every figure graph exactly as a clean export writes
it, none missing, no stale triples of the version it was replacing, and no extra graphs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pyoxigraph as ox
import pytest
from test_atomic_convert import build_site

from rdfexport import vocab
from rdfexport.stores.base import STATE_GRAPH

pytestmark = pytest.mark.slow


def load_cmd(site: Path, store: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rdfexport", "load", str(site), "--store", str(store),
            "--no-validate", "-q", "--no-progress", *extra]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def by_graph(quads) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for q in quads:
        if isinstance(q.graph_name, ox.NamedNode):
            out[q.graph_name.value].add(str(ox.Triple(q.subject, q.predicate, q.object)))
    return dict(out)


def store_figures(store: Path) -> dict[str, set[str]]:
    graphs = by_graph(ox.Store.read_only(str(store)))
    graphs.pop(STATE_GRAPH, None)
    graphs.pop(vocab.VOID_GRAPH, None)
    return graphs


def dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Version A (every figure's `number` changed) loaded in a store; version B to load over it."""
    root = tmp_path_factory.mktemp("atomic-load")
    build_site(root / "B", 2)
    shutil.copytree(root / "B", root / "A")
    for page in (root / "A" / "_figures").iterdir():
        text = page.read_text(encoding="utf-8")
        page.write_text(re.sub(r"(?m)^number: ", "number: OLD", text, count=1), encoding="utf-8")
    done = run([sys.executable, "-m", "rdfexport", "convert", str(root / "B"), "-o",
                str(root / "B.nq"), "--no-validate", "-q"])
    assert done.returncode == 0, done.stderr
    reference = by_graph(ox.parse((root / "B.nq").read_bytes(), ox.RdfFormat.N_QUADS))
    reference.pop(vocab.VOID_GRAPH)
    template = root / "store-A"
    done = run(load_cmd(root / "A", template, "--jobs", "1"))
    assert done.returncode == 0, done.stderr
    stale = store_figures(template)
    assert stale.keys() == reference.keys() and stale != reference  # every graph will change
    measured = root / "measured"
    shutil.copytree(template, measured)
    done = run(load_cmd(root / "B", measured, "--jobs", "1"))
    assert done.returncode == 0, done.stderr
    assert store_figures(measured) == reference
    growth = dir_size(measured) - dir_size(template)  # what a complete load adds on disk
    assert growth > 2_000_000
    return root, template, reference, growth


@pytest.mark.parametrize(("when", "jobs"), [
    ("early", "1"),   # 0.3 s in: starting, reading files
    (0.05, "1"),      # the store has grown by 5% of what the load adds: mid bulk load
    (0.6, "1"),       # by 60%: late in the bulk load, or writing the load state
    (0.05, "2"),      # with worker processes; the whole process group is killed
])
def test_killed_load_completes_on_rerun_without_missing_or_stale_graphs(sites, tmp_path, when,
                                                                        jobs):
    root, template, reference, growth = sites
    store = tmp_path / "store"
    shutil.copytree(template, store)
    before = dir_size(store)
    proc = subprocess.Popen(load_cmd(root / "B", store, "--jobs", jobs),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        if when == "early":
            time.sleep(0.3)
        else:
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                if dir_size(store) > before + growth * when:
                    break
                time.sleep(0.002)
        finished = proc.poll() is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    if finished:
        pytest.skip(f"load finished ({proc.returncode}) before the kill at {when}")
    assert proc.returncode == -signal.SIGKILL

    done = run(load_cmd(root / "B", store, "--jobs", jobs))
    assert done.returncode == 0, done.stderr
    graphs = store_figures(store)
    assert graphs.keys() == reference.keys(), (
        f"missing {sorted(reference.keys() - graphs.keys())[:3]}, "
        f"extra {sorted(graphs.keys() - reference.keys())[:3]}")
    wrong = [g for g in reference if graphs[g] != reference[g]]
    assert not wrong, (f"{len(wrong)} graphs differ from a clean export, e.g. {wrong[0]}: "
                       f"stale {sorted(graphs[wrong[0]] - reference[wrong[0]])[:2]}")
    # The load state and VoID agree with the store, and a further run changes nothing.
    again = run(load_cmd(root / "B", store, "--jobs", "1"))
    assert again.returncode == 0, again.stderr
    assert store_figures(store) == reference
    summary = run([c for c in load_cmd(root / "B", store, "--jobs", "1") if c != "-q"])
    assert f"0 added, 0 replaced, {len(reference)} unchanged" in summary.stderr, summary.stderr
