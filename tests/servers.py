"""Real SPARQL servers for tests: Virtuoso (Debian ``virtuoso-opensource``) and the Oxigraph
server (PyPI ``oxigraph``), each started once per test session on free 127.0.0.1 ports in a
temporary directory and stopped at the end.

Use in a test module with ``from servers import virtuoso, oxigraph_server  # noqa: F401``.
A missing binary skips the test with the reason, except when ``RDFEXPORT_REQUIRE_SERVERS=1``
(CI), where it fails: CI installs every server, so nothing may be skipped there.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

# Virtuoso's ResultSetMaxRows in the test instance: small so that the row-cap test is fast and
# every bundled query that returns more rows than this exercises paging.
VIRTUOSO_MAX_ROWS = 500
VIRTUOSO_USER = "dba"
VIRTUOSO_PASSWORD = "dba"


from conftest import require_binary  # noqa: E402 - the one skip-or-fail rule


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PortTaken(f"server exited during start-up ({proc.args}):\n{_tail(log)}")
        try:
            if httpx.get(url, headers={"Accept": "application/sparql-results+json"},
                         timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    _terminate(proc)
    raise RuntimeError(f"server not ready after {timeout} s at {url}:\n{_tail(log)}")


def _tail(log: Path, n: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@dataclass
class Server:
    name: str
    base: str
    query_url: str
    update_url: str
    gsp_url: str
    directory: Path
    proc: subprocess.Popen[bytes]
    user: str | None = None
    password: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def sparql(self, query: str) -> list[dict[str, str]]:
        """Run a SELECT directly over HTTP (test helper, independent of rdfexport)."""
        auth = httpx.DigestAuth(self.user, self.password) if self.user else None
        r = httpx.post(self.query_url, data={"query": query}, auth=auth,
                       headers={"Accept": "application/sparql-results+json"}, timeout=60)
        r.raise_for_status()
        return [{k: v["value"] for k, v in b.items()} for b in r.json()["results"]["bindings"]]

    def update(self, update: str) -> None:
        auth = httpx.DigestAuth(self.user, self.password) if self.user else None
        r = httpx.post(self.update_url, data={"update": update}, auth=auth, timeout=60)
        r.raise_for_status()


class PortTaken(RuntimeError):
    """The server died at start-up, most likely because its free port was taken meanwhile."""


def _retrying(start):  # type: ignore[no-untyped-def]
    """Start again on new ports when the server dies at start-up (another process may take a
    port between free_port() and the server binding it, on a busy machine)."""

    def wrapper(directory: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        for attempt in range(3):
            try:
                return start(directory / f"try{attempt}" if attempt else directory,
                             *args, **kwargs)
            except PortTaken:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    return wrapper


@_retrying
def start_virtuoso(directory: Path, max_rows: int = VIRTUOSO_MAX_ROWS) -> Server:
    binary = require_binary("virtuoso-t", "Virtuoso server, Debian package virtuoso-opensource")
    http, sql = free_port(), free_port()
    db = directory / "db"
    db.mkdir(parents=True, exist_ok=True)
    (directory / "vsp").mkdir(parents=True, exist_ok=True)
    buffers = 20000  # ~160 MB: plenty for test loads, kind to 2-core CI machines
    (directory / "virtuoso.ini").write_text(f"""\
