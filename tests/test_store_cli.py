"""`rdfexport load` and `rdfexport query`, in-process with click's CliRunner, on the real sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SAMPLE
from servers import free_port, oxigraph_server, reset, virtuoso  # noqa: F401  (fixtures)

from rdfexport.cli import main
from rdfexport.queries import examples

FAST = ["--no-validate", "--no-progress"]


def cli(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A private copy of the sample, so a test can change a figure."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "site"))


def test_load_twice_changes_nothing_then_one_changed_figure_is_replaced(
        site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = cli("load", site, "--store", store, *FAST)
    assert first.exit_code == 0, first.output
    assert "130 figures: 130 added, 0 replaced, 0 unchanged" in first.stderr
    assert "store holds 130 figure graphs" in first.stderr
    count = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    before = cli("query", "--store", store, "--format", "csv", count).stdout

    second = cli("load", site, "--store", store, *FAST)
    assert second.exit_code == 0
    assert "0 added, 0 replaced, 130 unchanged; 0 triples written" in second.stderr
    assert cli("query", "--store", store, "--format", "csv", count).stdout == before

    figure = site / "_figures" / "PMC10029719__cs3c00075_0011.md"
    figure.write_text(figure.read_text(encoding="utf-8").replace(
        "figtitle: NH-Carbazole", "figtitle: Changed NH-Carbazole"), encoding="utf-8")
    third = cli("load", site, "--store", store, *FAST)
    assert "0 added, 1 replaced, 129 unchanged" in third.stderr
    titles = cli("query", "--store", store, "--format", "tsv",
                 'SELECT ?t WHERE { <https://pfocr.wikipathways.org/figures/'
                 'PMC10029719__cs3c00075_0011.html> <http://purl.org/dc/elements/1.1/title> ?t }')
    assert titles.stdout.count("Carbazole") == 1 and "Changed NH-Carbazole" in titles.stdout


def test_load_validates_like_convert(tmp_path: Path) -> None:
    figure = SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md"
    result = cli("load", figure, "--store", tmp_path / "s", "--no-progress")
    assert result.exit_code in (0, 1)
    assert "validation:" in result.stderr and "1 figures: 1 added" in result.stderr


def test_load_bad_file_is_reported_and_the_rest_loaded(tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "_figures"
    bad.mkdir(parents=True)
    (bad / "PMC1__x.md").write_text("---\nfigid: [unclosed\n---\n", encoding="utf-8")
    good = SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md"
    result = cli("load", bad.parent, good, "--store", tmp_path / "s", *FAST)
    assert result.exit_code == 2
    assert "PMC1__x.md" in result.stderr and "1 figures: 1 added" in result.stderr


def test_progress_bar_when_asked(tmp_path: Path) -> None:
    figure = SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md"
    result = cli("load", figure, "--store", tmp_path / "s", "--no-validate", "--progress")
    assert result.exit_code == 0 and "loading" in result.stderr


def test_load_into_oxigraph_server_twice(oxigraph_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    reset(oxigraph_server)
    url = oxigraph_server.query_url
    first = cli("load", SAMPLE, "--endpoint", url, *FAST)
    assert first.exit_code == 0, first.output
    assert "130 added" in first.stderr and f"SPARQL endpoint {url}" in first.stderr
    second = cli("load", SAMPLE, "--endpoint", url, *FAST)
    assert "130 unchanged" in second.stderr


def test_query_example_same_csv_from_embedded_and_virtuoso(
        virtuoso, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    reset(virtuoso)
    env = {"RDFEXPORT_PASSWORD": virtuoso.password}
    loaded = cli("load", SAMPLE, "--endpoint", virtuoso.query_url, "--user", virtuoso.user,
                 *FAST, env=env)
    assert loaded.exit_code == 0, loaded.output
    assert virtuoso.password not in loaded.output
    cli("load", SAMPLE, "--store", tmp_path / "s", *FAST)
    for name in ("figures-per-year", "figures-per-organism"):
        remote = cli("query", "--endpoint", virtuoso.query_url, "--user", virtuoso.user,
                     "--example", name, "--format", "csv", env=env)
        local = cli("query", "--store", tmp_path / "s", "--example", name, "--format", "csv")
        assert remote.exit_code == local.exit_code == 0
        assert remote.stdout == local.stdout and remote.stdout.count("\n") > 5


def test_virtuoso_anonymous_endpoint_with_a_user_writes_through_sparql_auth(
        virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    reset(virtuoso)
    result = cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md", "--endpoint",
                 virtuoso.base + "/sparql", "--user", virtuoso.user, *FAST,
                 env={"RDFEXPORT_PASSWORD": virtuoso.password})
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stderr


def test_virtuoso_anonymous_write_is_refused_with_a_fix(virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    reset(virtuoso)
    result = cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md", "--endpoint",
                 virtuoso.base + "/sparql", "--retries", "0", *FAST)
    assert result.exit_code == 3
    assert "--user" in result.stderr and "RDFEXPORT_PASSWORD" in result.stderr, result.stderr


def test_wrong_password_exit_3_with_a_clear_message(virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    secret = "wrong-secret-1234"
    result = cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md", "--endpoint",
                 virtuoso.query_url, "--user", "dba", *FAST, env={"RDFEXPORT_PASSWORD": secret})
    assert result.exit_code == 3
    assert "HTTP 401" in result.stderr and "'dba'" in result.stderr
    assert "RDFEXPORT_PASSWORD" in result.stderr and secret not in result.output


def test_user_without_password_variable_is_a_usage_error(virtuoso) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    result = cli("query", "--endpoint", virtuoso.query_url, "--user", "dba", "ASK {}",
                 env={"RDFEXPORT_PASSWORD": None})  # type: ignore[dict-item]
    assert result.exit_code == 2 and "RDFEXPORT_PASSWORD" in result.stderr


def test_credentials_in_the_url_are_refused_and_not_echoed() -> None:
    result = cli("query", "--endpoint", "http://dba:s3cret-pw@127.0.0.1:1/sparql", "ASK {}")
    assert result.exit_code == 2 and "RDFEXPORT_PASSWORD" in result.stderr
    assert "s3cret-pw" not in result.output


def test_server_down_exit_3_with_a_clear_message() -> None:
    url = f"http://127.0.0.1:{free_port()}/sparql"
    result = cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md",
                 "--endpoint", url, "--retries", "1", *FAST)
    assert result.exit_code == 3
    assert f"cannot reach {url}" in result.stderr and "server is running" in result.stderr
    result = cli("query", "--endpoint", url, "--retries", "0", "ASK {}")
    assert result.exit_code == 3 and "cannot reach" in result.stderr


def test_list_examples_and_show() -> None:
    listed = cli("query", "--list-examples")
    assert listed.exit_code == 0
    for name, ex in examples().items():
        assert name in listed.stdout and ex.description in listed.stdout
    shown = cli("query", "--example", "metadata", "--show")
    assert shown.stdout.startswith("# Dataset metadata") and "PREFIX void:" in shown.stdout


def test_bind_replaces_the_values_line_and_refuses_what_the_query_lacks(tmp_path: Path) -> None:
    shown = cli("query", "--example", "figures-with-gene-symbol", "--bind", "symbol=TP53",
                "--bind", 'symbol=odd "name"', "--show")
    assert shown.exit_code == 0
    assert 'VALUES ?symbol { "TP53" "odd \\"name\\"" }' in shown.stdout
    assert '"PIK3CA"' not in shown.stdout
    taxon = cli("query", "--example", "top-genes-for-organism", "--bind",
                "taxon=obo:NCBITaxon_10090", "--show")
    assert "VALUES ?taxon { obo:NCBITaxon_10090 }" in taxon.stdout
    gene = cli("query", "--example", "figures-with-gene-id", "--bind",
               "gene=https://identifiers.org/ncbigene/7157", "--show")
    assert "VALUES ?gene { <https://identifiers.org/ncbigene/7157> }" in gene.stdout
    lacking = cli("query", "--example", "figures-of-article", "--bind", "pmcid=PMC1", "--show")
    assert lacking.exit_code == 2 and "VALUES ?pmcid" in lacking.stderr and "bind one of: id" \
        in lacking.stderr
    malformed = cli("query", "--example", "metadata", "--bind", "TP53", "--show")
    assert malformed.exit_code == 2 and "NAME=VALUE" in malformed.stderr
    cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md", "--store",
        tmp_path / "s", *FAST)
    ran = cli("query", "--store", tmp_path / "s", "--example", "figures-of-article", "--bind",
              "id=PMC10029719", "--format", "csv")
    assert ran.exit_code == 0 and "PMC10029719__cs3c00075_0011" in ran.stdout


def test_query_usage_errors(tmp_path: Path) -> None:
    cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md", "--store",
        tmp_path / "s", *FAST)
    assert cli("query", "--store", tmp_path / "s").exit_code == 2
    nope = cli("query", "--store", tmp_path / "s", "--example", "nope")
    assert nope.exit_code == 2 and "metadata" in nope.stderr
    bad = cli("query", "--store", tmp_path / "s", "SELECT WHERE {")
    assert bad.exit_code == 2 and "syntax" in bad.stderr
    update = cli("query", "--store", tmp_path / "s", "DROP ALL")
    assert update.exit_code == 2 and "update" in update.stderr
    missing = cli("query", "--store", tmp_path / "none", "ASK {}")
    assert missing.exit_code == 3 and "rdfexport load" in missing.stderr


def test_query_formats_from_a_file(tmp_path: Path) -> None:
    cli("load", SAMPLE / "_figures" / "PMC10029719__cs3c00075_0011.md", "--store",
        tmp_path / "s", *FAST)
    q = tmp_path / "q.rq"
    q.write_text('SELECT ?t WHERE { ?f <http://purl.org/dc/elements/1.1/title> ?t . '
                 'FILTER(CONTAINS(?t, "Carbazole") && STRSTARTS(STR(?f), '
                 '"https://pfocr.wikipathways.org/figures/")) }', encoding="utf-8")
    import json

    for fmt, check in [
        ("table", lambda out: "(1 row)" in out),
        ("csv", lambda out: out.startswith("t\nNH-Carbazole")),  # (CliRunner shows \r\n as \n)
        ("tsv", lambda out: out.startswith("?t\n\"NH-Carbazole") and out.count("@en") == 1),
        ("json", lambda out: json.loads(out)["results"]["bindings"][0]["t"]["xml:lang"] == "en"),
    ]:
        result = cli("query", "--store", tmp_path / "s", "--file", q, "--format", fmt)
        assert result.exit_code == 0 and check(result.stdout), (fmt, result.stdout)
        if fmt == "csv":
            assert result.stdout_bytes.startswith(b"t\r\n")  # SPARQL 1.1 CSV: CRLF
    ask = cli("query", "--store", tmp_path / "s", "ASK { ?s ?p ?o }")
    assert ask.stdout == "yes\n"


@pytest.mark.slow
def test_killed_virtuoso_load_completes_on_rerun(virtuoso, site: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Kill `rdfexport load` half-way through replacing every figure on Virtuoso (between a
    staging PUT and its MOVE); a rerun finishes the job: every graph the new version, once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from servers import FlakyProxy

    from rdfexport.pipeline import build_graphs

    reset(virtuoso)
    env = {**os.environ, "RDFEXPORT_PASSWORD": virtuoso.password}
    old = Path(shutil.copytree(site, site.parent / "old"))
    for page in (old / "_figures").iterdir():
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("\nnumber: ", "\nnumber: OLD", 1), encoding="utf-8")
    loaded = cli("load", old, "--endpoint", virtuoso.query_url, "--user", virtuoso.user,
                 *FAST, env={"RDFEXPORT_PASSWORD": virtuoso.password})
    assert loaded.exit_code == 0 and "130 added" in loaded.stderr

    # request 1 probes, 2 reads the state, then 50 PUTs, a count and an update per batch:
    # request 80 is a PUT in the second batch, after the first batch was moved into place.
    with FlakyProxy(virtuoso.base, {80: "hang"}) as proxy:
        cmd = [sys.executable, "-m", "rdfexport", "load", str(site), "--endpoint",
               proxy.url(virtuoso.query_url), "--user", virtuoso.user, *FAST]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(proxy.log) < 80 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proxy.log[79][0] == "PUT"
    old_numbers = ('SELECT (COUNT(DISTINCT ?f) AS ?n) WHERE { ?f '
                  '<http://schema.org/position> ?t FILTER(STRSTARTS(STR(?t), "OLD")) }')
    assert 0 < int(virtuoso.sparql(old_numbers)[0]["n"]) < 130  # really half-way

    again = cli("load", site, "--endpoint", virtuoso.query_url, "--user", virtuoso.user, *FAST,
                env={"RDFEXPORT_PASSWORD": virtuoso.password})
    assert again.exit_code == 0, again.output
    assert "0 added" in again.stderr and "unchanged" in again.stderr
    assert int(virtuoso.sparql(old_numbers)[0]["n"]) == 0
    graphs = [g for g in build_graphs([site])]
    sizes = {r["g"]: int(r["n"]) for r in virtuoso.sparql(
        'SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } FILTER(STRSTARTS(STR(?g), '
        '"https://pfocr.wikipathways.org/")) } GROUP BY ?g')}
    state = sizes.pop("https://pfocr.wikipathways.org/rdfexport/load-state")
    sizes.pop("https://pfocr.wikipathways.org/void")
    assert sizes == {g.iri: len(g) for g in graphs}  # no staging graph left, no stale triple
    assert state == 2 * len(graphs)
    final = cli("load", site, "--endpoint", virtuoso.query_url, "--user", virtuoso.user, *FAST,
                env={"RDFEXPORT_PASSWORD": virtuoso.password})
    assert "0 added, 0 replaced, 130 unchanged" in final.stderr


# -- --prune -------------------------------------------------------------------------------------

SITE = "https://pfocr.wikipathways.org/"
STATE = SITE + "rdfexport/load-state"
VOID = SITE + "void"
OTHER = "http://example.org/not-rdfexport/wikipathways"
REMOVED = ["PMC100003__mb2410470011", "PMC10029719__cs3c00075_0011"]


class Target:
    """Where a CLI test loads: the embedded store, or a real server (its options and env)."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self.env: dict[str, str] | None = None
        if kind == "embedded":
            self.path = tmp_path / "store"
            self.args: list[object] = ["--store", self.path]
            self.server = None
            return
        self.server = request.getfixturevalue("oxigraph_server" if kind == "oxigraph"
                                              else "virtuoso")
        reset(self.server)
        self.args = ["--endpoint", self.server.query_url]
        if self.server.user:
            self.args += ["--user", self.server.user]
            self.env = {"RDFEXPORT_PASSWORD": self.server.password}

    def load(self, *args: object):  # type: ignore[no-untyped-def]
        return cli("load", *args, *self.args, *FAST, env=self.env)

    def update(self, sparql: str) -> None:
        if self.server is not None:
            self.server.update(sparql)
            return
        from rdfexport.stores import open_store

        with open_store(self.path) as store:
            store.store.update(sparql)  # type: ignore[attr-defined]

    def select(self, sparql: str) -> list[tuple[str, ...]]:
        from rdfexport.stores import open_store

        if self.server is not None:
            return [tuple(r.values()) for r in self.server.sparql(sparql)]
        with open_store(self.path, read_only=True) as store:
            return [tuple(t.value for t in row) for row in store.query(sparql).rows]  # type: ignore[union-attr]

    def sizes(self) -> dict[str, int]:
        """Triples per graph: rdfexport's and the foreign one (not the server's own)."""
        return {g: int(n) for g, n in self.select(
            'SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } '
            f'FILTER(STRSTARTS(STR(?g), "{SITE}") || STR(?g) = "{OTHER}") }} GROUP BY ?g')}

    def state(self) -> dict[str, str]:
        return dict(self.select(  # type: ignore[arg-type]
            f"SELECT ?g ?d WHERE {{ GRAPH <{STATE}> {{ ?g <{SITE}rdfexport#digest> ?d }} }}"))

    def void_counts(self) -> tuple[int, int]:
        rows = self.select(f"SELECT ?e ?t WHERE {{ GRAPH <{VOID}> {{ ?d "
                           "<http://rdfs.org/ns/void#entities> ?e ; "
                           "<http://rdfs.org/ns/void#triples> ?t } }")
        return int(rows[0][0]), int(rows[0][1])


