"""The naive pipeline, written the documented way, as the yardstick for rdfexport's speed.

    python bench/naive.py SITE_OR_FOLDER [-o out.ttl] [--limit N] [--shapes DIR]

Exactly the steps the libraries' documentation leads to, with the one known trap avoided (the
schema.org context is served by a loader pyld can cache, ``"tag": "static"``):

1. python-frontmatter ``frontmatter.load`` for each figure file; ``csv`` for its ``_data`` tables;
2. two JSON-LD documents per figure: the front matter mapped onto the project context
   (``rdfexport/contexts/pfocr.jsonld``: figure, article, journal, taxa, genes, chemicals,
   diseases and their mentions, as in docs/MAPPING.md) and the embedded ``schema-jsonld`` block
   under the pinned schema.org context; each expanded with ``pyld.jsonld.expand``;
3. ``rdflib.Graph.parse(format="json-ld")`` of each expanded document into ONE graph;
4. ``pyshacl.validate`` on the merged graph with the bundled shapes (``shapes/``; a tiny
   fallback shape file in bench/ when the folder is empty);
5. ``Graph.serialize(format="turtle")``.

It prints one summary line ``NAIVE figures=.. triples=.. results=.. conforms=..`` plus per-stage
seconds on stderr, for bench/run.py to read.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import frontmatter
import pyshacl
import rdflib
from pyld import jsonld

ROOT = Path(__file__).resolve().parent.parent
CONTEXTS = ROOT / "rdfexport" / "contexts"
SCHEMA_URLS = ("https://schema.org/", "http://schema.org/", "https://schema.org",
               "http://schema.org")
PFOCR_CONTEXT_URL = "https://pfocr.wikipathways.org/context.jsonld"
FALLBACK_SHAPES = Path(__file__).resolve().parent / "naive-shapes.ttl"
NA = {".na.character", "NA", "", "NaN", None}

_DOCS = {
    **{u: json.loads((CONTEXTS / "schemaorg-30.0.jsonld").read_text()) for u in SCHEMA_URLS},
    PFOCR_CONTEXT_URL: json.loads((CONTEXTS / "pfocr.jsonld").read_text()),
}


def loader(url: str, options: dict | None = None) -> dict:
    """Offline loader; ``tag: static`` lets pyld cache the processed context across calls."""
    doc = _DOCS.get(url) or _DOCS.get(url.rstrip("/") + "/")
    if doc is None:
        raise jsonld.JsonLdError(f"no bundled context for {url}", "loading document failed")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": doc, "tag": "static"}


def _na(v: object) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in NA)


def _list(v: object) -> list:
    if _na(v):
        return []
    return [x for x in (v if isinstance(v, list) else [v]) if not _na(x)]


def _tsv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _h(*parts: str) -> str:
    return hashlib.sha1("\t".join(parts).encode()).hexdigest()[:8]


def figure_document(m: dict, data: Path | None, taxa: dict[str, str]) -> dict:
    """The front matter as JSON-LD under the project context (a plain reading of MAPPING.md)."""
    figid = str(m["figid"])
    f = f"https://pfocr.wikipathways.org/figures/{figid}.html"
    pmcid = str(m.get("pmcid") or figid.split("__")[0])
    a = f"https://identifiers.org/pmc/{pmcid}"
    nodes: list[dict] = []
    fig: dict = {"id": f, "type": ["Figure", "Dataset"], "source": "Pathway Figure OCR",
                 "identifier": figid, "url": f, "references": a, "isPartOf": a,
                 "license": "http://creativecommons.org/publicdomain/zero/1.0/",
                 "creator": "https://www.wikipathways.org/"}
    if not _na(m.get("figtitle")):
        fig["title"] = fig["titleName"] = str(m["figtitle"])
    if not _na(m.get("caption")):
        fig["description"] = str(m["caption"])
    if not _na(m.get("figid_alias")):
        fig["alternateName"] = str(m["figid_alias"])
    if not _na(m.get("filename")):
        fig["img"] = fig["image"] = (f"https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/bin/"
                                     f"{m['filename']}")
    if not _na(m.get("number")):
        fig["position"] = str(m["number"])
    if not _na(m.get("figtype")):
        fig["genre"] = str(m["figtype"])
    score = m.get("automl_pathway", m.get("pathway_score"))
    if not _na(score):
        fig["pathwayScore"] = str(score)
    orgs, names = [], []
    for name in _list(m.get("organisms")) + _list(m.get("organisms_ner")):
        names.append(str(name))
        if str(name) in taxa:
            t = f"http://purl.obolibrary.org/obo/NCBITaxon_{taxa[str(name)]}"
            orgs.append(t)
            nodes.append({"id": t, "type": "Taxon", "name": str(name), "taxid": taxa[str(name)]})
    fig["organism"], fig["organismName"] = orgs, names
    art: dict = {"id": a, "type": ["PublicationReference", "Article"], "identifier": pmcid,
                 "source": "PMC", "page": f"https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/"}
    if not _na(m.get("papertitle")):
        art["title"] = art["titleName"] = str(m["papertitle"])
    if not _na(m.get("reftext")):
        art["bibliographicCitation"] = str(m["reftext"])
    if not _na(m.get("year")):
        art["datePublished"] = str(m["year"])
    if not _na(m.get("doi")):
        art["sameAs"] = "https://doi.org/" + str(m["doi"])
    if not _na(m.get("journal_nlm_ta")):
        j = "https://pfocr.wikipathways.org/journals/" + str(m["journal_nlm_ta"]).replace(" ", "_")
        art["isPartOf"] = j
        nodes.append({"id": j, "type": "Periodical", "name": str(m.get("journal_title")),
                      "alternateName": str(m["journal_nlm_ta"])})
    kw = m.get("keywords")
    art["keywords"] = [k.strip() for k in kw.split(" | ")] if isinstance(kw, str) and not _na(kw) \
        else _list(kw)
    mentions: list[str] = []
    genes = list(m.get("genes") or [])
    rows = _tsv(data / f"{figid}-genes.tsv") if data else []
    for g in genes:
        rows.append({"word": g.get("word", ""), "match": g.get("symbol", ""),
                     "ncbigene_symbol": g.get("hgnc_symbol", ""), "ncbigene_id": g.get("entrez"),
                     "source": g.get("source", ""), "organism_id": "9606"})
    for r in rows:
        gid = str(r.get("ncbigene_id") or "")
        if not gid.isdigit():
            continue
        g = f"https://identifiers.org/ncbigene/{gid}"
        mi = f"{f}#gene-{gid}-{_h(r['word'], r.get('match', ''), r.get('source', ''))}"
        mentions.append(g)
        gene = {"id": g, "type": ["GeneProduct", "DataNode", "Gene"], "identifier": gid,
                "label": r.get("ncbigene_symbol"), "name": r.get("ncbigene_symbol"),
                "dcIdentifier": g, "source": "Entrez Gene", "bdbEntrezGene": g, "partOf": f,
                "isAbout": mi}
        if r.get("organism_id"):
            gene["taxonomicRange"] = f"http://purl.obolibrary.org/obo/NCBITaxon_{r['organism_id']}"
        nodes.append(gene)
        ment = {"id": mi, "type": "GeneMention", "partOf": f, "ocrWord": r["word"],
                "lexiconMatch": r.get("match", ""), "lexiconSource": r.get("source", "")}
        for col, key in (("count_direct", "countDirect"), ("count_synonym", "countSynonym"),
                         ("count_match", "countMatch")):
            if (r.get(col) or "").isdigit():
                ment[key] = r[col]
        nodes.append(ment)
    for kind, typ in (("chemicals", ["Metabolite", "DataNode", "ChemicalSubstance"]),
                      ("diseases", "MedicalCondition")):
        items = [{"word": c.get("word", ""), "mesh": c.get("identifier", ""), "match": "",
                  "name": c.get("word", "")} for c in (m.get(kind) or [])]
        items += _tsv(data / f"{figid}-{kind}.tsv") if data else []
        for c in items:
            ui = str(c.get("mesh") or c.get("identifier") or "").replace("mesh:", "")
            if ui[:1] not in ("C", "D"):
                continue
            node = f"https://identifiers.org/mesh/{ui}"
            mi = f"{f}#{kind[:4]}-{ui}-{_h(c['word'], c.get('match') or '', kind)}"
            mentions.append(node)
            nodes.append({"id": node, "type": typ, "label": c.get("name") or c["word"],
                          "identifier": ui, "source": "MeSH",
                          "sameAs": f"http://id.nlm.nih.gov/mesh/{ui}", "isAbout": mi})
            nodes.append({"id": mi, "partOf": f, "ocrWord": c["word"],
                          "type": "ChemicalMention" if kind == "chemicals" else "DiseaseMention"})
    fig["mentions"] = mentions
    return {"@context": PFOCR_CONTEXT_URL, "@graph": [fig, art, *nodes]}


def schema_document(m: dict) -> dict | None:
    block = m.get("schema-jsonld")
    if not isinstance(block, dict):
        return None
    block = copy.deepcopy(block)
    if block.get("license") == "CC0":
        block["license"] = "http://creativecommons.org/publicdomain/zero/1.0/"
    if block.get("name") == "CreativeWork":
        block.pop("name")
    if isinstance(block.get("keywords"), list):
        block["keywords"] = [str(k) for k in block["keywords"] if not _na(k)]
    return block


def organisms(site: Path) -> dict[str, str]:
    taxa: dict[str, str] = {}
    for page in sorted((site / "_organisms").glob("*.md")):
        meta = frontmatter.load(page).metadata
        if meta.get("latin") and meta.get("ncbi"):
            taxa[str(meta["latin"])] = str(meta["ncbi"])
    return taxa


def run(site: Path, out: Path | None, limit: int | None, shapes: Path | None) -> dict:
    figs_dir = site / "_figures" if (site / "_figures").is_dir() else site
    files = sorted(figs_dir.glob("*.md"))[:limit]
    data = site / "_data" if (site / "_data").is_dir() else None
    taxa = organisms(site) if (site / "_organisms").is_dir() else {}
    opts = {"documentLoader": loader}
    g = rdflib.Graph()
    t = {"read": 0.0, "expand": 0.0, "parse": 0.0}
    for path in files:
        t0 = time.perf_counter()
        meta = frontmatter.load(path).metadata
        docs = [figure_document(meta, data, taxa), schema_document(meta)]
        t1 = time.perf_counter()
        expanded = [jsonld.expand(d, opts) for d in docs if d is not None]
        t2 = time.perf_counter()
        for e in expanded:
            g.parse(data=json.dumps(e), format="json-ld")
        t3 = time.perf_counter()
        t["read"] += t1 - t0
        t["expand"] += t2 - t1
        t["parse"] += t3 - t2
    t0 = time.perf_counter()
    shape_files = sorted(shapes.glob("*.ttl")) if shapes and shapes.is_dir() else []
    sg = rdflib.Graph()
    for sf in shape_files or [FALLBACK_SHAPES]:
        sg.parse(sf)
    conforms, results_graph, _ = pyshacl.validate(g, shacl_graph=sg, inference="none")
    nresults = sum(1 for _ in results_graph.subjects(
        rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/shacl#ValidationResult")))
    t["validate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data_out = g.serialize(format="turtle", encoding="utf-8")
    if out:
        out.write_bytes(data_out)
    t["turtle"] = time.perf_counter() - t0
    stats = {"figures": len(files), "triples": len(g), "results": nresults,
             "conforms": conforms, "shapes": [str(p) for p in shape_files or [FALLBACK_SHAPES]],
             **{f"s_{k}": round(v, 2) for k, v in t.items()}}
    return stats


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", type=Path)
    ap.add_argument("-o", "--output", type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--shapes", type=Path, default=ROOT / "shapes")
    a = ap.parse_args(argv)
    stats = run(a.site, a.output, a.limit, a.shapes)
    print("NAIVE " + json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
