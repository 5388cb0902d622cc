"""Namespaces, IRI patterns and value rules of the RDF model (docs/MAPPING.md), in one place.

Everything else mints IRIs through these functions, so a change of pattern is a change here.
Term choices (which predicate a JSON-LD key means) live in the project context,
``rdfexport/contexts/pfocr.jsonld``.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

PREFIXES: dict[str, str] = {
    "wp": "http://vocabularies.wikipathways.org/wp#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "schema": "http://schema.org/",
    "fabio": "http://purl.org/spar/fabio/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "void": "http://rdfs.org/ns/void#",
    "pav": "http://purl.org/pav/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "obo": "http://purl.obolibrary.org/obo/",
    "pfocr": "https://pfocr.wikipathways.org/vocab#",
    "sh": "http://www.w3.org/ns/shacl#",
}

SITE = "https://pfocr.wikipathways.org/"
FIGURE_BASE = SITE + "figures/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
WIKIPATHWAYS_ORG = "https://www.wikipathways.org/"
VOID_GRAPH = SITE + "void"
DATASET = SITE + "void#pfocr"

NA_MARKERS = frozenset({".na.character", "NA", "", ".na", ".na.real", ".na.integer", "NaN"})

# Latin name -> NCBI taxid for organisms PFOCR sees most, used when a site has no _organisms page.
BUILTIN_TAXA: dict[str, str] = {
    "Homo sapiens": "9606",
    "Mus musculus": "10090",
    "Rattus norvegicus": "10116",
    "Danio rerio": "7955",
    "Drosophila melanogaster": "7227",
    "Caenorhabditis elegans": "6239",
    "Saccharomyces cerevisiae": "4932",
    "Arabidopsis thaliana": "3702",
    "Bos taurus": "9913",
    "Gallus gallus": "9031",
    "Sus scrofa": "9823",
    "Canis lupus familiaris": "9615",
    "Escherichia coli": "562",
    "Xenopus laevis": "8355",
    "Oryza sativa": "4530",
    "Oryzias latipes": "8090",
    "Macaca mulatta": "9544",
    "Equus caballus": "9796",
    "Ovis aries": "9940",
    "Pan troglodytes": "9598",
    "Mycobacterium tuberculosis": "1773",
    "Plasmodium falciparum": "5833",
}

HUMAN_TAXID = "9606"

# Characters allowed unescaped in the path of the IRIs we mint (RFC 3987 iunreserved + sub-delims
# except those that break Turtle or N-Triples, plus ':' '@' and '/').
_SAFE_PATH = "-._~!$&'()*+,;=:@"
_DIGITS = re.compile(r"[0-9]+")
_PMCID = re.compile(r"PMC[0-9]+")
_DOI_PREFIX = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
_MESH = re.compile(r"^(?:mesh:)?([CDM][0-9]{6,9})$", re.IGNORECASE)
_CHEBI = re.compile(r"^(?:chebi:)?([0-9]+)$", re.IGNORECASE)
_DOID = re.compile(r"^(?:doid:)?([0-9]+)$", re.IGNORECASE)


_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]*")


def iri_segment(text: str) -> str:
    """Percent-encode what is not allowed in an IRI path segment; keep non-ASCII (IRIs allow it)."""
    if _PLAIN_SEGMENT.fullmatch(text):
        return text
    return "".join(ch if ord(ch) > 0x7F and ch.isprintable() and not ch.isspace()
                   else quote(ch, safe=_SAFE_PATH) for ch in text)


# Every IRI the export mints, as data: {name} parts are percent-encoded where IRIs need it.
IRI_PATTERNS: dict[str, str] = {
    "figure": FIGURE_BASE + "{figid}.html",
    "article": "https://identifiers.org/pmc/{pmcid}",
    "article_page": "https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/",
    "image": "https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/bin/{filename}",
    "figlink": "https://www.ncbi.nlm.nih.gov{path}",
    "journal": SITE + "journals/{name}",
    "publisher": SITE + "publishers/{slug}",
    "taxon": "http://purl.obolibrary.org/obo/NCBITaxon_{taxid}",
    "gene": "https://identifiers.org/ncbigene/{id}",
    "hgnc_symbol": "https://identifiers.org/hgnc.symbol/{symbol}",
    "mesh": "https://identifiers.org/mesh/{ui}",
    "mesh_nlm": "http://id.nlm.nih.gov/mesh/{ui}",
    "chebi": "https://identifiers.org/chebi/CHEBI:{number}",
    "doid": "http://purl.obolibrary.org/obo/DOID_{number}",
    "wikipathways": "https://identifiers.org/wikipathways/{wpid}",
    "ndex": "https://www.ndexbio.org/viewer/networks/{uuid}",
    "doi": "https://doi.org/{doi}",
}
_PATH_PARTS = frozenset({"path", "doi"})  # keep their '/' separators


def iri(kind: str, **parts: str) -> str:
    """Mint an IRI of KIND (a key of ``IRI_PATTERNS``) from its parts, encoded as IRIs need."""
    encoded = {k: "/".join(iri_segment(p) for p in v.split("/")) if k in _PATH_PARTS
               else iri_segment(v) for k, v in parts.items()}
    return IRI_PATTERNS[kind].format(**encoded)


def figure_iri(figid: str) -> str:
    return iri("figure", figid=figid)


def figlink_iri(figlink: str) -> str | None:
    """The PMC page of the figure; only a site-relative path (``/pmc/...``) is trusted."""
    return iri("figlink", path=figlink) if figlink.startswith("/") else None


def journal_iri(name: str) -> str:
    return iri("journal", name=name.strip().replace(" ", "_"))


def publisher_iri(name: str) -> str:
    """Publishers get an IRI, not a blank node: stable output and Virtuoso-safe loads."""
    return iri("publisher", slug=re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_") or "unnamed")


def mention_iri(figure: str, kind: str, ident: str, word: str, match: str, source: str) -> str:
    """``{F}#{kind}-{id}-{h}``; h hashes what OCR saw, so it is stable across releases."""
    digest = hashlib.sha1(f"{word}\t{match}\t{source}".encode()).hexdigest()[:8]
    return f"{figure}#{kind}-{iri_segment(ident)}-{digest}"


def is_na(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in NA_MARKERS)


def is_gene_id(value: str) -> bool:
    return bool(_DIGITS.fullmatch(value))


def is_pmcid(value: str) -> bool:
    return bool(_PMCID.fullmatch(value))


def clean_doi(value: str) -> str | None:
    """The bare DOI, or None when the value is not a DOI (``10.`` + registrant + ``/`` + suffix)."""
    doi = _DOI_PREFIX.sub("", value.strip())
    return doi if re.fullmatch(r"10\.[0-9]{4,9}/\S+", doi) else None


def mesh_ui(value: str) -> str | None:
    m = _MESH.match(value.strip())
    return m.group(1).upper() if m else None


def chebi_number(value: str) -> str | None:
    m = _CHEBI.match(value.strip())
    return m.group(1) if m else None


def doid_number(value: str) -> str | None:
    m = _DOID.match(value.strip())
    return m.group(1) if m else None
