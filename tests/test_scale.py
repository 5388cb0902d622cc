"""Scaling features: --jobs gives byte-identical output, --shard parts concatenate to the whole,
--incremental rebuilds exactly the figures that changed (docs/SCALING.md).

Speed and memory are measured by bench/, not here; these tests use small generated sites.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdfexport import pipeline
from rdfexport.cli import main
from rdfexport.errors import UsageError
from rdfexport.pipeline import ExportOptions, build_graphs, parse_shard, shard_of

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(os.environ.get("PFOCR_SAMPLE", "/work/shared/corpus/pfocr-sample"))
if not SAMPLE.exists():
    SAMPLE = ROOT.parent / "shared" / "corpus" / "pfocr-sample"
VOID_SUFFIX = b"<https://pfocr.wikipathways.org/void> .\n"

needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"no PFOCR sample at {SAMPLE}")


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A generated site of 450 figures: three batches of 200, so --jobs 2 really uses workers."""
    out = tmp_path_factory.mktemp("site")
    _generator().generate(out, 450, seed=7, jobs=1, sample=SAMPLE, quiet=True)
    return out


def _convert(*args: str) -> None:
    result = CliRunner().invoke(main, ["convert", "--no-validate", "-q", *args])
    assert result.exit_code == 0, result.output
    assert "\r[" not in result.output  # no progress bar when stderr is not a terminal


def _lines(data: bytes) -> list[bytes]:
    return sorted(line for line in data.splitlines(keepends=True) if not line.endswith(VOID_SUFFIX))


@needs_sample
def test_generator_is_deterministic_and_realistic(tmp_path: Path) -> None:
    gen = _generator()
    a = gen.generate(tmp_path / "a", 260, seed=3, jobs=1, sample=SAMPLE, quiet=True)
    gen.generate(tmp_path / "b", 260, seed=3, jobs=1, sample=SAMPLE, quiet=True)
    for sub in ("_figures", "_data"):
        names = sorted(p.name for p in (tmp_path / "a" / sub).iterdir())
        assert names == sorted(p.name for p in (tmp_path / "b" / sub).iterdir())
        for name in names[:50]:
            assert (tmp_path / "a" / sub / name).read_bytes() == \
                (tmp_path / "b" / sub / name).read_bytes()
    assert len(list((tmp_path / "a" / "_figures").iterdir())) == 260
    assert 12 < a["mean_genes"] < 24
    # Both generations of the sample are present: front-matter gene lists and _data tables.
    texts = [p.read_text() for p in (tmp_path / "a" / "_figures").iterdir()]
    assert any("\ngenes:\n" in t for t in texts)
    assert any(p.name.endswith("-genes.tsv") for p in (tmp_path / "a" / "_data").iterdir())


@needs_sample
@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".nq", ".ttl"])
def test_jobs_output_is_byte_identical(site: Path, tmp_path: Path, suffix: str) -> None:
    one, two = tmp_path / f"one{suffix}", tmp_path / f"two{suffix}"
    _convert(str(site), "-o", str(one), "--jobs", "1")
    _convert(str(site), "-o", str(two), "--jobs", "2")
    assert one.read_bytes() == two.read_bytes()


@needs_sample
def test_a_figure_exported_twice_is_an_error_and_in_the_n_quads_once(tmp_path: Path) -> None:
    """Workers' graphs are copied into the output a batch at a time; the parent drops a
    duplicate figid from between its neighbours, and its bytes stay out of the file."""
    figures = sorted((SAMPLE / "_figures").glob("*.md"))[:40]
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for f in figures[:40 if folder == "a" else 3]:
            shutil.copy(f, tmp_path / folder / f.name)
    (tmp_path / "b" / figures[0].name).rename(tmp_path / "b" / "0-first.md")  # b's come first
    both, alone = tmp_path / "both.nq", tmp_path / "alone.nq"
    result = CliRunner().invoke(main, ["convert", "--no-validate", "-q", "--jobs", "2",
                                       str(tmp_path / "b"), str(tmp_path / "a"), "-o", str(both)])
    assert result.exit_code == 2, result.output
    assert result.output.count("was already exported from") == 3
    _convert(str(tmp_path / "a"), "-o", str(alone), "--jobs", "2")
    assert _lines(both.read_bytes()) == _lines(alone.read_bytes())
    assert both.read_bytes().count(b"\n") - alone.read_bytes().count(b"\n") == 0


