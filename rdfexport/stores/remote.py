"""Any SPARQL 1.1 server: Query and Update over HTTP, graphs over the Graph Store Protocol.

Writes go graph by graph over GSP in batches of figures; after each batch one SPARQL Update
records the digests of the figures just written (and, where a PUT is not atomic, moves staging
graphs into place first). Idempotent requests (queries, PUTs) are retried on connection errors
and 5xx answers with exponential backoff; a batch whose update failed is redone whole, from the
PUTs, so a retry can never apply a ``MOVE`` twice.

Server quirks live in subclasses: :mod:`rdfexport.stores.virtuoso` and :class:`OxigraphServer`
below. :func:`open_remote` asks the server who it is (the ``Server`` header) and picks one.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Sequence
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pyoxigraph as ox

from rdfexport.errors import StoreError, UsageError
from rdfexport.stores.base import (
    DIGEST,
    STATE_GRAPH,
    STATE_QUERY,
    TRIPLES,
    BaseStore,
    GraphLike,
    QueryResult,
    forget_state_sparql,
    paged_query,
    query_form,
    size,
    staging_graph,
)

USER_AGENT = "rdfexport (+https://pfocr.wikipathways.org/)"
SPARQL_JSON = "application/sparql-results+json"


class RemoteStore(BaseStore):
    """A generic SPARQL 1.1 server. PUTs go to a staging graph, then ``MOVE`` (safe when a failed
    PUT is not atomic, as on Virtuoso); subclasses for servers known to be atomic skip that."""

    flavor = "generic"
    atomic_put = False
    graph_content_type = "text/turtle"  # N-Triples lines are Turtle too; every GSP takes Turtle
    batch_figures = 50
    batch_triples = 50_000

    def __init__(self, endpoint: str, *, graph_store: str | None = None,
                 update_endpoint: str | None = None, user: str | None = None,
                 password: str | None = None, auth: str = "digest", retries: int = 4,
                 backoff: float = 0.5, timeout: float = 120.0,
                 client: httpx.Client | None = None) -> None:
        _check_url(endpoint, "--endpoint")
        self._secrets = (password,) if password else ()
        self.endpoint = endpoint
        self.user = user
        self.update_endpoint = update_endpoint or self.default_update_endpoint(endpoint)
        self.graph_store = graph_store or self.default_graph_store(endpoint)
        if graph_store:
            _check_url(graph_store, "--graph-store")
        if update_endpoint:
            _check_url(update_endpoint, "--update-endpoint")
        self.retries = max(0, retries)
        self.backoff = backoff
        self.target = f"SPARQL endpoint {endpoint}"
        if user is not None and password is None:
            raise UsageError(f"--user {user} given but RDFEXPORT_PASSWORD is not set",
                             fix="export RDFEXPORT_PASSWORD=... (the password is only read from "
                             "the environment)")
        credentials: httpx.Auth | None = None
        if user is not None and password is not None:
            if auth == "basic":
                credentials = httpx.BasicAuth(user, password)
            elif auth == "digest":
                credentials = httpx.DigestAuth(user, password)
            else:
                raise UsageError(f"unknown --auth {auth!r}", fix="use --auth basic or digest")
        self.client = client or httpx.Client(
            auth=credentials, timeout=timeout, headers={"User-Agent": USER_AGENT},
            follow_redirects=False)
        if client is not None and credentials is not None:
            self.client.auth = credentials

    # -- endpoints ---------------------------------------------------------------------------
    def default_update_endpoint(self, endpoint: str) -> str:
        return endpoint

    def default_graph_store(self, endpoint: str) -> str | None:
        return None

    def _gsp(self) -> str:
        if not self.graph_store:
            raise UsageError(
                f"no Graph Store Protocol URL for {self.endpoint}",
                fix="pass --graph-store URL (e.g. http://host/store for Oxigraph, "
                "http://host:8890/sparql-graph-crud-auth for Virtuoso)")
        return self.graph_store

    # -- HTTP --------------------------------------------------------------------------------
    def request(self, method: str, url: str, *, what: str, retry: bool = True,
                **kwargs: object) -> httpx.Response:
        attempts = (self.retries + 1) if retry else 1
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            try:
                response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as err:
                if not last:
                    time.sleep(self.backoff * 2 ** attempt)
                    continue
                raise StoreError(
                    f"cannot reach {_origin(url)} ({what}): {_describe(err)}",
                    fix="check that the server is running and that the URL and port are right"
                    + (f"; gave up after {attempts} attempts" if attempts > 1 else "")) from None
            if response.status_code >= 500 and not last:
                time.sleep(self.backoff * 2 ** attempt)
                continue
            if response.status_code in (401, 403):
                raise StoreError(self._auth_problem(url, response, what), fix=self._auth_fix())
            if response.status_code >= 400:
                raise StoreError(
                    f"{_origin(url)} refused {what}: HTTP {response.status_code} "
                    f"{_short(_redact(response.text, response, self._secrets))}",
                    fix="the server's own words are quoted; check the URL, the query or data "
                    "sent, and the server log")
            return response
        raise AssertionError("unreachable")

    def _auth_problem(self, url: str, response: httpx.Response, what: str) -> str:
        who = f"user {self.user!r}" if self.user else "anonymous access"
        return (f"{_origin(url)} refused {what} for {who}: HTTP {response.status_code} "
                f"{'(wrong user or password?)' if self.user else '(authentication required)'}")

    def _auth_fix(self) -> str:
        return ("check --user and the RDFEXPORT_PASSWORD environment variable, and --auth "
                "(basic or digest; Virtuoso needs digest)")

    def sparql_select(self, sparql: str, what: str = "a query") -> httpx.Response:
        return self.request("POST", self.endpoint, what=what,
                            data={"query": sparql, **self.query_params()},
                            headers={"Accept": SPARQL_JSON})

    def query_params(self) -> dict[str, str]:
        return {}

    def update(self, sparql: str, what: str = "an update", retry: bool = True) -> None:
        self.request("POST", self.update_endpoint, what=what, retry=retry,
                     data={"update": sparql})

    def probe(self) -> httpx.Response:
        """An ``ASK {}`` that checks the endpoint answers and the credentials work."""
        return self.sparql_select("ASK {}", "a connection check")

    # -- state -------------------------------------------------------------------------------
    def read_state(self) -> dict[str, tuple[str, int]]:
        result = self.query(STATE_QUERY)
        state: dict[str, tuple[str, int]] = {}
        for g, d, n in result.rows:
            if g is not None and d is not None:
                state[g.value] = (d.value, _int(n))
        return state

    def loaded_graphs(self) -> set[str]:
        result = self.query(f"SELECT DISTINCT ?g WHERE {{ GRAPH <{STATE_GRAPH}> "
                            f"{{ ?g <{DIGEST}> ?d }} }}")
        return {row[0].value for row in result.rows if row[0] is not None}

    def run_update(self, sparql: str, what: str) -> None:
        # Retried: every operation of a prune (DELETE/INSERT, DROP SILENT) may be applied twice.
        self.update(sparql, what)

    def has_graph(self, iri: str) -> bool:
        r = self.sparql_select(f"ASK {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}", "a graph check")
        return bool(r.json().get("boolean"))

    # -- writing -----------------------------------------------------------------------------
    def graph_body(self, quads: Sequence[ox.Quad]) -> bytes:
        body = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES) or b""
        return body if body.endswith(b"\n") or not body else body + b"\n"

    def put_graph(self, iri: str, quads: Sequence[ox.Quad], what: str) -> None:
        self.request("PUT", self._gsp(), what=what, params={"graph": iri},
                     content=self.graph_body(quads),
                     headers={"Content-Type": self.graph_content_type})

    def count_graphs(self, iris: Sequence[str]) -> dict[str, int]:
        values = " ".join(f"<{i}>" for i in iris)
        r = self.sparql_select(
            f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {values} }} "
            f"GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g", "a count of the graphs just written")
        return {row["g"]["value"]: int(row["n"]["value"])
                for row in r.json()["results"]["bindings"]}

    def write_batch(self, batch: list[tuple[GraphLike, bool]]) -> None:
        for attempt in range(self.retries + 1):
            try:
                self._write_batch_once(batch)
                return
            except StoreError as err:
                if attempt == self.retries or not _transient(err):
                    raise
                time.sleep(self.backoff * 2 ** attempt)

    def _write_batch_once(self, batch: list[tuple[GraphLike, bool]]) -> None:
        targets = {fg.iri: (fg.iri if self.atomic_put else staging_graph(fg.iri))
                   for fg, _ in batch}
        for fg, _ in batch:
            self.put_graph(targets[fg.iri], fg.quads, f"the graph of {_label(fg)}")
        if not self.atomic_put:
            counts = self.count_graphs(list(targets.values()))
            for fg, _ in batch:
                got, want = counts.get(targets[fg.iri], 0), size(fg)
                if got != want:
                    raise StoreError(
                        f"{self.target} stored {got} of the {want} triples of {_label(fg)} in "
                        f"staging graph <{targets[fg.iri]}>; the figure's graph was left as it "
                        "was", fix="check the server log; run the load again to retry")
        ops: list[str] = []
        if not self.atomic_put:
            ops += [f"MOVE <{targets[fg.iri]}> TO <{fg.iri}>" for fg, _ in batch]
        ops.append(forget_state_sparql(fg.iri for fg, _ in batch))
        data = " ".join(f'<{fg.iri}> <{DIGEST}> "{fg.digest}" ; <{TRIPLES}> {size(fg)} .'
                        for fg, _ in batch)
        ops.append(f"INSERT DATA {{ GRAPH <{STATE_GRAPH}> {{ {data} }} }}")
        # Not retried request by request: a MOVE applied twice would empty the target. A failed
        # update makes write_batch redo the whole batch, PUTs included.
        self.update(" ;\n".join(ops), f"the update recording {len(batch)} figure graphs",
                    retry=False)

    def replace_graph(self, iri: str, quads: Sequence[ox.Quad]) -> None:
        if self.atomic_put:
            self.put_graph(iri, quads, f"graph <{iri}>")
            return
        staging = staging_graph(iri)
        self.put_graph(staging, quads, f"graph <{iri}> (staging)")
        got = self.count_graphs([staging]).get(staging, 0)
        if got != len(quads):
            raise StoreError(f"{self.target} stored {got} of {len(quads)} triples of <{iri}> in "
                             "its staging graph", fix="check the server log; run again")
        self.update(f"MOVE <{staging}> TO <{iri}>", f"moving <{iri}> into place", retry=False)

    # -- reading -----------------------------------------------------------------------------
    def query(self, sparql: str) -> QueryResult:
        kind = query_form(sparql)
        if kind == "graph":
            r = self.request("POST", self.endpoint, what="a query",
                             data={"query": sparql, **self.query_params()},
                             headers={"Accept": "application/n-triples"})
            triples = list(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES))
            return QueryResult("graph", triples=triples)  # type: ignore[arg-type]
        r = self.sparql_select(sparql)
        doc = _json(r, self.endpoint)
        if kind == "ask":
            return QueryResult("ask", boolean=bool(doc.get("boolean")))
        variables = list(doc["head"].get("vars", []))
        rows = _rows(doc, variables)
        cap = self.row_cap(r)
        if cap is None or len(rows) < cap:
            return QueryResult("select", variables=variables, rows=rows)
        # The server cut the result at its row cap: fetch it again page by page, ordered.
        rows, pages, offset = [], 0, 0
        while True:
            page = self.sparql_select(paged_query(sparql, variables, cap, offset),
                                      f"page {pages + 1} of a capped result")
            got = _rows(_json(page, self.endpoint), variables)
            rows.extend(got)
            pages += 1
            offset += cap
            if len(got) < cap:
                break
        return QueryResult("select", variables=variables, rows=rows, pages=pages)

    def row_cap(self, response: httpx.Response) -> int | None:
        """The row cap the server applied to this response, if it says so."""
        value = response.headers.get("X-SPARQL-MaxRows")
        return int(value) if value and value.isdigit() and int(value) > 0 else None

    def close(self) -> None:
        self.client.close()


class OxigraphServer(RemoteStore):
    """``oxigraph serve``: /query, /update, /store; a failed PUT is atomic; no auth; the union
    of all graphs as default graph only on request (``union-default-graph``)."""

    flavor = "oxigraph"
    atomic_put = True
    graph_content_type = "application/n-triples"

    def default_update_endpoint(self, endpoint: str) -> str:
        return _sibling(endpoint, "query", "update")

    def default_graph_store(self, endpoint: str) -> str | None:
        return _sibling(endpoint, "query", "store")

    def query_params(self) -> dict[str, str]:
        return {"union-default-graph": ""}


def open_remote(endpoint: str, *, flavor: str = "auto", **kwargs: object) -> RemoteStore:
    """Connect, ask the server who it is unless ``flavor`` says, and return the right store."""
    from rdfexport.stores.virtuoso import VirtuosoStore

    classes: dict[str, type[RemoteStore]] = {
        "generic": RemoteStore, "oxigraph": OxigraphServer, "virtuoso": VirtuosoStore}
    if flavor != "auto":
        if flavor not in classes:
            raise UsageError(f"unknown server type {flavor!r}",
                             fix=f"use one of: auto, {', '.join(classes)}")
        store = classes[flavor](endpoint, **kwargs)  # type: ignore[arg-type]
        store.probe()
        return store
    probe = RemoteStore(endpoint, **kwargs)  # type: ignore[arg-type]
    response = probe.probe()
    server = response.headers.get("Server", "").lower()
    cls = (VirtuosoStore if "virtuoso" in server
           else OxigraphServer if "oxigraph" in server else RemoteStore)
    if cls is RemoteStore:
        return probe
    kwargs = dict(kwargs)
    kwargs["client"] = probe.client
    return cls(endpoint, **kwargs)  # type: ignore[arg-type]


# -- helpers -------------------------------------------------------------------------------------

def _check_url(url: str, option: str) -> None:
    parts = urlsplit(url)
    if parts.password is not None:  # never echo this URL: it holds a password
        raise UsageError(f"{option} has a password written into its URL",
                         fix="give --user NAME and export RDFEXPORT_PASSWORD=...: passwords are "
                         "read from the environment only")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{option} {url!r} is not an http(s) URL",
                         fix=f"pass a full URL, e.g. {option} http://127.0.0.1:7878/query")


def _sibling(endpoint: str, last: str, replacement: str) -> str:
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    path = (path[: -len(last)] + replacement) if path.endswith("/" + last) else \
        path + "/" + replacement
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _describe(err: Exception) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, httpx.ConnectError):
        return f"connection failed ({text})"
    if isinstance(err, httpx.TimeoutException):
        return f"timed out ({text})"
    return f"{type(err).__name__}: {text}"


def _redact(text: str, response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The server's text without the credentials the request carried (servers may quote it)."""
    found = [s for s in secrets if s]
    try:
        auth = response.request.headers.get("Authorization", "")
    except RuntimeError:  # a response built without a request
        auth = ""
    scheme, _, token = auth.partition(" ")
    if token:
        found.append(token)
        if scheme.lower() == "basic":
            try:
                found.append(base64.b64decode(token).decode().partition(":")[2])
            except ValueError:
                pass
    for secret in sorted({s for s in found if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def _short(text: str, limit: int = 300) -> str:
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return (text[:limit] + "...") if len(text) > limit else text


def _transient(err: StoreError) -> bool:
    return err.problem.startswith("cannot reach") or " HTTP 5" in err.problem


def _label(fg: GraphLike) -> str:
    figure = getattr(fg, "figure", None)
    path = getattr(figure, "path", None)
    return f"{fg.iri} ({path})" if path else fg.iri


def _int(term: object) -> int:
    try:
        return int(getattr(term, "value", "0"))
    except ValueError:
        return 0


def _json(response: httpx.Response, endpoint: str) -> dict:  # type: ignore[type-arg]
    try:
        return response.json()  # type: ignore[no-any-return]
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError(
            f"{endpoint} answered with something that is not SPARQL JSON results "
            f"({response.headers.get('Content-Type', 'no content type')}): "
            f"{_short(_redact(response.text, response))}",
            fix="check that --endpoint is the SPARQL query service URL") from None


def term(binding: dict[str, str] | None) -> ox.NamedNode | ox.BlankNode | ox.Literal | None:
    """A SPARQL JSON results term as a pyoxigraph term."""
    if binding is None:
        return None
    kind, value = binding.get("type"), binding.get("value", "")
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    lang = binding.get("xml:lang")
    if lang:
        return ox.Literal(value, language=lang)
    datatype = binding.get("datatype")
    if datatype:
        return ox.Literal(value, datatype=ox.NamedNode(datatype))
    return ox.Literal(value)


def _rows(doc: dict, variables: list[str]) -> list[tuple]:  # type: ignore[type-arg]
    return [tuple(term(b.get(v)) for v in variables) for b in doc["results"]["bindings"]]
