"""Figure records -> JSON-LD documents, expanded with contexts that ship inside rdfexport.

Each figure gives two documents, both wrapping their nodes in the figure's named graph:
the front matter as nodes under the project context (``contexts/pfocr.jsonld``: the term choices
as data) and the repaired ``schema-jsonld`` block under the pinned schema.org 30.0 context.
The document loader serves only those two contexts: any other URL is refused, never fetched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from rdfexport import compact_nquads, vocab
from rdfexport.errors import RemoteContextError
from rdfexport.records import SCHEMA_CONTEXT_URLS, Figure

PFOCR_CONTEXT_URL = "https://pfocr.wikipathways.org/contexts/pfocr.jsonld"
SCHEMA_CONTEXT_URL = "https://schema.org/"
_BUNDLED = {PFOCR_CONTEXT_URL: "pfocr.jsonld"} | {u: "schemaorg-30.0.jsonld"
                                                   for u in SCHEMA_CONTEXT_URLS}
_YEAR = re.compile(r"-?[0-9]{4,}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


@cache
def bundled_context(url: str) -> dict[str, Any]:
    """A bundled context document (with its ``@context`` key), read from the package."""
    name = _BUNDLED[url]
    text = resources.files("rdfexport.contexts").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader: the bundled contexts, marked static so pyld caches them."""
    if url not in _BUNDLED:
        raise RemoteContextError(f"refused to load the JSON-LD context {url!r}: only the "
                                 "bundled schema.org and PFOCR contexts are used",
                                 fix="nothing is ever fetched; use https://schema.org/")
    return {"contextUrl": None, "documentUrl": url, "document": bundled_context(url),
            "tag": "static"}


def _drop_empty(node: dict[str, Any]) -> dict[str, Any]:
    """The node without its absent values: None, "", [] and ()."""
    return {k: v for k, v in node.items()
            if v or (v is not None and v != "" and v != [] and v != ())}


# IRIs of shared nodes (genes, taxa, MeSH...) repeat from figure to figure: minted once each.
# Cleared when large, so memory stays bounded on any corpus.
_MINTED: dict[tuple[str, str], str] = {}
_PART = {"gene": "id", "taxon": "taxid", "hgnc_symbol": "symbol", "mesh": "ui",
         "mesh_nlm": "ui", "chebi": "number", "doid": "number"}


def _mint(kind: str, value: str) -> str:
    """``vocab.iri(kind, <its one part>=value)``, remembered."""
    minted = _MINTED.get((kind, value))
    if minted is None:
        if len(_MINTED) >= 100_000:
            _MINTED.clear()
        minted = _MINTED[kind, value] = vocab.iri(kind, **{_PART[kind]: value})
    return minted


def _score(text: str | None) -> Any:
    """An ``xsd:decimal`` lexical form when the value is a number; else the text as it is."""
    if text is None:
        return None
    if _DECIMAL.fullmatch(text):
        return text
    try:
        number = Decimal(text)
    except InvalidOperation:
        return {"@value": text}
    return format(number, "f") if number.is_finite() else {"@value": text}


def _year(text: str | None) -> Any:
    if text is None:
        return None
    return text if _YEAR.fullmatch(text) else {"@value": text}