@needs_sample
def test_jobs_with_small_batches_on_the_sample() -> None:
    """Workers on the real sample (every generation), many small batches: same bytes, order."""
    one = list(build_graphs([SAMPLE], ExportOptions(jobs=1, batch_size=16)))
    two = list(build_graphs([SAMPLE], ExportOptions(jobs=2, batch_size=16)))
    assert [isinstance(x, Exception) for x in one] == [isinstance(x, Exception) for x in two]
    assert [getattr(x, "data", None) for x in one] == [getattr(x, "data", None) for x in two]
    assert [str(x) for x in one if isinstance(x, Exception)] == \
        [str(x) for x in two if isinstance(x, Exception)]


@needs_sample
@pytest.mark.slow
def test_shards_concatenate_to_the_whole(site: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole.nq"
    _convert(str(site), "-o", str(whole), "--jobs", "1")
    parts = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}.nq"
        _convert(str(site), "-o", str(out), "--shard", f"{k}/3", "--jobs", "1")
        parts.append(out.read_bytes())
    figures = [{line.rsplit(b" <", 1)[1] for line in p.splitlines() if VOID_SUFFIX[:-1]
                   not in line} for p in parts]
    assert all(figures)  # every shard has figures
    assert not (figures[0] & figures[1]) and not (figures[1] & figures[2])  # disjoint
    assert _lines(b"".join(parts)) == _lines(whole.read_bytes())


