"""Benchmark rdfexport (and the naive pipeline) on generated sites; record bench/RESULTS.md.

    python bench/run.py STEP... [--site-100k DIR] [--site-10k DIR] [--site-small DIR] [--work DIR]

Steps (each runs one command as a subprocess and measures it):

    nq-100k, ttl-100k          convert to N-Quads / Turtle, no validation, 100k figures
    nq-100k-validate, ttl-100k-validate   the same with validation (the default of convert)
    nq-10k, nq-10k-validate, ttl-10k...   the same at 10k figures (memory at 10k vs 100k)
    validate-small             convert with validation on --site-small (per-figure cost)
    naive                      bench/naive.py on the first --naive-figures of --site-small
    load-10k                   `rdfexport load` into a fresh embedded store
    incr-convert, incr-load    cold run, change one figure, timed re-run (--incremental)
    jobs1-10k                  convert with --jobs 1 (the parallel speed-up)

For each: wall time; CPU time (user+sys of the whole process tree, from getrusage); peak memory
as the largest sum of RSS over the process tree (sampled every 50 ms from /proc) and the largest
single process (ru_maxrss); figures/s and triples/s (from the command's summary line).
Results accumulate in --json (default bench/out/results.json); RESULTS.md is rendered from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += _rss(p)
        stack.extend(_children(p))
    return total


def measure(cmd: list[str], cwd: Path | None = None) -> dict:
    """Run CMD; wall, CPU (tree), peak tree RSS, peak single RSS, exit code, stderr tail."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = err.decode("utf-8", "replace")
    return {"cmd": " ".join(cmd), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_tree_mb": round(peak / 2**20), "peak_proc_mb": round(after.ru_maxrss / 1024),
            "exit": proc.returncode, "stderr_tail": text.strip().splitlines()[-3:],
            "loadavg_before": round(load, 2), "when": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                   time.gmtime())}


_SUMMARY = re.compile(r"(\d+) figures, (\d+) triples")
_LOADED = re.compile(r"([\d,]+) triples written")


def rates(result: dict, figures: int | None = None) -> dict:
    text = "\n".join(result["stderr_tail"])
    m = _SUMMARY.search(text)
    triples = None
    if m:
        figures = int(m.group(1))
        triples = int(m.group(2))
    elif "NAIVE " in text:
        stats = json.loads(text.split("NAIVE ", 1)[1].splitlines()[0])
        figures, triples = stats["figures"], stats["triples"]
        result["naive"] = stats
    elif (m2 := _LOADED.search(text)):
        triples = int(m2.group(1).replace(",", ""))
    result["figures"] = figures
    result["triples"] = triples
    if figures:
        result["figures_per_s"] = round(figures / result["wall_s"], 1)
        result["cpu_ms_per_figure"] = round(result["cpu_s"] / figures * 1000, 2)
    if triples:
        result["triples_per_s"] = round(triples / result["wall_s"])
    return result


def rdfexport(*args: str) -> list[str]:
    return [PY, "-m", "rdfexport", *args]


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = 0
    versions = {}
    from importlib.metadata import version

    for mod, dist in (("pyoxigraph", "pyoxigraph"), ("rdflib", "rdflib"), ("pyld", "PyLD"),
                      ("pyshacl", "pyshacl"), ("shacl_rust", "shacl-rust"),
                      ("yaml", "PyYAML")):
        try:
            versions[mod] = version(dist)
        except Exception:
            versions[mod] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem / 2**20, 1),
            "python": platform.python_version(), "os": platform.platform(), **versions}


