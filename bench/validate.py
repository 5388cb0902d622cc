"""Per-figure cost of SHACL validation, per engine, one figure per call and in batches.

    python bench/validate.py [PATH ...]      (default: the test sample, 130 real figures)

Prints milliseconds per figure (best of 3 runs); the numbers quoted in docs/VALIDATION.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rdfexport.pipeline import ExportOptions, build_graphs
from rdfexport.validate import Validator

ROOT = Path(__file__).resolve().parent.parent


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(paths: list[str]) -> None:
    graphs = [g for g in build_graphs(paths or [ROOT / "tests/data/pfocr-sample"], ExportOptions())
              if not isinstance(g, Exception)]
    n = len(graphs)
    triples = sum(len(g) for g in graphs) / n
    print(f"{n} figures, {triples:.0f} triples per figure")
    for engine in ("pyshacl", "shacl-rust"):
        v = Validator(engine=engine)
        v.validate(graphs[0])  # warm-up: shapes harvested, queries parsed
        one = best_of(3, lambda v=v: [v.validate(g) for g in graphs]) / n * 1000
        batch = best_of(3, lambda v=v: [v.validate_batch(graphs[i:i + 200])
                                    for i in range(0, n, 200)]) / n * 1000
        print(f"{engine:>10}: {one:6.2f} ms/figure one at a time, {batch:6.2f} ms/figure in "
              "batches of 200")


if __name__ == "__main__":
    main(sys.argv[1:])