@needs_sample
def test_the_default_is_a_worker_per_usable_core_and_a_spare(tmp_path: Path,
                                                             monkeypatch) -> None:
    """The spare covers a worker waiting for the disk; an incremental re-run, which rebuilds
    a few figures, does without it (each worker's start competes with the cache check)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert pipeline.default_jobs() == 4
    seen: list = []
    real = pipeline._Pool

    def spy(options, jobs):  # type: ignore[no-untyped-def]
        seen.append(jobs)
        return real(options, jobs)

    monkeypatch.setattr(pipeline, "_Pool", spy)
    list(build_graphs([], ExportOptions(jobs=0)))
    first = ExportOptions(jobs=0, incremental=True, cache=tmp_path / "cache")
    list(build_graphs([SAMPLE / "_figures"], first))  # writes the cache's index
    list(build_graphs([SAMPLE / "_figures"], first))
    assert seen == [4, 4, 3]


def test_shard_assignment_is_stable_and_by_file_name() -> None:
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "x", "1/0", "1-2"):
        with pytest.raises(UsageError):
            parse_shard(bad)
    a = shard_of(Path("/one/site/_figures/PMC1__x.md"), 7)
    assert a == shard_of(Path("/elsewhere/_figures/PMC1__x.md"), 7)
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(Path(f"PMC{i}__f{i}.md"), 4) - 1] += 1
    assert min(counts) > 850  # about even


def _copy_site(src: Path, dst: Path, figures: int | None = None) -> Path:
    shutil.copytree(src / "_organisms", dst / "_organisms")
    shutil.copytree(src / "_data", dst / "_data")
    (dst / "_figures").mkdir()
    for p in sorted((src / "_figures").iterdir())[:figures]:
        shutil.copy2(p, dst / "_figures" / p.name)
    return dst


class _Counting:
    """Counts load_figure calls in this process (jobs=1 builds in-process)."""

    def __init__(self, monkeypatch) -> None:
        self.paths: list[str] = []
        real = pipeline.load_figure

        def counting(source, limits):
            self.paths.append(source.path.name)
            return real(source, limits)

        monkeypatch.setattr(pipeline, "load_figure", counting)


def _export(site: Path, cache: Path | None, **kw) -> bytes:
    opts = ExportOptions(jobs=1, cache=cache, incremental=cache is not None, **kw)
    return b"".join(g.data for g in build_graphs([site], opts) if not isinstance(g, Exception))


@needs_sample
def test_incremental_rebuilds_only_what_changed(tmp_path: Path, monkeypatch) -> None:
    site = _copy_site(SAMPLE, tmp_path / "site")
    cache = tmp_path / "cache"
    first = _export(site, cache)
    counter = _Counting(monkeypatch)
    assert _export(site, cache) == first
    assert counter.paths == []  # nothing read again

    # A touched file with the same content is no change; its new mtime is remembered (the
    # index is written again, where a run with nothing changed leaves it alone).
    index = next(cache.rglob(pipeline.INDEX_NAME))
    written = index.stat().st_mtime_ns
    assert _export(site, cache) == first and index.stat().st_mtime_ns == written
    victim = sorted((site / "_figures").iterdir())[5]
    os.utime(victim, (time.time() + 10, time.time() + 10))
    assert _export(site, cache) == first and counter.paths == []
    assert index.stat().st_mtime_ns != written

    # One figure edited: exactly that one is rebuilt, and the result equals a full export.
    text = victim.read_text(encoding="utf-8")
    victim.write_text(text.replace("figtitle: ", "figtitle: Edited ", 1), encoding="utf-8")
    again = _export(site, cache)
    assert counter.paths == [victim.name]
    assert again == _export(site, None) != first

    # A _data table edited: its figure is rebuilt.
    counter.paths.clear()
    table = min((site / "_data").glob("*-genes.tsv"))
    rows = table.read_bytes().splitlines()
    table.write_bytes(b"\n".join([*rows, rows[-1].replace(b"\t", b"x\t", 1)]) + b"\n")
    _export(site, cache)
    assert counter.paths == [table.name[: -len("-genes.tsv")] + ".md"]

    # A figure removed: gone from the export, nothing rebuilt.
    counter.paths.clear()
    victim.unlink()
    after = _export(site, cache)
    assert counter.paths == []
    assert after == _export(site, None)

    # An organism page changed: every figure of the site is rebuilt.
    counter.paths.clear()
    page = min((site / "_organisms").iterdir())
    page.write_text(page.read_text() + "\n", encoding="utf-8")
    _export(site, cache)
    assert len(counter.paths) == len(list((site / "_figures").iterdir()))


@needs_sample
def test_incremental_cli_parts_and_single_file(tmp_path: Path) -> None:
    site = _copy_site(SAMPLE, tmp_path / "site")
    parts, single = tmp_path / "parts", tmp_path / "all.nq"
    _convert(str(site), "-o", str(parts) + "/", "--incremental")
    _convert(str(site), "-o", str(single), "--incremental")
    assert (tmp_path / "all.nq.cache").is_dir()
    blob = b"".join(p.read_bytes() for p in sorted(parts.glob("*.nq")))
    assert _lines(blob) == _lines(single.read_bytes())
    assert sorted(blob.splitlines()) == sorted(single.read_bytes().splitlines())  # VoID too

    victim = sorted((site / "_figures").iterdir())[3]
    victim.write_text(victim.read_text().replace("caption: ", "caption: New ", 1))
    before = {p.name: p.stat().st_mtime_ns for p in parts.glob("part-*.nq")}
    _convert(str(site), "-o", str(parts) + "/", "--incremental")
    changed = [p.name for p in parts.glob("part-*.nq") if p.stat().st_mtime_ns != before[p.name]]
    assert changed == [f"part-{pipeline.part_of(victim):03d}.nq"]
    _convert(str(site), "-o", str(single), "--incremental")
    fresh = tmp_path / "fresh.nq"
    _convert(str(site), "-o", str(fresh))
    assert single.read_bytes() == fresh.read_bytes()
    blob = b"".join(p.read_bytes() for p in sorted(parts.glob("*.nq")))
    assert sorted(blob.splitlines()) == sorted(fresh.read_bytes().splitlines())


@needs_sample
def test_an_unchanged_incremental_run_reports_the_same_findings_without_rewriting_the_index(
        tmp_path: Path) -> None:
    """Cached findings are counted from the severities stored next to them (not unpickled),
    and a run that changes nothing leaves the index as it was."""
    parts = tmp_path / "parts"

    def run() -> str:
        result = CliRunner().invoke(main, ["convert", str(SAMPLE), "-o", f"{parts}/",
                                           "--incremental", "--no-progress"])
        assert result.exit_code == 0, result.output
        return next(line for line in result.output.splitlines() if "validation:" in line)

    first = run()
    index = next(parts.rglob(pipeline.INDEX_NAME))
    written = index.stat().st_mtime_ns
    assert run() == first and "warnings" in first
    assert index.stat().st_mtime_ns == written


@needs_sample
def test_validation_in_workers_equals_validation_in_process() -> None:
    from rdfexport.validate import Validator

    found: list = []
    pooled = list(build_graphs([SAMPLE], ExportOptions(jobs=2, batch_size=32, validate=True),
                               findings=found))
    # What crosses the pipe is the figure's summary, not its whole record.
    assert all(isinstance(g.figure, pipeline.FigureSummary) for g in pooled
               if not isinstance(g, Exception))
    graphs = [g for g in build_graphs([SAMPLE], ExportOptions())
              if not isinstance(g, Exception)]
    validator = Validator()
    expected = [f for g in graphs for f in validator.validate(g)]
    assert found == expected
    assert {f.figid for f in found} == {g.figure.figid for g in graphs}  # infos: every figure


@needs_sample
def test_workers_do_not_hang_after_shacl_rust_ran_in_the_parent() -> None:
    """shacl-rust leaves threads behind; workers forked after that waited forever on a lock
    one of those threads held. Run in a child process so that a hang fails instead of
    stalling the suite."""
    script = f"""
