"""CPU time of each stage per figure, in one process, on the first N figures of a site.

    python bench/stages.py /tmp/site-2k [--figures 300] [--engine direct] [--validate]

Process CPU time (not wall time), so the numbers hold up on a busy machine; each build stage is
run --repeat times and the least CPU time is kept (other processes only ever add to it). Stages
follow the pipeline: read + YAML, records, then the build engine's own stages (direct: the
front-matter nodes, writing their lines from the context table, the schema-jsonld blocks through
pyoxigraph; oxigraph: JSON-LD documents, pyoxigraph's JSON-LD parser, grouping per figure), the
whole graph.build with its canonical form, N-Triples for validation, pickling a worker's results;
with --validate also the validator per figure (pySHACL, shacl-rust) and shacl-rust on a batch's
N-Triples without rdflib.
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

from rdfexport import compact_nquads, graph, jsonld
from rdfexport.pipeline import ExportOptions, _work, _worker_init
from rdfexport.records import load_figure
from rdfexport.sources import discover, read_front_matter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("site", type=Path)
    ap.add_argument("--figures", type=int, default=300)
    ap.add_argument("--engine", choices=graph.ENGINES, default=graph.DEFAULT_ENGINE)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each build stage (least kept)")
    ap.add_argument("--validate", action="store_true")
    a = ap.parse_args()
    sources = list(itertools.islice(discover([a.site]), a.figures))
    n = len(sources)
    rows: list[tuple[str, float]] = []

    def stage(label: str, fn, repeat: int = 1):  # type: ignore[no-untyped-def]
        best = float("inf")
        for _ in range(repeat):
            start = time.process_time()
            value = fn()
            best = min(best, time.process_time() - start)
        rows.append((label, best / n * 1e6))
        return value

    texts = stage("read the files", lambda: [s.path.read_text(encoding="utf-8") for s in sources])
    stage("  YAML: plain CSafeLoader (for reference)", lambda: [
        yaml.load(t.split("\n---\n", 1)[0][4:], Loader=yaml.CSafeLoader) for t in texts])
    stage("  read_front_matter (hardened loader, key lines)",
          lambda: [read_front_matter(s.path) for s in sources])
    figs = stage("records.load_figure (all of reading)", lambda: [load_figure(s) for s in sources])
    r = a.repeat
    if a.engine == "direct":
        nodes = stage("  jsonld.figure_nodes", lambda: [jsonld.figure_nodes(f) for f in figs], r)
        stage("  compact_nquads.triples (front matter -> lines)",
              lambda: [compact_nquads.triples(x) for x in nodes], r)
        stage("  schema-jsonld blocks (pyoxigraph, one document)",
              lambda: graph._block_nquads(figs), r)
    elif a.engine == "oxigraph":
        docs = stage("  jsonld.batch_documents", lambda: jsonld.batch_documents(figs), r)
        enc = stage("  json.dumps", lambda: [json.dumps(d).encode() for d in docs], r)
        nq = stage("  pyoxigraph JSON-LD parse -> N-Quads",
                   lambda: [ox.serialize(ox.parse(e, format=ox.RdfFormat.JSON_LD),
                                         format=ox.RdfFormat.N_QUADS) for e in enc], r)
        stage("  split per figure (graph._by_graph)", lambda: [graph._by_graph(d) for d in nq], r)
    graphs = stage(f"graph.build, engine {a.engine} (nodes .. canonical form)",
                   lambda: graph.build(figs, a.engine), r)
    built = [g for g in graphs if isinstance(g, graph.FigureGraph)]
    stage("  FigureGraph.ntriples()", lambda: [g.ntriples() for g in built], r)
    stage("  (N-Triples by pyoxigraph: parse the N-Quads, serialize)", lambda: [
        ox.serialize((q.triple for q in ox.parse(g.data, format=ox.RdfFormat.N_QUADS)),
                     format=ox.RdfFormat.N_TRIPLES) for g in built], r)
    _worker_init(ExportOptions(engine=a.engine))
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
            return g.ntriples().decode() + facts

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