[Database]
DatabaseFile       = {db}/virtuoso.db
ErrorLogFile       = {db}/virtuoso.log
LockFile           = {db}/virtuoso.lck
TransactionFile    = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {db}/virtuoso-temp.db
TransactionFile    = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = 127.0.0.1:{sql}
DisableUnixSocket    = 1
DisableTcpSocket     = 0
MaxClientConnections = 10
CheckpointInterval   = 60
O_DIRECT             = 0
CaseMode             = 2
DirsAllowed          = .
NumberOfBuffers      = {buffers}
MaxDirtyBuffers      = {buffers * 3 // 4}
ThreadsPerQuery      = 2
AsyncQueueMaxThreads = 4
MaxQueryMem          = 512M
VectorSize           = 1000
MaxVectorSize        = 1000000

[HTTPServer]
ServerPort           = 127.0.0.1:{http}
ServerRoot           = {directory}/vsp
MaxClientConnections = 10
ServerThreads        = 10
MaxKeepAlives        = 10
KeepAliveTimeout     = 10
Charset              = UTF-8
EnabledGzipContent   = 1

[SPARQL]
ResultSetMaxRows           = {max_rows}
MaxQueryCostEstimationTime = 400
MaxQueryExecutionTime      = 60
""")
    log = directory / "virtuoso.stdout"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "+foreground", "+configfile", str(directory / "virtuoso.ini")],
            cwd=directory, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http}"
    _wait_ready(proc, f"{base}/sparql?query=ASK%7B%7D", 120, db / "virtuoso.log")
    return Server("virtuoso", base, f"{base}/sparql-auth", f"{base}/sparql-auth",
                  f"{base}/sparql-graph-crud-auth", directory, proc,
                  VIRTUOSO_USER, VIRTUOSO_PASSWORD, {"sql_port": sql, "max_rows": max_rows})


def stop_virtuoso(server: Server) -> None:
    isql = shutil.which("isql-vt")
    if isql and server.proc.poll() is None:
        try:  # clean shutdown (checkpoint); SIGTERM below if it did not work
            subprocess.run([isql, f"127.0.0.1:{server.extra['sql_port']}", server.user or "dba",
                            server.password or "dba", "-K"], capture_output=True, timeout=30,
                           check=False)
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
    _terminate(server.proc)


@_retrying
def start_oxigraph(directory: Path) -> Server:
    binary = require_binary("oxigraph", "Oxigraph server: pip install oxigraph, in the dev extra")
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "oxigraph.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "serve", "--location", str(directory / "data"), "--bind", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    _wait_ready(proc, f"{base}/query?query=ASK%7B%7D", 60, log)
    return Server("oxigraph", base, f"{base}/query", f"{base}/update", f"{base}/store",
                  directory, proc)


def stop_oxigraph(server: Server) -> None:
    _terminate(server.proc)


# One instance of each per session, even when several test modules import the fixtures (each
# import registers its own fixture definition; the first one to run starts the server).
_running: dict[str, Server] = {}


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    owner = "virtuoso" not in _running
    if owner:
        _running["virtuoso"] = start_virtuoso(tmp_path_factory.mktemp("virtuoso"))
    yield _running["virtuoso"]
    if owner:
        stop_virtuoso(_running.pop("virtuoso"))


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    owner = "oxigraph" not in _running
    if owner:
        _running["oxigraph"] = start_oxigraph(tmp_path_factory.mktemp("oxigraph"))
    yield _running["oxigraph"]
    if owner:
        stop_oxigraph(_running.pop("oxigraph"))


# -- hand-made figure graphs (the same shape as rdfexport.graph.FigureGraph) -------------------

@dataclass(frozen=True)
class FakeFigure:
    figid: str
    path: str


@dataclass(frozen=True)
class FakeGraph:
    iri: str
    quads: tuple  # type: ignore[type-arg]
    figure: FakeFigure

    @property
    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(self.nquads()).hexdigest()

    def __len__(self) -> int:
        return len(self.quads)

    def nquads(self) -> bytes:
        import pyoxigraph as ox

        return ox.serialize(self.quads, format=ox.RdfFormat.N_QUADS) or b""


def fake_graph(n: int, triples: int = 20, version: int = 0) -> FakeGraph:
    """Figure ``n``: ``triples`` triples, one shared gene node, values that change with
    ``version``."""
    import pyoxigraph as ox

    figid = f"PMC{n}__fig{n}"
    iri = f"https://pfocr.wikipathways.org/figures/{figid}.html"
    g, s = ox.NamedNode(iri), ox.NamedNode(iri)
    schema = "http://schema.org/"
    quads = [ox.Quad(s, ox.NamedNode(schema + "name"), ox.Literal(f"Figure {n} v{version}"), g),
             ox.Quad(s, ox.NamedNode(schema + "mentions"),
                     ox.NamedNode("https://identifiers.org/ncbigene/7157"), g)]
    for t in range(triples - 2):
        quads.append(ox.Quad(s, ox.NamedNode(schema + "keywords"),
                             ox.Literal(f"kw {n}.{t}.{version}"), g))
    return FakeGraph(iri, tuple(sorted(quads, key=str)), FakeFigure(figid, f"_figures/{figid}.md"))


def reset(server: Server) -> None:
    """Drop every graph rdfexport may have written (figures, state, VoID, staging)."""
    rows = server.sparql('SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } '
                         'FILTER(STRSTARTS(STR(?g), "https://pfocr.wikipathways.org/")) }')
    if rows:
        server.update(" ;\n".join(f"DROP SILENT GRAPH <{r['g']}>" for r in rows))


def open_test_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
                    **kwargs: object):  # type: ignore[no-untyped-def]
    """A fresh, empty store of ``kind`` ("embedded", "oxigraph" or "virtuoso")."""
    from rdfexport.stores import open_store

    if kind == "embedded":
        return open_store(tmp_path / "store")
    server: Server = request.getfixturevalue("oxigraph_server" if kind == "oxigraph"
                                             else "virtuoso")
    reset(server)
    return open_store(endpoint=server.query_url, user=server.user, password=server.password,
                      **kwargs)  # type: ignore[arg-type]


# -- a real, misbehaving HTTP hop in front of a real server ----------------------------------------

class FlakyProxy:
    """A loopback HTTP proxy in front of ``target`` that misbehaves on chosen requests.

    ``plan`` maps the 1-based number of a request to an action: ``"503"`` (answer 503 without
    forwarding), ``"drop"`` (close the connection without an answer), ``"truncate"`` (forward only
    the first half of the body, as a connection cut mid-upload would). Other requests pass.
    ``methods`` maps an HTTP method to an action for every request of that method.
    ``log`` records (method, path, action) of every request.
    """

    def __init__(self, target: str, plan: dict[int, str] | None = None,
                 methods: dict[str, str] | None = None) -> None:
        import http.server
        import threading

        self.target = target.rstrip("/")
        self.plan = dict(plan or {})
        self.methods = dict(methods or {})
        self.log: list[tuple[str, str, str]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                n = len(proxy.log) + 1
                action = proxy.plan.get(n, proxy.methods.get(self.command, "pass"))
                proxy.log.append((self.command, self.path, action))
                if action == "hang":  # hold the request until the client goes away
                    time.sleep(60)
                    self.close_connection = True
                    return
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action == "503":
                    self.send_response(503, "Service Unavailable")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if action == "truncate":
                    body = body[: len(body) // 2]
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                r = httpx.request(self.command, proxy.target + self.path, headers=headers,
                                  content=body, timeout=60)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, server_url: str) -> str:
        """``server_url`` (an URL of the target) as seen through the proxy."""
        return self.base + server_url[len(self.target):]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):  # type: ignore[no-untyped-def]  # -> Self
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
