"""``rdfexport query``: SPARQL against the embedded store or a server; bundled examples."""

from __future__ import annotations

from pathlib import Path

import click

from rdfexport.cli import main, run
from rdfexport.cli.load import open_target, store_options
from rdfexport.errors import UsageError
from rdfexport.stores.results import FORMATS, render


@main.command()
@click.argument("query", required=False)
@click.option("--file", "query_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Read the query from FILE.")
@click.option("--example", default=None, metavar="NAME",
              help="Run a bundled example query (see --list-examples).")
@click.option("--list-examples", is_flag=True, help="List the bundled example queries.")
@click.option("--bind", "binds", multiple=True, metavar="NAME=VALUE",
              help="Replace the query's 'VALUES ?NAME { ... }' line (repeat for more values): "
                   "--bind symbol=TP53, --bind taxon=obo:NCBITaxon_10090, "
                   "--bind gene=https://identifiers.org/ncbigene/7157.")
@click.option("--show", is_flag=True, help="Print the query text instead of running it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format (csv, tsv and json: the SPARQL 1.1 results formats).")
@store_options
def query(query, query_file, example, list_examples, binds, show, fmt, store_dir, endpoint,
          graph_store,
          update_endpoint, user, auth, server_type, retries):  # type: ignore[no-untyped-def]
    """Run a SPARQL query (QUERY, --file or --example) on the embedded store or --endpoint.

    The union of all graphs is the default graph. Results cut by a server's row cap (Virtuoso
    stops at 10,000 rows) are fetched page by page.
    """

    def action() -> int:
        from rdfexport.queries import examples

        bundled = examples()
        if list_examples:
            width = max(len(n) for n in bundled)
            for name, ex in bundled.items():
                click.echo(f"{name.ljust(width)}  {ex.description}")
            return 0
        given = [x for x in (query, query_file, example) if x is not None]
        if len(given) != 1:
            raise UsageError("give exactly one query: QUERY, --file FILE or --example NAME",
                             fix="rdfexport query --list-examples shows the bundled ones")
        if example is not None:
            if example not in bundled:
                raise UsageError(f"no bundled example {example!r}",
                                 fix=f"use one of: {', '.join(bundled)}")
            text = bundled[example].text
        elif query_file is not None:
            text = query_file.read_text(encoding="utf-8")
        else:
            text = query
        if binds:
            from rdfexport.queries import bind

            values: dict[str, list[str]] = {}
            for item in binds:
                name, sep, value = item.partition("=")
                if not sep or not name.strip():
                    raise UsageError(f"bad --bind {item!r}", fix="write NAME=VALUE, e.g. "
                                     "--bind symbol=TP53")
                values.setdefault(name.strip().lstrip("?"), []).append(value)
            text = bind(text, values)
        if show:
            click.echo(text, nl=not text.endswith("\n"))
            return 0
        with open_target(store_dir, endpoint, graph_store, update_endpoint, user, auth,
                         server_type, retries, read_only=True) as store:
            result = store.query(text)
        click.echo(render(result, fmt), nl=False)
        return 0

    run(action)
