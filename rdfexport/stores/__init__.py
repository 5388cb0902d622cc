"""Triple stores: the embedded Oxigraph store (default) and any SPARQL 1.1 server.

``open_store(...)`` gives an object with ``load(graphs, void=..., progress=...) -> LoadStats``
and ``query(sparql) -> QueryResult``; figure graphs are replaced by content digest.
"""

from __future__ import annotations

from pathlib import Path

from rdfexport.stores.base import BaseStore, LoadStats, QueryResult
from rdfexport.stores.embedded import DEFAULT_STORE_DIR, EmbeddedStore

__all__ = ["DEFAULT_STORE_DIR", "BaseStore", "EmbeddedStore", "LoadStats", "QueryResult",
           "open_store"]


def open_store(store: str | Path | None = DEFAULT_STORE_DIR, *, endpoint: str | None = None,
               graph_store: str | None = None, update_endpoint: str | None = None,
               user: str | None = None, password: str | None = None, auth: str = "digest",
               flavor: str = "auto", retries: int = 4, read_only: bool = False) -> BaseStore:
    """The embedded store in directory ``store`` (None: in memory), or, with ``endpoint``, a
    remote SPARQL 1.1 server (its type detected unless ``flavor`` is given)."""
    if endpoint is None:
        return EmbeddedStore(store, read_only=read_only)
    from rdfexport.stores.remote import open_remote

    return open_remote(endpoint, flavor=flavor, graph_store=graph_store,
                       update_endpoint=update_endpoint, user=user, password=password, auth=auth,
                       retries=retries)