import os
from rdfexport.pipeline import ExportOptions, build_graphs
from rdfexport.validate import Validator
graphs = [g for g in build_graphs([{str(SAMPLE)!r}], ExportOptions())
          if not isinstance(g, Exception)]
Validator().validate_batch(graphs[:5])
assert len(os.listdir("/proc/self/task")) > 1, "shacl-rust started no thread: test is moot"
found = []
n = sum(1 for _ in build_graphs([{str(SAMPLE)!r}],
                                ExportOptions(jobs=2, batch_size=16, validate=True),
                                findings=found))
print(n, len(graphs), len(found))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    n, expected, found = (int(x) for x in done.stdout.split())
    assert n == expected > 100
    assert found > 0


@needs_sample
def test_worker_graphs_come_through_spill_files_that_do_not_outlive_the_run() -> None:
    """Workers hand N-Quads over in spill files (opened and unlinked by the parent at once):
    the data stays readable while a graph is held, and no file or folder is left behind;
    a folder left by a killed run (its PID gone) is removed by the next run."""
    import tempfile

    tmp = Path(tempfile.gettempdir())
    stale = tmp / f"{pipeline._SPILL_PREFIX}999999999-x"
    stale.mkdir(exist_ok=True)
    (stale / "left.nq").write_bytes(b"x")
    graphs = [g for g in build_graphs([SAMPLE], ExportOptions(jobs=2, batch_size=16))
              if not isinstance(g, Exception)]
    assert not stale.exists()
    assert all(isinstance(g, pipeline.SpilledGraph) for g in graphs)
    assert not list(tmp.glob(f"{pipeline._SPILL_PREFIX}{os.getpid()}-*"))
    assert all(g.data.endswith(f" <{g.iri}> .\n".encode()) for g in graphs)
    assert sum(len(g.data) for g in graphs) == sum(g.length for g in graphs)


@needs_sample
@pytest.mark.parametrize("digests", [True, False])
def test_workers_make_digests_only_for_runs_that_use_them(digests: bool) -> None:
    """A convert to a file never compares digests: its workers skip the SHA-256 (~3 % of a
    figure's CPU); asked for anyway, a digest is still the one of the data."""
    import hashlib

    graphs = [g for g in build_graphs([SAMPLE], ExportOptions(jobs=2, batch_size=16,
                                                              digests=digests))
              if not isinstance(g, Exception)]
    assert len(graphs) == 130
    assert all((g._digest is not None) == digests for g in graphs)
    assert all(g.digest == hashlib.sha256(g.data).hexdigest() for g in graphs)


