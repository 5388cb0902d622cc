"""rdfexport: PFOCR pathway figures to linked data.

The library API (the CLI is a thin layer over it)::

    from rdfexport import ExportOptions, read_figures, build_graphs, write

    graphs = [g for g in build_graphs(["site/"]) if not isinstance(g, Exception)]
    write(graphs, "pfocr.ttl")
"""

__version__ = "0.1.0"
