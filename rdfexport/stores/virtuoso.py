"""OpenLink Virtuoso (7.2, what WikiPathways runs): the quirks that matter for loading.

- A failed GSP PUT is not atomic (it empties the target and keeps a prefix of the body), so each
  graph is PUT into a staging graph, counted, then ``MOVE``d into place (see RemoteStore).
- Its GSP ignores Content-Type and sniffs the body: Turtle must start with ``@prefix`` lines, and
  a body without a final newline was once answered 201 and stored nothing. Bodies here are
  N-Triples lines behind one ``@prefix`` line, always ending with a newline.
- Writes need HTTP Digest auth (Basic is refused) on ``/sparql-auth`` and
  ``/sparql-graph-crud-auth``; ``/sparql`` is anonymous and read-only.
- Results are silently capped at ``ResultSetMaxRows`` (10,000 by default) and the response then
  carries ``X-SPARQL-MaxRows``: RemoteStore pages past it.
- Without FROM, a query's default graph is already the union of all graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyoxigraph as ox

from rdfexport.stores.remote import RemoteStore, _origin

_PREFIX_LINE = b"@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"


class VirtuosoStore(RemoteStore):
    flavor = "virtuoso"
    atomic_put = False
    graph_content_type = "text/turtle"

    def default_update_endpoint(self, endpoint: str) -> str:
        """``/sparql`` is read-only for everyone: with a user, writes go to ``/sparql-auth``."""
        parts = urlsplit(endpoint)
        if self.user is not None and parts.path.rstrip("/") == "/sparql":
            return urlunsplit((parts.scheme, parts.netloc, "/sparql-auth", "", ""))
        return endpoint

    def default_graph_store(self, endpoint: str) -> str | None:
        parts = urlsplit(endpoint)
        path = "/sparql-graph-crud-auth" if self.user is not None or _is_auth(parts.path) \
            else "/sparql-graph-crud"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    def graph_body(self, quads: Sequence[ox.Quad]) -> bytes:
        return _PREFIX_LINE + super().graph_body(quads)

    def _auth_fix(self) -> str:
        if self.user is None:
            return ("Virtuoso accepts writes only with a user: pass --user dba (or another user "
                    "with SPARQL_UPDATE), set RDFEXPORT_PASSWORD, and use the /sparql-auth "
                    "endpoint")
        return ("check --user and RDFEXPORT_PASSWORD; Virtuoso needs --auth digest (the "
                "default) and the /sparql-auth endpoint")

    def _auth_problem(self, url: str, response: httpx.Response, what: str) -> str:
        text = super()._auth_problem(url, response, what)
        if urlsplit(url).path.rstrip("/") == "/sparql" and self.user is not None:
            text += f"; {_origin(url)} is Virtuoso's anonymous endpoint, use /sparql-auth"
        return text


def _is_auth(path: str) -> bool:
    return path.rstrip("/").endswith("-auth")