@needs_sample
def test_convert_skips_digests_unless_it_keeps_a_cache(tmp_path: Path, monkeypatch) -> None:
    seen: list = []
    real = pipeline.build_graphs

    def spy(paths, options, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(options)
        return real(paths, options, *args, **kwargs)

    monkeypatch.setattr("rdfexport.cli.convert.build_graphs", spy)
    figure = next((SAMPLE / "_figures").glob("*.md"))
    for extra in ([], ["--incremental"]):
        result = CliRunner().invoke(main, ["convert", str(figure), "-o",
                                           str(tmp_path / "out.nq"), *extra])
        assert result.exit_code == 0, result.output
    assert [o.digests or o.cache is not None for o in seen] == [False, True]


@needs_sample
def test_a_worker_that_cannot_spill_sends_its_graphs_through_the_pipe(tmp_path: Path) -> None:
    from rdfexport.sources import discover

    sources = [s for s in discover([SAMPLE]) if not isinstance(s, Exception)][:5]
    pipeline._worker_init(ExportOptions(), spill=str(tmp_path / "missing"))
    out, path = pipeline._work_spilled(sources)
    assert path is None and all(isinstance(b.item, pipeline.FigureGraph) for b in out)
    pipeline._worker_init(ExportOptions(), spill=str(tmp_path))
    spilled, path = pipeline._work_spilled(sources)
    assert path is not None and all(isinstance(b.item, pipeline.SpilledGraph) for b in spilled)
    pipeline._Pool.result((_done((spilled, path)), sources))
    assert [b.item.data for b in spilled] == [b.item.data for b in out]
    assert not Path(path).exists()  # unlinked once opened


def _done(value):  # a finished future
    from concurrent.futures import Future

    future: Future = Future()
    future.set_result(value)
    return future


@needs_sample
def test_bad_shapes_in_workers_are_reported_as_bad_shapes(tmp_path: Path) -> None:
    """Workers make their validator as they start; a shapes error there must reach the user as
    itself, not as a broken pool ("a worker process died")."""
    from rdfexport.errors import ValidationConfigError

    (tmp_path / "bad.ttl").write_text("this is not turtle", encoding="utf-8")
    with pytest.raises(ValidationConfigError) as err:
        list(build_graphs([SAMPLE], ExportOptions(jobs=2, batch_size=16, validate=True,
                                                  shapes=tmp_path)))
    assert "bad.ttl" in err.value.message


@needs_sample
def test_a_worker_that_dies_is_an_error_naming_its_files_not_a_hang() -> None:
    """A worker killed mid-batch (a native crash, the OOM killer) used to leave
    multiprocessing.Pool waiting forever for its batch. In a child process, so that a hang
    fails instead of stalling the suite."""
    script = f"""
import os, signal
from rdfexport import pipeline
from rdfexport.errors import InputError
work = pipeline._work
def dying(sources):
    if any(s.path.name.startswith("PMC1052008") for s in sources):
        os.kill(os.getpid(), signal.SIGKILL)
    return work(sources)
pipeline._work = dying
pipeline._start_method = lambda: "fork"
try:
    list(pipeline.build_graphs([{str(SAMPLE)!r}], pipeline.ExportOptions(jobs=2, batch_size=16)))
except InputError as err:
    print(err.exit_code, err.message)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    code, message = done.stdout.split(" ", 1)
    assert code == "2"
    assert "a worker process died while converting this file or one of the 15 after it" in message
    assert message.startswith(str(SAMPLE / "_figures")) and "--jobs 1" in message


KEEP_HEAP_PROBE = """
import resource, sys
from rdfexport import pipeline
if sys.argv[1] == "keep":
    pipeline._keep_heap()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(2):
    before = faults()
    block = bytearray(20 << 20)
    del block
print(faults() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr(
    "CS_GNU_LIBC_VERSION"), reason="glibc's mallopt")
def test_workers_keep_freed_memory_for_the_next_batch() -> None:
    """A batch's large texts were mmapped and unmapped by glibc, and every page faulted in again
    for the next batch: a 20 MB block faults ~5,000 pages each time, once with _keep_heap."""
    def second_faults(mode: str) -> int:
        return int(subprocess.run([sys.executable, "-c", KEEP_HEAP_PROBE, mode], check=True,
                                  capture_output=True, text=True).stdout)

    assert second_faults("default") > 4000
    assert second_faults("keep") < 500


@needs_sample
def test_shard_voids_merge_into_the_whole(tmp_path: Path) -> None:
    import pyoxigraph as ox

    site = _copy_site(SAMPLE, tmp_path / "site")
    _convert(str(site), "-o", str(tmp_path / "whole") + "/")
    for k in (1, 2):
        _convert(str(site), "-o", str(tmp_path / f"s{k}") + "/", "--shard", f"{k}/2")
    merged = pipeline.merge_void([tmp_path / "s1" / "void.nq", tmp_path / "s2" / "void.nq"])
    whole = list(ox.parse((tmp_path / "whole" / "void.nq").read_bytes(),
                          format=ox.RdfFormat.N_QUADS))

    def facts(quads):  # the example resource is the first figure of shard 1, not of the whole
        return sorted(str(q) for q in quads if not q.predicate.value.endswith("exampleResource"))

    assert facts(merged) == facts(whole)
    # Parts hold figure graphs only: shard parts + merged VoID = the whole export.
    parts = b"".join(p.read_bytes() for k in (1, 2) for p in (tmp_path / f"s{k}").glob("part-*"))
    whole_parts = b"".join(p.read_bytes() for p in (tmp_path / "whole").glob("part-*"))
    assert sorted(parts.splitlines()) == sorted(whole_parts.splitlines())


@needs_sample
def test_load_incremental_rebuilds_and_replaces_one_figure(tmp_path: Path, monkeypatch) -> None:
    site = _copy_site(SAMPLE, tmp_path / "site")
    store = tmp_path / "store"
    args = ["load", str(site), "--store", str(store), "--incremental", "--no-validate",
            "--no-progress", "--jobs", "1"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert not list((tmp_path / "store.cache").glob("part-*"))  # index only, no N-Quads packs
    counter = _Counting(monkeypatch)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "0 replaced, 130 unchanged" in again.output
    assert counter.paths == []
    victim = sorted((site / "_figures").iterdir())[7]
    victim.write_text(victim.read_text().replace("figtitle: ", "figtitle: Changed ", 1))
    third = CliRunner().invoke(main, args)
    assert third.exit_code == 0 and "1 replaced, 129 unchanged" in third.output, third.output
    assert counter.paths == [victim.name]
