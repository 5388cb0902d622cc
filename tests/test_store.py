"""Loading into the embedded store, a real Oxigraph server and a real Virtuoso: one named graph
per figure, replaced by content digest; idempotent; resumable; clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from servers import (  # noqa: F401  (fixtures)
    fake_graph,
    open_test_store,
    oxigraph_server,
    reset,
    virtuoso,
)

from rdfexport import vocab
from rdfexport.errors import ExitCode, StoreError
from rdfexport.stores import open_store
from rdfexport.stores.base import STATE_GRAPH, LoadStats, staging_graph

KINDS = ["embedded", "embedded-bulk", "oxigraph", "virtuoso"]
FIGURES = "https://pfocr.wikipathways.org/figures/"


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_test_store(request.param.removesuffix("-bulk"), request, tmp_path)
    s.batch_figures = 3  # several batches even in small tests
    if request.param == "embedded-bulk":
        s.small_batch = 0  # every batch through bulk_load, as a large load writes
    yield s
    s.close()


def figure_quads(store) -> set[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    r = store.query(f'SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} '
                    f'FILTER(STRSTARTS(STR(?g), "{FIGURES}")) }}')
    return {tuple(str(t) for t in row) for row in r.rows}  # type: ignore[misc]


def expected_quads(graphs) -> set[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    return {(str(q.graph_name), str(q.subject), str(q.predicate), str(q.object))
            for g in graphs for q in g.quads}


def void(stats: LoadStats) -> list[ox.Quad]:
    g = ox.NamedNode(vocab.VOID_GRAPH)
    return [ox.Quad(ox.NamedNode(vocab.DATASET), ox.NamedNode("http://rdfs.org/ns/void#triples"),
                    ox.Literal(str(stats.triples_in_store),
                               datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
                    g)]


def test_load_then_reload_unchanged_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    graphs = [fake_graph(i) for i in range(8)]
    first = store.load(graphs, void=void)
    assert (first.added, first.replaced, first.skipped) == (8, 0, 0)
    assert first.triples == first.triples_in_store == 160 and first.void_written
    before = figure_quads(store)
    assert before == expected_quads(graphs)
    second = store.load(graphs, void=void)
    assert (second.added, second.replaced, second.skipped, second.triples) == (0, 0, 8, 0)
    assert not second.void_written  # the VoID graph (and its date) stays as it was
    assert figure_quads(store) == before


def test_changed_figure_replaces_exactly_its_graph(store) -> None:  # type: ignore[no-untyped-def]
    graphs = [fake_graph(i) for i in range(6)]
    store.load(graphs, void=void)
    changed = fake_graph(2, triples=5, version=1)
    stats = store.load([*graphs[:2], changed, *graphs[3:]], void=void)
    assert (stats.added, stats.replaced, stats.skipped) == (0, 1, 5)
    assert stats.triples_in_store == 5 * 20 + 5
    assert figure_quads(store) == expected_quads([*graphs[:2], changed, *graphs[3:]])
    n = store.query(f"SELECT ?n WHERE {{ GRAPH <{vocab.VOID_GRAPH}> {{ ?d ?p ?n }} }}").rows
    assert int(n[0][0].value) == 105  # the VoID graph follows


def test_interrupted_load_resumes_without_duplicates(
        store, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    graphs = [fake_graph(i) for i in range(10)]

    def interrupted() -> Iterator:  # type: ignore[type-arg]
        yield from graphs[:7]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.load(interrupted(), void=void)
    # Also what a crash between writing a graph and recording it leaves: a half-written figure
    # graph without state, and (remote stores) a staging graph that was never moved.
    half = fake_graph(8)
    if hasattr(store, "put_graph"):
        store.put_graph(half.iri, half.quads[:5], "test")
        if not store.atomic_put:
            store.put_graph(staging_graph(fake_graph(9).iri), fake_graph(9).quads, "test")
    else:
        store.store.extend(half.quads[:5])
    stats = store.load(graphs, void=void)
    assert stats.skipped >= 6 and stats.added >= 3
    assert figure_quads(store) == expected_quads(graphs)
    r = store.query('SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } '
                    'FILTER(STRSTARTS(STR(?g), "https://pfocr.wikipathways.org/rdfexport/staging/")) }')
    assert int(r.rows[0][0].value) == 0  # no staging leftovers in the union default graph
    assert store.load(graphs, void=void).skipped == 10


def test_force_rewrites_a_graph_edited_behind_rdfexports_back(store) -> None:  # type: ignore[no-untyped-def]
    graphs = [fake_graph(i) for i in range(3)]
    store.load(graphs)
    store.replace_graph(graphs[1].iri, graphs[1].quads[:3])  # an edit by other means
    assert store.load(graphs).skipped == 3  # the digest cannot see it...
    stats = store.load(graphs, force=True)  # ...--force rewrites everything
    assert (stats.replaced, stats.skipped) == (3, 0)
    assert figure_quads(store) == expected_quads(graphs)


def test_state_graph_records_digest_and_size(store) -> None:  # type: ignore[no-untyped-def]
    g = fake_graph(1)
    store.load([g])
    assert store.read_state() == {g.iri: (g.digest, 20)}
    rows = store.query(f"SELECT ?p WHERE {{ GRAPH <{STATE_GRAPH}> {{ <{g.iri}> ?p ?o }} }}").rows
    assert len(rows) == 2


def test_union_of_all_graphs_is_the_default_graph(store) -> None:  # type: ignore[no-untyped-def]
    store.load([fake_graph(i) for i in range(4)])
    r = store.query("SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE "
                    "{ ?f <http://schema.org/mentions> <https://identifiers.org/ncbigene/7157> }")
    assert int(r.rows[0][0].value) == 4


def test_ask_and_construct(store) -> None:  # type: ignore[no-untyped-def]
    g = fake_graph(1)
    store.load([g])
    assert store.query(f"ASK {{ <{g.iri}> ?p ?o }}").boolean is True
    r = store.query(f"CONSTRUCT {{ <{g.iri}> <http://schema.org/name> ?n }} "
                    f"WHERE {{ <{g.iri}> <http://schema.org/name> ?n }}")
    assert [t.object.value for t in r.triples] == ["Figure 1 v0"]


def test_virtuoso_row_cap_is_paged_past(virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    reset(virtuoso)
    cap = int(virtuoso.extra["max_rows"])  # type: ignore[call-overload]
    graphs = [fake_graph(i, triples=cap // 2 + 7) for i in range(3)]  # 3 * (cap/2 + 7) > cap
    total = sum(len(g.quads) for g in graphs)
    s = open_store(endpoint=virtuoso.query_url, user=virtuoso.user, password=virtuoso.password)
    s.load(graphs)
    # The server alone stops at its cap, silently:
    assert len(virtuoso.sparql(f'SELECT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} '
                               f'FILTER(STRSTARTS(STR(?g), "{FIGURES}")) }}')) == cap
    r = s.query(f'SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} '
                f'FILTER(STRSTARTS(STR(?g), "{FIGURES}")) }}')
    assert r.pages > 1
    assert len(r.rows) == len(set(r.rows)) == total
    assert {tuple(str(t) for t in row) for row in r.rows} == expected_quads(graphs)
    # a query with its own ORDER BY is paged in that order
    r = s.query(f'SELECT ?o WHERE {{ GRAPH ?g {{ ?s <http://schema.org/keywords> ?o }} '
                f'FILTER(STRSTARTS(STR(?g), "{FIGURES}")) }} ORDER BY DESC(?o)')
    values = [row[0].value for row in r.rows]
    assert values == sorted(values, reverse=True) and len(values) == total - 2 * 3
    s.close()


def test_virtuoso_wrong_password_is_a_clear_store_error(virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with pytest.raises(StoreError) as info:
        s = open_store(endpoint=virtuoso.query_url, user="dba", password="not-the-password",
                       retries=0)
        s.load([fake_graph(1)])
    err = info.value
    assert err.exit_code == ExitCode.STORE
    assert "401" in err.message and "'dba'" in err.message and "RDFEXPORT_PASSWORD" in err.message
    assert "not-the-password" not in err.message


def test_server_down_is_a_clear_store_error_after_retries() -> None:
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}/query"
    with pytest.raises(StoreError) as info:
        open_store(endpoint=url, retries=2)
    err = info.value
    assert err.exit_code == ExitCode.STORE
    assert url in err.message and "running" in err.message and "3 attempts" in err.message


HOLD_STORE = ("import pyoxigraph, sys, time; s = pyoxigraph.Store(sys.argv[1]); "
              "print('ok', flush=True); time.sleep(30)")


def test_embedded_store_locked_by_another_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "store"
    open_store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_STORE, str(path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        with pytest.raises(StoreError, match="in use by another process"):
            open_store(path)
    finally:
        holder.kill()
        holder.wait()


def test_transient_503_and_dropped_connections_are_retried(oxigraph_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from servers import FlakyProxy

    reset(oxigraph_server)
    graphs = [fake_graph(i) for i in range(4)]
    # request 1: the probe (503), 3: the state read (dropped), 5: a PUT (503)
    with FlakyProxy(oxigraph_server.base, {1: "503", 3: "drop", 5: "503"}) as proxy:
        s = open_store(endpoint=proxy.url(oxigraph_server.query_url), flavor="oxigraph",
                       retries=3)
        s.backoff = 0.05
        stats = s.load(graphs)
        s.close()
    assert stats.added == 4
    assert [a for _, _, a in proxy.log[:6]] == ["503", "pass", "drop", "pass", "503", "pass"]
    fresh = open_store(endpoint=oxigraph_server.query_url)
    assert figure_quads(fresh) == expected_quads(graphs)


def test_virtuoso_failed_put_never_touches_the_figure_graph(virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Regression: Virtuoso's PUT is not atomic (a broken body empties the target and keeps a
    prefix). A cut upload must leave the loaded figure graph exactly as it was."""
    from servers import FlakyProxy

    reset(virtuoso)
    old, new = fake_graph(1), fake_graph(1, triples=40, version=2)
    s = open_store(endpoint=virtuoso.query_url, user=virtuoso.user, password=virtuoso.password)
    s.load([old])
    # What the quirk does to a graph PUT in place (the reason for staging + MOVE):
    with FlakyProxy(virtuoso.base, methods={"PUT": "truncate"}) as proxy:
        raw = open_store(endpoint=proxy.url(virtuoso.query_url), flavor="virtuoso",
                         user=virtuoso.user, password=virtuoso.password, retries=0)
        try:
            raw.put_graph("https://pfocr.wikipathways.org/figures/scratch.html", new.quads, "t")
        except StoreError:
            pass
    scratch = virtuoso.sparql("SELECT (COUNT(*) AS ?n) WHERE { GRAPH "
                              "<https://pfocr.wikipathways.org/figures/scratch.html> "
                              "{ ?s ?p ?o } }")
    assert int(scratch[0]["n"]) < len(new.quads), scratch  # a prefix, or nothing
    virtuoso.update("DROP SILENT GRAPH <https://pfocr.wikipathways.org/figures/scratch.html>")

    # Through rdfexport: every PUT of the new version is cut; the old graph survives intact.
    with FlakyProxy(virtuoso.base, methods={"PUT": "truncate"}) as proxy:
        cut = open_store(endpoint=proxy.url(virtuoso.query_url), flavor="virtuoso",
                         user=virtuoso.user, password=virtuoso.password, retries=1)
        cut.backoff = 0.05
        with pytest.raises(StoreError) as info:
            cut.load([new])
        cut.close()
    assert new.iri in info.value.message
    assert any(m == "PUT" for m, _, _ in proxy.log)
    assert figure_quads(s) == expected_quads([old])
    assert s.read_state() == {old.iri: (old.digest, 20)}
    s.close()