def figure_nodes(fig: Figure) -> list[dict[str, Any]]:
    """The front matter as JSON-LD nodes under the project context (docs/MAPPING.md)."""
    f = fig.get
    F = fig.iri
    nodes: list[dict[str, Any]] = []
    pmcid = fig.pmcid
    article = vocab.iri("article", pmcid=pmcid) if pmcid else None
    image = (vocab.iri("image", pmcid=pmcid, filename=f("filename"))
             if pmcid and f("filename") else None)
    see_also = [vocab.figlink_iri(f("figlink"))] if f("figlink") else []
    see_also = [s for s in see_also if s]

    taxa: dict[str, dict[str, Any]] = {}

    def taxon(taxid: str, name: str | None = None) -> str:
        T = _mint("taxon", taxid)
        node = taxa.get(T)
        if node is None:
            node = taxa[T] = {"id": T, "type": "Taxon", "taxid": taxid}
        if name:
            node["name"] = name
        return T

    organisms = fig.organisms
    mentions: list[str] = []
    entities: dict[str, dict[str, Any]] = {}

    def entity(iri: str, base: dict[str, Any], mention: str) -> None:
        node = entities.get(iri)
        if node is None:
            entities[iri] = {**base, "isAbout": [mention]}
            mentions.append(iri)
            return
        for k in ("label", "name"):  # one entity may be matched under two names
            if base.get(k) and base[k] not in _as_list(node.get(k)):
                node[k] = sorted({*_as_list(node.get(k)), base[k]})
        node["isAbout"].append(mention)

    # A gene is two nodes with its IRI: what it is (shared by every figure showing it, its
    # lines written once: compact_nquads.Fixed) and this figure's links to it, which also
    # hold a second symbol the figure matched it under.
    symbols: dict[str, list[str]] = {}  # gene IRI -> its symbols in this figure
    for g in fig.genes:
        G = _mint("gene", g.gene_id)
        M = vocab.mention_iri(F, "gene", g.gene_id, g.word, g.match, g.source)
        seen = symbols.get(G)
        T = taxon(g.taxid) if g.taxid else None
        if seen is None:
            nodes.append(_gene(G, g.symbol, g.gene_id, g.taxid, T))
            symbols[G] = [g.symbol] if g.symbol else []
            entity(G, {"id": G, "partOf": F}, M)
        elif g.symbol and g.symbol not in seen:
            seen.append(g.symbol)
            entity(G, {"label": g.symbol, "name": g.symbol}, M)
        else:
            entity(G, {}, M)
        mention = {"id": M, "type": "GeneMention", "partOf": F, "ocrWord": g.word,
                   "lexiconMatch": g.match, "lexiconSource": g.source}
        for k, v in g.counts:
            mention[_COUNT_TERMS[k]] = v
        for k in [k for k in mention if not mention[k]]:  # _drop_empty: every value is a str
            del mention[k]
        nodes.append(mention)

    for t in (*fig.chemicals, *fig.diseases):
        C = _mint("mesh", t.mesh)
        M = vocab.mention_iri(F, "chem" if t.kind == "chemical" else "disease", t.mesh, t.word,
                              t.match, t.source)
        if t.kind == "chemical":
            base = {"id": C, "type": ["Metabolite", "DataNode", "ChemicalSubstance"],
                    "bdbChEBI": _mint("chebi", t.chebi) if t.chebi else None,
                    "partOf": F}
            mtype = "ChemicalMention"
        else:
            base = {"id": C, "type": "MedicalCondition",
                    "exactMatch": _mint("doid", t.doid) if t.doid else None}
            mtype = "DiseaseMention"
        base.update({"label": t.name, "identifier": t.mesh, "source": "MeSH",
                     "sameAs": _mint("mesh_nlm", t.mesh)})
        entity(C, _drop_empty(base), M)
        nodes.append(_drop_empty({"id": M, "type": mtype, "partOf": F, "ocrWord": t.word,
                                  "lexiconMatch": t.match, "lexiconSource": t.source}))

    figure = {
        "id": F, "type": ["Figure", "Dataset"], "source": "Pathway Figure OCR",
        "identifier": fig.figid, "alternateName": f("figid_alias"), "url": F,
        "title": f("figtitle"), "titleName": f("figtitle"), "description": f("caption"),
        "organism": [taxon(o.taxid, o.name) for o in organisms if o.taxid],
        "organismName": [o.name for o in organisms],
        "nerOrganism": [_mint("taxon", o.taxid) for o in organisms
                        if o.taxid and o.ner_only],
        "references": article, "isPartOf": article, "img": image, "image": image,
        "seeAlso": see_also, "position": f("number"), "genre": f("figtype"),
        "pathwayScore": _score(f("automl_pathway") or f("pathway_score")),
        "license": vocab.CC0, "creator": vocab.WIKIPATHWAYS_ORG, "mentions": mentions,
    }
    for wpid in fig.wpids:
        W = vocab.iri("wikipathways", wpid=wpid)
        figure["seeAlso"] = [*figure["seeAlso"], W]
        nodes.append({"id": W, "wasDerivedFrom": F})
    for ndex in fig.ndex:
        N = vocab.iri("ndex", uuid=ndex.lower())
        figure["seeAlso"] = [*figure["seeAlso"], N]
        nodes.append({"id": N, "wasDerivedFrom": F})
    nodes.append(_drop_empty(figure))
    nodes.append({"id": vocab.WIKIPATHWAYS_ORG, "type": "Organization", "name": "WikiPathways"})

    if article:
        journal = f("journal_nlm_ta") or f("journal_title")
        J = vocab.journal_iri(journal) if journal else None
        P = vocab.publisher_iri(f("publisher_name")) if f("publisher_name") else None
        doi = vocab.clean_doi(f("doi")) if f("doi") else None
        nodes.append(_drop_empty({
            "id": article, "type": ["PublicationReference", "Article"], "identifier": pmcid,
            "source": "PMC", "page": vocab.iri("article_page", pmcid=pmcid),
            "title": f("papertitle"),
            "titleName": f("papertitle"), "bibliographicCitation": f("reftext"),
            "datePublished": _year(f("year")), "sameAs": vocab.iri("doi", doi=doi) if doi else None,
            "isPartOf": J, "publisher": P, "keywords": list(fig.article_keywords)}))
        if J:
            nodes.append(_drop_empty({"id": J, "type": "Periodical", "name": f("journal_title"),
                                      "alternateName": f("journal_nlm_ta")}))
        if P:
            nodes.append({"id": P, "type": "Organization", "name": f("publisher_name")})
    nodes.extend(taxa.values())
    nodes.extend(entities.values())
    return nodes


