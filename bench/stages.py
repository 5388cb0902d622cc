"""CPU time of each stage per figure, in one process, on the first N figures of a site.

    python bench/stages.py /tmp/site-2k [--figures 300] [--validate]

Process CPU time (not wall time), so the numbers hold up on a busy machine. Stages follow the
pipeline: read + YAML, records, JSON-LD documents, pyoxigraph's JSON-LD parser, grouping per
figure and canonical form, pickling a worker's results; with --validate also the validator per
figure (pySHACL, shacl-rust) and shacl-rust on a batch's N-Triples without rdflib.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import time
from pathlib import Path

import pyoxigraph as ox
import yaml

from rdfexport import graph, jsonld
from rdfexport.pipeline import ExportOptions, _work, _worker_init
from rdfexport.records import load_figure
from rdfexport.sources import discover, read_front_matter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("site", type=Path)
    ap.add_argument("--figures", type=int, default=300)
    ap.add_argument("--validate", action="store_true")
    a = ap.parse_args()
    sources = list(itertools.islice(discover([a.site]), a.figures))
    n = len(sources)
    rows: list[tuple[str, float]] = []

    def stage(label: str, fn):  # type: ignore[no-untyped-def]
        start = time.process_time()
        value = fn()
        rows.append((label, (time.process_time() - start) / n * 1e6))
        return value

    texts = stage("read the files", lambda: [s.path.read_text(encoding="utf-8") for s in sources])
    stage("  YAML: plain CSafeLoader (for reference)", lambda: [
        yaml.load(t.split("\n---\n", 1)[0][4:], Loader=yaml.CSafeLoader) for t in texts])
    stage("  read_front_matter (hardened loader, key lines)",
          lambda: [read_front_matter(s.path) for s in sources])
    figs = stage("records.load_figure (all of reading)", lambda: [load_figure(s) for s in sources])
    docs = stage("jsonld.batch_documents", lambda: jsonld.batch_documents(figs))
    enc = stage("json.dumps", lambda: [json.dumps(d).encode() for d in docs])
    nq = stage("pyoxigraph JSON-LD parse -> N-Quads",
               lambda: [ox.serialize(ox.parse(e, format=ox.RdfFormat.JSON_LD),
                                     format=ox.RdfFormat.N_QUADS) for e in enc])
    stage("split per figure (graph._by_graph)", lambda: [graph._by_graph(d) for d in nq])
    graphs = stage("graph.build (documents .. canonical form)", lambda: graph.build(figs))
    _worker_init(ExportOptions())
    results = stage("pipeline._work (a worker's whole job)", lambda: _work(sources))
    blob = stage("pickle a worker's results", lambda: pickle.dumps(results, protocol=5))
    stage("unpickle them in the parent", lambda: pickle.loads(blob))
    if a.validate:
        from rdfexport.validate import Validator, source_facts

        for engine in ("pyshacl", "shacl-rust"):
            v = Validator(engine=engine)
            m = min(n, 100)
            start = time.process_time()
            for g in graphs[:m]:
                v.validate(g)
            rows.append((f"Validator({engine}).validate per figure",
                         (time.process_time() - start) / m * 1e6))
        import shacl_rust

        shapes = Validator(engine="shacl-rust")._engine.shapes_text

        def nt(g) -> str:  # type: ignore[no-untyped-def]
            facts = "".join(f"{s.n3()} {p.n3()} {o.n3()} .\n" for s, p, o in source_facts(g)[0])
            return g.data.replace(f" <{g.iri}> .\n".encode(), b" .\n").decode() + facts

        start = time.process_time()
        for i in range(0, n, 50):
            shacl_rust.validate("".join(nt(g) for g in graphs[i:i + 50]), shapes,
                                data_format="nt", shapes_format="nt")
        rows.append(("shacl-rust on batches of 50, N-Triples text, no rdflib",
                     (time.process_time() - start) / n * 1e6))
    width = max(len(r[0]) for r in rows)
    print(f"{n} figures, {sum(len(g) for g in graphs if hasattr(g, 'data')) / n:.0f} triples each")
    for label, us in rows:
        print(f"{label:<{width}}  {us:9,.0f} µs/figure")


if __name__ == "__main__":
    main()