class _CountingStore:
    """A pyoxigraph store that counts the quads of the load-state graph read back from it."""

    def __init__(self, store: ox.Store) -> None:
        self._store = store
        self.state_quads_read = 0
        self.contains = 0

    def quads_for_pattern(self, s, p, o, g=None):  # type: ignore[no-untyped-def]
        for q in self._store.quads_for_pattern(s, p, o, g):
            if q.graph_name == ox.NamedNode(STATE_GRAPH):
                self.state_quads_read += 1
            yield q

    def query(self, sparql: str, **kwargs):  # type: ignore[no-untyped-def]
        # aggregates only; a query listing the state would be read whole
        assert "COUNT(" in sparql or "SUM(" in sparql or STATE_GRAPH not in sparql, sparql
        return self._store.query(sparql, **kwargs)

    def __contains__(self, quad: ox.Quad) -> bool:
        self.contains += 1
        return quad in self._store

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._store, name)


def test_reload_reads_only_the_changed_figures_state_not_the_whole_state_graph(
        tmp_path: Path) -> None:
    """Regression (100k figures: 7 s to reload one changed figure): the embedded store read every
    figure's digest back (two RocksDB string look-ups each) before loading anything. A reload
    now takes the digests a complete load left beside the store and reads nothing of the state
    graph; without them it looks each figure's digest up without reading it back, and reads the
    state of the changed figure only."""
    path = tmp_path / "store"
    graphs = [fake_graph(i) for i in range(50)]
    with open_store(path) as store:
        store.load(graphs, void=void)

    def reload(changed: int, version: int) -> tuple[int, int]:
        """(contains calls, state quads read) of a load with one figure changed."""
        with open_store(path) as store:
            store.store = counting = _CountingStore(store.store)
            graphs[changed] = fake_graph(changed, triples=5, version=version)
            stats = store.load(graphs, void=void)
            store.store, counting._store = counting._store, None  # the store alone again
        assert (stats.added, stats.replaced, stats.skipped) == (0, 1, 49)
        assert (stats.graphs_in_store, stats.triples_in_store) == (50, 49 * 20 + 5)
        return counting.contains, counting.state_quads_read

    assert reload(7, 1) == (0, 0)
    ox.Store(str(path)).flush()  # another program opens the store for writing: no copy then
    # one look-up per figure (no string read back); the changed figure's digest read
    assert reload(7, 2) == (50, 1)
    assert reload(7, 3) == (0, 0)
    with open_store(path) as store:
        assert figure_quads(store) == expected_quads(graphs)
        assert store.read_state()[graphs[7].iri] == (graphs[7].digest, 5)