def change_one_figure(site: Path) -> Path:
    victim = sorted((site / "_figures").iterdir())[len(os.listdir(site / "_figures")) // 2]
    text = victim.read_text(encoding="utf-8")
    victim.write_text(text.replace("figtitle: ", f"figtitle: Edited {time.time():.0f} ", 1),
                      encoding="utf-8")
    return victim


def read_site(site: str | Path) -> float:
    """Read every file of ``site`` once, untimed, so that a step measures the exporter and not
    this VM's disk: a site just generated, checked out or synced is in the page cache too.
    Returns the seconds it took (a cold cache shows here, not in the step)."""
    start = time.perf_counter()
    for folder, _, names in os.walk(site):
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                while fh.read(1 << 20):
                    pass
    return round(time.perf_counter() - start, 2)


def run_step(step: str, a: argparse.Namespace) -> dict:
    work = a.work
    work.mkdir(parents=True, exist_ok=True)
    big, ten, small = str(a.site_100k), str(a.site_10k), str(a.site_small)
    jobs = ["--jobs", str(a.jobs)] if a.jobs else []
    if re.fullmatch(r"(nq|ttl)-(100k|10k)(-validate)?|jobs1-10k", step):
        site = big if "100k" in step else ten
        out = work / ("out.ttl" if step.startswith("ttl") else "out.nq")
        val = "--validate" if step.endswith("validate") else "--no-validate"
        extra = ["--jobs", "1"] if step.startswith("jobs1") else jobs
        warm_s = read_site(site)
        r = rates(measure(rdfexport("convert", site, "-o", str(out), val, "--no-progress",
                                    *extra)))
        r["warm_read_s"] = warm_s
        r["output_mb"] = round(out.stat().st_size / 2**20) if out.exists() else None
        out.unlink(missing_ok=True)
        return r
    if step == "validate-small":
        out = work / "small.nq"
        r = rates(measure(rdfexport("convert", small, "-o", str(out), "--validate",
                                    "--no-progress", *jobs)))
        out.unlink(missing_ok=True)
        return r
    if step == "naive":
        return rates(measure([PY, str(HERE / "naive.py"), small, "--limit",
                              str(a.naive_figures), "-o", str(work / "naive.ttl")]))
    if step == "load-10k":
        store = work / "store-10k"
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(work / "store-10k.cache", ignore_errors=True)
        r = rates(measure(rdfexport("load", ten, "--store", str(store), "--no-validate",
                                    "--no-progress", *jobs)), figures=10_000)
        return r
    if step in ("incr-convert", "incr-load"):
        site = Path(a.incr_site or big)
        check = "--validate" if a.incr_validate else "--no-validate"
        if step == "incr-convert":
            target = work / "parts"
            cmd = rdfexport("convert", str(site), "-o", str(target) + "/", "--incremental",
                            check, "--no-progress", *jobs)
        else:
            target = work / "store-incr"
            cmd = rdfexport("load", str(site), "--store", str(target), "--incremental",
                            check, "--no-progress", *jobs)
        if not a.keep:
            shutil.rmtree(target, ignore_errors=True)
            shutil.rmtree(str(target) + ".cache", ignore_errors=True)
        cold = rates(measure(cmd))
        unchanged = rates(measure(cmd))
        victim = change_one_figure(site)
        warm = rates(measure(cmd))
        return {**warm, "cold": cold, "unchanged": unchanged, "changed_file": str(victim)}
    raise SystemExit(f"unknown step {step}")


def render(results: dict, path: Path) -> None:
    m = results.get("_machine", {})
    lines = [
        "# Benchmark results",
        "",
        "Measured with `bench/run.py` on sites written by `bench/generate.py` (seed 1: 17.2 gene",
        "rows per figure on average, every format generation of the sample). Only numbers",
        "measured by these scripts are here; each row says when it ran and the load average",
        "before it (other jobs shared this machine, so wall times carry that noise; CPU ms per",
        "figure is the steadier figure).",
        "",
        (f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gb')} GB RAM; "
        f"Python {m.get('python')}; pyoxigraph {m.get('pyoxigraph')}, rdflib {m.get('rdflib')}, "
        f"pyld {m.get('pyld')}, pySHACL {m.get('pyshacl')}, shacl-rust {m.get('shacl_rust')}; "
        f"{m.get('os')}."),
        "",
        ("| step | figures | wall s | CPU s | figures/s | triples/s | CPU ms/figure | peak RSS, "
        "tree (MB) | exit | load before | ended |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step, r in results.items():
        if step.startswith("_"):
            continue
        rows = [(step, r)]
        for sub in ("cold", "unchanged"):
            if sub in r:
                rows.insert(0, (f"{step} ({sub} run)", r[sub]))
        for name, x in rows:
            if name == step and "cold" in r:
                name = f"{step} (after changing one figure)"
            lines.append(
                f"| {name} | {x.get('figures') or ''} | {x['wall_s']} | {x['cpu_s']} | "
                f"{x.get('figures_per_s', '')} | {x.get('triples_per_s', '')} | "
                f"{x.get('cpu_ms_per_figure', '')} | {x['peak_tree_mb']} | "
                f"{x['exit']} | {x['loadavg_before']} | {x['when']} |")
    lines.append("")
    notes = results.get("_notes", [])
    if notes:
        lines += ["## Notes", "", *notes, ""]
    lines += ["## Commands", ""]
    for step, r in results.items():
        if not step.startswith("_"):
            lines.append(f"- {step}: `{r['cmd'].replace(str(ROOT) + '/', '')}`")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("steps", nargs="*")
    ap.add_argument("--site-100k", type=Path, default=Path("/tmp/site-100k"))
    ap.add_argument("--site-10k", type=Path, default=Path("/tmp/site-10k"))
    ap.add_argument("--site-small", type=Path, default=Path("/tmp/site-2k"))
    ap.add_argument("--incr-site", type=Path, default=None,
                    help="site for the incremental steps (default --site-100k; it is modified)")
    ap.add_argument("--naive-figures", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="incremental: keep an existing cache")
    ap.add_argument("--incr-validate", action="store_true",
                    help="incremental steps with validation (the default of the commands)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/rdfexport-bench"))
    ap.add_argument("--json", type=Path, default=HERE / "out" / "results.json")
    ap.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--note", action="append", default=[], help="a line for the Notes section")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--merge", type=Path, nargs="*", default=[],
                    help="results files of other runs to merge in (optionally PREFIX=FILE)")
    a = ap.parse_args(argv)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(a.json.read_text()) if a.json.exists() else {}
    results["_machine"] = machine()
    for spec in a.merge:
        prefix, _, name = str(spec).rpartition("=")
        for step, r in json.loads(Path(name).read_text()).items():
            if not step.startswith("_"):
                results[f"{prefix} {step}".strip()] = r
    if a.note:
        results["_notes"] = results.get("_notes", []) + a.note
    if not a.render_only:
        for step in a.steps:
            print(f"== {step}", file=sys.stderr, flush=True)
            r = run_step(step, a)
            print(json.dumps(r, indent=1), file=sys.stderr, flush=True)
            results[step] = r
            a.json.write_text(json.dumps(results, indent=1))
    render(results, a.results)


if __name__ == "__main__":
    main()