_GENE_OPTIONAL = ("label", "name", "identifier", "bdbHgncSymbol", "taxonomicRange")
_GENE_TYPE = ("GeneProduct", "DataNode", "Gene")
# What a gene is, shared by the figures showing it; cleared when large (bounded memory).
_GENES: dict[tuple[str, str | None, str, str | None], compact_nquads.Fixed] = {}


def _gene(iri: str, symbol: str | None, gene_id: str, taxid: str | None,
          taxon: str | None) -> compact_nquads.Fixed:
    """The gene's own node (never changed: figures share it)."""
    key = (iri, symbol, gene_id, taxid)
    node = _GENES.get(key)
    if node is None:
        human = symbol and taxid == vocab.HUMAN_TAXID
        hgnc = _mint("hgnc_symbol", symbol) if symbol and human else None
        gene = {"id": iri, "type": list(_GENE_TYPE), "label": symbol, "name": symbol,
                "identifier": gene_id, "dcIdentifier": iri, "source": "Entrez Gene",
                "bdbEntrezGene": iri, "bdbHgncSymbol": hgnc, "taxonomicRange": taxon}
        for k in _GENE_OPTIONAL:  # _drop_empty, where a value can be empty (str or None)
            if not gene[k]:
                del gene[k]
        if len(_GENES) >= 50_000:
            _GENES.clear()
        node = _GENES[key] = compact_nquads.Fixed(gene)
    return node


_COUNT_TERMS = {"count_direct": "countDirect", "count_synonym": "countSynonym",
                "count_match": "countMatch"}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# The base IRI of both documents of a figure is the figure's own address (``fig.iri``): the
# schema-jsonld block lives on the figure's page, so a relative IRI in it (``"@id":
# "PMC123__f1.html"``, ``"url": "../figures/x.html"``) names a resource of the site, as JSON-LD
# says (a document's base IRI is its location). pyld gets it as its ``base`` option (see
# ``to_nquads``), never its default ``http://example.org/base/``; a batch document for
# pyoxigraph holds many figures, so each figure's wrapper node carries it as ``@base``
# (``base_context``), which resolves exactly like the option (tests/test_engines.py).


def base_context(fig: Figure) -> dict[str, str]:
    """The embedded context giving a figure's wrapper node in a batch its base IRI."""
    return {"@base": fig.iri}


def front_matter_document(fig: Figure, context: Any = PFOCR_CONTEXT_URL) -> dict[str, Any]:
    """The front matter as one document; its base IRI is ``fig.iri`` (give it to to_nquads)."""
    return {"@context": context, "@id": fig.iri, "@graph": figure_nodes(fig)}


def block_document(fig: Figure, context: Any = SCHEMA_CONTEXT_URL) -> dict[str, Any] | None:
    """The block as one document; its base IRI is ``fig.iri`` (give it to to_nquads)."""
    if fig.block is None:
        return None
    return {"@context": context, "@id": fig.iri, "@graph": [fig.block]}


def batch_documents(figs: Iterable[Figure]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Many figures in two documents with the contexts inline: one context parse per batch;
    each figure's wrapper node sets its own base IRI (``base_context``)."""
    figs = list(figs)
    fm = {"@context": bundled_context(PFOCR_CONTEXT_URL)["@context"],
          "@graph": [{"@context": base_context(f), "@id": f.iri, "@graph": figure_nodes(f)}
                     for f in figs]}
    blocks = {"@context": bundled_context(SCHEMA_CONTEXT_URL)["@context"],
              "@graph": [{"@context": base_context(f), "@id": f.iri, "@graph": [f.block]}
                         for f in figs if f.block]}
    return fm, blocks


def to_nquads(document: dict[str, Any], base: str) -> str:
    """pyld, the JSON-LD processor of record: document -> N-Quads, offline; relative IRIs
    resolved against ``base``, the document's own address (a figure's IRI)."""
    from pyld import jsonld

    try:
        return jsonld.to_rdf(document, {"format": "application/n-quads", "base": base,
                                        "documentLoader": document_loader})
    except jsonld.JsonLdError as err:
        cause: BaseException | None = err
        while cause is not None:
            if isinstance(cause, RemoteContextError):
                raise cause from None
            cause = getattr(cause, "cause", None) or cause.__cause__
        raise