def test_kept_digests_are_not_trusted_after_another_writer_or_an_interrupted_load(
        tmp_path: Path) -> None:
    path = tmp_path / "store"
    graphs = [fake_graph(i) for i in range(6)]
    with open_store(path) as store:
        store.load(graphs, void=void)
    assert (path / "rdfexport-known-digests").exists()
    # Another program drops figure 2 (its graph and its state) behind rdfexport's back.
    other = ox.Store(str(path))
    other.remove_graph(ox.NamedNode(graphs[2].iri))
    other.update(f"DELETE WHERE {{ GRAPH <{STATE_GRAPH}> {{ <{graphs[2].iri}> ?p ?o }} }}")
    del other
    with open_store(path) as store:
        stats = store.load(graphs, void=void)
        assert (stats.added, stats.skipped) == (1, 5)
        assert figure_quads(store) == expected_quads(graphs)

    # An interrupted load leaves no copy: the next load looks the figures up in the store.
    def interrupted() -> Iterator:  # type: ignore[type-arg]
        yield fake_graph(0, version=1)
        raise KeyboardInterrupt

    with open_store(path) as store:
        store.batch_figures = 1
        with pytest.raises(KeyboardInterrupt):
            store.load(interrupted(), void=void)
    assert not (path / "rdfexport-known-digests").exists()
    with open_store(path) as store:
        stats = store.load([fake_graph(0, version=1), *graphs[1:]], void=void)
        assert (stats.added, stats.replaced, stats.skipped) == (0, 0, 6)
        assert figure_quads(store) == expected_quads([fake_graph(0, version=1), *graphs[1:]])