@pytest.fixture(params=["embedded", "oxigraph", "virtuoso"])
def target(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    t = Target(request.param, request, tmp_path)
    yield t
    if t.server is not None:
        t.server.update(f"DROP SILENT GRAPH <{OTHER}>")


def figure(figid: str) -> str:
    return f"{SITE}figures/{figid}.html"


def test_prune_drops_removed_figures_and_nothing_else(target: Target, site: Path) -> None:
    first = target.load(site)
    assert first.exit_code == 0, first.output
    target.update(f'INSERT DATA {{ GRAPH <{OTHER}> {{ <http://example.org/wp> '
                  '<http://schema.org/name> "WikiPathways data" } }')
    before, state = target.sizes(), target.state()
    assert len(state) == 130 and before[OTHER] == 1
    for figid in REMOVED:
        (site / "_figures" / f"{figid}.md").unlink()

    kept = target.load(site)  # without --prune the removed figures stay
    assert kept.exit_code == 0, kept.output
    assert "128 figures: 0 added, 0 replaced, 128 unchanged;" in kept.stderr
    assert "pruned" not in kept.stderr
    assert target.sizes() == before and target.state() == state

    pruned = target.load(site, "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert ("128 figures: 0 added, 0 replaced, 128 unchanged, 2 figure graphs pruned;"
            in pruned.stderr)
    assert "store holds 128 figure graphs" in pruned.stderr
    after = target.sizes()
    gone = {figure(f) for f in REMOVED}
    assert gone <= set(before) and gone.isdisjoint(after)
    assert target.state() == {g: d for g, d in state.items() if g not in gone}
    untouched = {g: n for g, n in before.items() if g not in gone and g not in (STATE, VOID)}
    assert {g: n for g, n in after.items() if g not in (STATE, VOID)} == untouched
    assert after[OTHER] == 1  # another program's graph
    figures = {g: n for g, n in after.items() if g.startswith(SITE + "figures/")}
    assert target.void_counts() == (128, sum(figures.values()))  # what the store holds

    again = target.load(site, "--prune")
    assert "128 unchanged, 0 figure graphs pruned;" in again.stderr
    assert target.sizes() == after


def test_prune_refused_with_shard_and_with_inputs_that_hide_figures(
        site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shard = cli("load", site, "--store", store, "--shard", "1/2", "--prune", *FAST)
    assert shard.exit_code == 2
    assert "--prune cannot be used with --shard" in shard.stderr
    assert "only part of the input" in shard.stderr
    assert not store.exists()  # refused before anything was loaded
    missing = cli("load", site, tmp_path / "typo", "--store", store, "--prune", *FAST)
    assert missing.exit_code == 2 and "typo: no such file or folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("load", tmp_path / "empty", "--store", store, "--prune", *FAST)
    assert empty.exit_code == 2 and "no figure file" in empty.stderr
    assert not store.exists()


def test_prune_keeps_the_figures_of_files_that_failed_to_read(site: Path, tmp_path: Path) -> None:
    """A broken file is not a removed figure: its graph (and state) stays. Its figid is its file
    name, or the figid written in it when it was renamed."""
    store = tmp_path / "store"
    assert cli("load", site, "--store", store, *FAST).exit_code == 0
    figures = site / "_figures"
    binary = figures / "PMC10025411__fncel-17-1105247-g0001.md"
    binary.write_bytes(b"\x00\xff garbage")  # nothing in it names a figid
    renamed = figures / "PMC10029719__cs3c00075_0011.md"
    text = renamed.read_text(encoding="utf-8").replace("\nfigtitle:", "\nfigtitle: [unclosed\nx:")
    renamed.unlink()
    (figures / "renamed-and-broken.md").write_text(text, encoding="utf-8")
    (figures / "PMC100003__mb2410470011.md").unlink()  # removed
    result = cli("load", site, "--store", store, "--prune", *FAST)
    assert result.exit_code == 2, result.output
    assert "2 files failed" in result.stderr and "1 figure graphs pruned" in result.stderr
    assert "store holds 129 figure graphs" in result.stderr
    held = cli("query", "--store", store, "--format", "tsv",
               f"SELECT ?g WHERE {{ GRAPH <{STATE}> {{ ?g ?p ?o }} }}").stdout
    assert figure("PMC10025411__fncel-17-1105247-g0001") in held
    assert figure("PMC10029719__cs3c00075_0011") in held
    assert figure("PMC100003__mb2410470011") not in held