def test_a_second_rdfexport_load_into_the_same_store_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path / "store"), pytest.raises(StoreError, match="in use by another"):
        open_store(tmp_path / "store")
    open_store(tmp_path / "store").close()  # released


OTHER_GRAPH = "http://example.org/not-rdfexport/wikipathways"


def add_other_graph(store) -> None:  # type: ignore[no-untyped-def]
    """A graph rdfexport did not load (WikiPathways' own data beside the figures), one whose
    name even looks like a figure's."""
    data = ('<http://example.org/wp1> <http://schema.org/name> "WP1" . '
            '<http://example.org/wp2> <http://schema.org/name> "WP2" .')
    for g in (OTHER_GRAPH, FIGURES + "not-loaded-by-rdfexport.html"):
        if hasattr(store, "put_graph"):
            store.update(f"INSERT DATA {{ GRAPH <{g}> {{ {data} }} }}")
        else:
            store.store.update(f"INSERT DATA {{ GRAPH <{g}> {{ {data} }} }}")


def graph_sizes(store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    r = store.query('SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } '
                    'FILTER(STRSTARTS(STR(?g), "https://pfocr.wikipathways.org/") '
                    '|| STRSTARTS(STR(?g), "http://example.org/")) } GROUP BY ?g')
    return {row[0].value: int(row[1].value) for row in r.rows}  # type: ignore[union-attr]


def test_prune_drops_exactly_the_figures_not_kept(store) -> None:  # type: ignore[no-untyped-def]
    graphs = [fake_graph(i) for i in range(8)]
    store.load(graphs, void=void)
    add_other_graph(store)
    before = graph_sizes(store)
    try:
        # Without prune nothing leaves; with a keep set of None neither.
        stats = store.load(graphs[:5], void=void)
        assert stats.pruned is None and len(store.read_state()) == 8
        stats = store.load(graphs[:5], void=void, prune=lambda: None)
        assert stats.pruned is None and not stats.void_written
        assert graph_sizes(store) == before
        # Figure 6 is kept by the caller (its file is there but unreadable); 5 and 7 are gone.
        stats = store.load(graphs[:5], void=void, prune=lambda: {graphs[6].iri})
        assert stats.pruned == 2 and stats.void_written
        assert (stats.graphs_in_store, stats.triples_in_store) == (6, 120)
        assert "2 figure graphs pruned" in stats.summary()
        after = graph_sizes(store)
        gone = {graphs[5].iri, graphs[7].iri}
        assert gone.isdisjoint(after)
        expected = {g: n for g, n in before.items() if g not in gone}
        expected[vocab.VOID_GRAPH] = after[vocab.VOID_GRAPH]
        expected[STATE_GRAPH] = 2 * 6
        assert after == expected  # every other graph, and the foreign ones, untouched
        assert set(store.read_state()) == {g.iri for g in graphs[:5]} | {graphs[6].iri}
        n = store.query(f"SELECT ?n WHERE {{ GRAPH <{vocab.VOID_GRAPH}> {{ ?d ?p ?n }} }}").rows
        assert int(n[0][0].value) == 120  # the VoID graph follows
        # Nothing left to prune: nothing changes; a pruned figure that comes back is added.
        again = store.load(graphs[:5], void=void, prune=lambda: {graphs[6].iri})
        assert (again.pruned, again.void_written) == (0, False)
        back = store.load(graphs, void=void, prune=lambda: set())
        assert (back.added, back.skipped, back.pruned) == (2, 6, 0)
        assert {q for q in figure_quads(store) if "not-loaded" not in q[0]} == \
            expected_quads(graphs)
        assert graph_sizes(store)[FIGURES + "not-loaded-by-rdfexport.html"] == 2
    finally:
        if hasattr(store, "put_graph"):
            store.update(f"DROP SILENT GRAPH <{OTHER_GRAPH}>")


def test_prune_never_runs_after_an_interrupted_load(store) -> None:  # type: ignore[no-untyped-def]
    graphs = [fake_graph(i) for i in range(6)]
    store.load(graphs, void=void)
    asked = []

    def interrupted() -> Iterator:  # type: ignore[type-arg]
        yield from graphs[:2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.load(interrupted(), void=void, prune=lambda: asked.append(1) or set())
    assert not asked and len(store.read_state()) == 6
    assert figure_quads(store) == expected_quads(graphs)


@pytest.mark.parametrize("kind", ["oxigraph", "virtuoso"])
def test_a_prune_stopped_half_way_is_finished_by_the_next(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """What a server that applies an update's operations one by one could leave: a figure whose
    digest says "pruned", its graph dropped or not. The next prune finishes; a load of the
    figure rewrites it (a tombstone digest never matches). (The embedded store prunes in one
    transaction: it cannot stop half-way.)"""
    store = open_test_store(kind, request, tmp_path)
    graphs = [fake_graph(i) for i in range(4)]
    store.load(graphs, void=void)
    ops: list[str] = []
    store.run_update = lambda sparql, what: ops.append(sparql)
    store.prune_graphs([graphs[2].iri, graphs[3].iri])
    del store.run_update  # the store's own again
    mark, drop = ops[0].split(" ;\n")[:2]
    assert "DROP SILENT GRAPH" in drop and graphs[2].iri in drop
    store.run_update(mark + " ;\n" + drop, "test")  # stopped after dropping graph 2
    assert store.read_state()[graphs[3].iri][0] == "pruned"
    back = store.load(graphs[:3] + graphs[3:], void=void)  # figure 3 is back: rewritten
    assert (back.replaced, back.skipped) == (2, 2)
    assert figure_quads(store) == expected_quads(graphs)
    store.run_update(mark + " ;\n" + drop, "test")
    stats = store.load(graphs[:2], void=void, prune=lambda: set())
    assert stats.pruned == 2 and set(store.read_state()) == {g.iri for g in graphs[:2]}
    assert figure_quads(store) == expected_quads(graphs[:2])
    store.close()
