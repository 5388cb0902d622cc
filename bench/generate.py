"""Write a realistic PFOCR site of N figures by varying the real sample.

    python bench/generate.py /tmp/site-100k --figures 100000 [--seed 1] [--jobs 2]

Every generated figure starts from one real sample figure (its *template*): the templates are
dealt in seeded shuffled rounds, so each format generation of the sample (front-matter gene lists,
``_data`` tables, with/without ``organisms_ner``, ``wpid``...) appears in the sample's own
proportions. From the template the generator keeps the key set, key order and quirks (NA markers,
``'On'`` keywords, empty ``ndex``...) and varies:

- identity: new PMCID / figid / figid_alias / filename / figlink / number / DOI / ``@id``;
- text: a caption taken from another sample figure with its sentences shuffled (so caption
  lengths follow the sample), a title with two words swapped, scores; about three figures share
  an article, and its facts (paper title, reftext, year, DOI, journal, publisher, keywords) are
  those of one sample paper for all of them, as in the real site;
- organisms: the template's list, or (one time in four) another figure's list;
- mentions: gene rows sampled (by OCR word, so one word keeps its several genes) from every gene
  row of the sample, with counts drawn from the sample's non-empty counts scaled so the mean over
  all figures is ``--mean-genes`` (17); new-style figures get ``_data/<figid>-genes.tsv`` (with the
  header of a random sample table: some releases lack ``count_synonym``; some tables CRLF),
  old-style figures a front-matter ``genes:`` list; chemicals and diseases likewise from the
  sample's rows in the template's own table format;
- ``_organisms/``: the sample's organism pages, copied.

Output is deterministic for a given (sample, N, seed), whatever ``--jobs``: figure ``i`` draws
from its own RNG seeded by ``(seed, i)``. YAML is written with libyaml's emitter, which
reproduces 127 of the 130 sample files byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_SAMPLE = Path(os.environ.get("PFOCR_SAMPLE", "/work/shared/corpus/pfocr-sample"))
if not DEFAULT_SAMPLE.exists():
    DEFAULT_SAMPLE = HERE.parent.parent / "shared" / "corpus" / "pfocr-sample"

_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")


def _front_matter(text: str) -> str:
    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        raise ValueError("no front matter")
    end = text.find("\n---", 3)
    return text[text.index("\n") + 1 : end + 1]


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]], bool]:
    raw = path.read_bytes().decode("utf-8-sig")
    crlf = "\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.replace("\r\n", "\n")), delimiter="\t",
                           quoting=csv.QUOTE_NONE))
    rows = [r for r in rows if r]
    return rows[0], rows[1:], crlf


class Sample:
    """Everything the generator draws from, read once from the real sample."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: list[dict] = []
        self.tables: dict[tuple[str, str], tuple[list[str], list[list[str]], bool]] = {}
        for path in sorted((root / "_data").glob("*.tsv")):
            figid, kind = path.name[:-4].rsplit("-", 1)
            self.tables[(figid, kind)] = _read_tsv(path)
        gene_counts: list[int] = []
        self.captions: list[str] = []
        self.titles: list[str] = []
        self.organism_lists: list[object] = []
        self.years: list[str] = []
        # Pools of mentions. Gene rows are grouped by OCR word so a word keeps all its genes.
        self.gene_groups: list[list[dict[str, str]]] = []
        self.fm_genes: list[dict] = []
        self.fm_chemicals: list[dict] = []
        self.fm_diseases: list[dict] = []
        self.table_rows: dict[tuple[str, ...], list[list[str]]] = defaultdict(list)
        self.gene_headers: list[list[str]] = []
        self.crlf_rate = 0.0
        ntables = ncrlf = 0
        for (_figid, kind), (header, rows, crlf) in self.tables.items():
            ntables += 1
            ncrlf += crlf
            if kind == "genes":
                self.gene_headers.append(header)
                by_word: dict[str, list[dict[str, str]]] = defaultdict(list)
                for r in rows:
                    by_word[r[header.index("word")]].append(dict(zip(header, r, strict=False)))
                self.gene_groups.extend(by_word.values())
            else:
                self.table_rows[(kind, *header)].extend(rows)
        self.crlf_rate = ncrlf / max(ntables, 1)
        for path in sorted((root / "_figures").glob("*.md")):
            fm = yaml.load(_front_matter(path.read_text(encoding="utf-8")), Loader=yaml.CSafeLoader)
            figid = fm["figid"]
            kinds = {k: self.tables[(figid, k)][0] for k in ("genes", "chemicals", "diseases")
                     if (figid, k) in self.tables}
            self.templates.append({"fm": fm, "tables": kinds})
            ngenes = max(len(fm.get("genes") or []),
                         len(self.tables.get((figid, "genes"), ([], []))[1]))
            if ngenes:
                gene_counts.append(ngenes)
            self.captions.append(str(fm.get("caption") or ""))
            self.titles.append(str(fm.get("figtitle") or ""))
            self.organism_lists.append(fm.get("organisms"))
            self.years.append(str(fm.get("year") or "2020"))
            self.fm_genes.extend(fm.get("genes") or [])
            self.fm_chemicals.extend(fm.get("chemicals") or [])
            self.fm_diseases.extend(fm.get("diseases") or [])
        self.gene_counts = gene_counts
        self.chem_counts = [len(rows) for (f, k), (h, rows, c) in self.tables.items()
                            if k == "chemicals"] or [3]
        self.dis_counts = [len(rows) for (f, k), (h, rows, c) in self.tables.items()
                           if k == "diseases"] or [2]
        self.organism_pages = sorted((root / "_organisms").glob("*.md"))


class Generator:
    def __init__(self, sample: Sample, seed: int, mean_genes: float, gene_rate: float) -> None:
        self.s = sample
        self.seed = seed
        self.gene_rate = gene_rate
        emp = sum(sample.gene_counts) / len(sample.gene_counts)
        # Scale the sample's non-empty counts so that gene_rate * E[count] == mean_genes.
        self.scale = mean_genes / (gene_rate * emp)

    def template_index(self, i: int) -> int:
        n = len(self.s.templates)
        rnd, pos = divmod(i, n)
        order = list(range(n))
        random.Random(f"{self.seed}:round:{rnd}").shuffle(order)
        return order[pos]

    def gene_count(self, rng: random.Random) -> int:
        if rng.random() >= self.gene_rate:
            return 0
        base = rng.choice(self.s.gene_counts) * self.scale * rng.uniform(0.6, 1.4)
        return max(1, round(base))

    def figure(self, i: int) -> tuple[str, str, dict[str, str], int]:
        """(figid, figure file text, {table kind: TSV text}, number of gene rows)."""
        s = self.s
        rng = random.Random(f"{self.seed}:{i}")
        tpl = s.templates[self.template_index(i)]
        fm = dict(tpl["fm"])
        old_figid = fm["figid"]
        # Identity: about 3 figures per article.
        article = 9_000_000 + i // 3
        figno = i % 3 + 1 + rng.randrange(0, 6)
        pmcid = f"PMC{article}"
        stem, _dot, ext = str(fm.get("filename") or f"{old_figid}.jpg").rpartition(".")
        stem = (stem or ext).split("__")[-1]
        stem = f"{stem}-b{i}"
        figid = f"{pmcid}__{stem}"
        iri = f"https://pfocr.wikipathways.org/figures/{figid}.html"
        number = f"F{figno}"
        caption = s.captions[rng.randrange(len(s.captions))]
        sentences = _SENTENCE.split(caption)
        rng.shuffle(sentences)
        caption = " ".join(sentences)
        words = s.titles[rng.randrange(len(s.titles))].split()
        if len(words) > 3:
            a, b = rng.sample(range(len(words)), 2)
            words[a], words[b] = words[b], words[a]
        title = " ".join(words)
        # Paper-level facts are the same for every figure of an article (they describe one node).
        art_rng = random.Random(f"{self.seed}:article:{article}")
        paper_fm = s.templates[art_rng.randrange(len(s.templates))]["fm"]
        paper_year = art_rng.choice(s.years)
        for key, value in (
            ("figid", figid), ("pmcid", pmcid), ("filename", f"{stem}.{ext or 'jpg'}"),
            ("figlink", f"/pmc/articles/{pmcid}/figure/{number}/"), ("number", number),
            ("figid_alias", f"{pmcid}__{number}"), ("redirect_from", f"/figures/{pmcid}__{number}"),
            ("caption", caption), ("figtitle", title), ("year", paper_year),
        ):
            if key in fm:
                fm[key] = value
        for key in ("papertitle", "reftext", "journal_title", "journal_nlm_ta", "publisher_name",
                    "keywords"):
            if key in fm and key in paper_fm:
                fm[key] = paper_fm[key]
        if str(fm.get("doi") or "").startswith("10."):
            fm["doi"] = f"10.5555/pfocr-bench.{article}"
        for key in ("automl_pathway", "pathway_score"):
            if isinstance(fm.get(key), float):
                fm[key] = round(rng.uniform(0.5, 1.0), 7)
        if "pmc_ranked_result_index" in fm:
            fm["pmc_ranked_result_index"] = str(rng.randrange(1, 99999))
        if rng.random() < 0.25:
            fm["organisms"] = rng.choice(s.organism_lists)

        tables: dict[str, str] = {}
        ngenes = self.gene_count(rng)
        symbols: list[str] = []
        old_style = "genes" in fm
        if old_style:
            genes = self._sample_fm(rng, s.fm_genes, ngenes, "word")
            fm["genes"] = genes
            symbols = [g.get("hgnc_symbol") or g.get("symbol") for g in genes]
        if "genes" in tpl["tables"] or (not old_style and ngenes):
            header = (tpl["tables"].get("genes")
                      or s.gene_headers[rng.randrange(len(s.gene_headers))])
            rows = self._sample_gene_rows(rng, ngenes or rng.randint(1, 8))
            if not old_style:
                symbols = [r["ncbigene_symbol"] for r in rows]
            tables["genes"] = self._tsv(rng, header, [[r.get(h, "") for h in header]
                                                      for r in rows])
            ngenes = max(ngenes, len(rows)) if not old_style else ngenes
        for kind, counts in (("chemicals", s.chem_counts), ("diseases", s.dis_counts)):
            if kind in fm and isinstance(fm[kind], list) and fm[kind]:
                pool = s.fm_chemicals if kind == "chemicals" else s.fm_diseases
                fm[kind] = self._sample_fm(rng, pool, max(1, len(fm[kind]) + rng.randint(-1, 2)),
                                           "word")
            if kind in tpl["tables"]:
                header = tpl["tables"][kind]
                pool = s.table_rows[(kind, *header)]
                n = max(1, int(rng.choice(counts) * rng.uniform(0.6, 1.4)))
                tables[kind] = self._tsv(rng, header, self._sample_rows(rng, pool, n, 0))

        block = fm.get("schema-jsonld")
        if isinstance(block, dict):
            block = dict(block)
            if "@id" in block:
                block["@id"] = iri
            if "description" in block:
                block["description"] = caption
            kws = block.get("keywords")
            if isinstance(kws, list):
                old_syms = set()
                for g in tpl["fm"].get("genes") or []:
                    old_syms.add(g.get("hgnc_symbol"))
                (h, rows, _) = s.tables.get((old_figid, "genes"), ([], [], False))
                if "ncbigene_symbol" in h:
                    old_syms.update(r[h.index("ncbigene_symbol")] for r in rows)
                extra = [k for k in kws if k not in old_syms]
                block["keywords"] = list(dict.fromkeys(x for x in symbols if x)) + extra
            fm["schema-jsonld"] = block
        text = "---\n" + yaml.dump(fm, Dumper=yaml.CSafeDumper, sort_keys=False,
                                   allow_unicode=True, width=80) + "---\n"
        return figid, text, tables, ngenes

    @staticmethod
    def _sample_rows(rng: random.Random, pool: list, n: int, word_col: int | None) -> list:
        if not pool:
            return []
        if n <= len(pool):
            return rng.sample(pool, n)
        out = list(pool)
        k = 0
        while len(out) < n:
            row = list(rng.choice(pool))
            k += 1
            if word_col is not None:
                row[word_col] = f"{row[word_col]}{k}"
            out.append(row)
        return out

    @staticmethod
    def _sample_fm(rng: random.Random, pool: list[dict], n: int, word_key: str) -> list[dict]:
        if not pool or n <= 0:
            return []
        if n <= len(pool):
            return [dict(x) for x in rng.sample(pool, n)]
        out = [dict(x) for x in pool]
        k = 0
        while len(out) < n:
            k += 1
            item = dict(rng.choice(pool))
            item[word_key] = f"{item[word_key]}{k}"
            out.append(item)
        return out

    def _sample_gene_rows(self, rng: random.Random, n: int) -> list[dict[str, str]]:
        groups = self.s.gene_groups
        rows: list[dict[str, str]] = []
        seen: set[int] = set()
        k = 0
        while len(rows) < n:
            j = rng.randrange(len(groups))
            group = groups[j]
            if j in seen:  # the pool is used up for this figure: vary the OCR word
                k += 1
                group = [dict(r, word=f"{r['word']}{k}") for r in group]
            seen.add(j)
            rows.extend(group[: n - len(rows)])
        return rows

    def _tsv(self, rng: random.Random, header: list[str], rows: list[list[str]]) -> str:
        eol = "\r\n" if rng.random() < self.s.crlf_rate else "\n"
        text = eol.join("\t".join(r) for r in [header, *rows])
        # Some releases end tables without a final newline.
        return text if rng.random() < 0.1 else text + eol


_GEN: Generator | None = None


def _init(sample_root: str, seed: int, mean_genes: float, gene_rate: float) -> None:
    global _GEN
    _GEN = Generator(Sample(Path(sample_root)), seed, mean_genes, gene_rate)


def _write_range(args: tuple[str, int, int]) -> tuple[int, int, int]:
    out, start, stop = args
    assert _GEN is not None
    figs = os.path.join(out, "_figures")
    data = os.path.join(out, "_data")
    genes = tables = 0
    for i in range(start, stop):
        figid, text, tabs, ngenes = _GEN.figure(i)
        with open(os.path.join(figs, figid + ".md"), "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        for kind, tsv in tabs.items():
            with open(os.path.join(data, f"{figid}-{kind}.tsv"), "w", encoding="utf-8",
                      newline="") as fh:
                fh.write(tsv)
        genes += ngenes
        tables += len(tabs)
    return stop - start, genes, tables


def generate(out: Path, figures: int, *, seed: int = 1, jobs: int | None = None,
             sample: Path = DEFAULT_SAMPLE, mean_genes: float = 17.0,
             gene_rate: float = 0.85, quiet: bool = False) -> dict[str, float]:
    """Write the site; return a few statistics (figures, gene rows, mean genes, tables)."""
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("_figures", "_data", "_organisms"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
        (out / sub).mkdir()
    for page in sorted((sample / "_organisms").glob("*.md")):
        shutil.copyfile(page, out / "_organisms" / page.name)
    jobs = jobs or os.cpu_count() or 1
    chunk = 2000
    ranges = [(str(out), a, min(a + chunk, figures)) for a in range(0, figures, chunk)]
    t0 = time.perf_counter()
    done = genes = tables = 0
    if jobs == 1 or figures <= chunk:
        _init(str(sample), seed, mean_genes, gene_rate)
        results = map(_write_range, ranges)
    else:
        pool = mp.get_context("fork").Pool(jobs, _init, (str(sample), seed, mean_genes, gene_rate))
        results = pool.imap_unordered(_write_range, ranges)
    for n, g, t in results:
        done += n
        genes += g
        tables += t
        if not quiet and sys.stderr.isatty():
            print(f"\r{done}/{figures} figures", end="", file=sys.stderr)
    if jobs != 1 and figures > chunk:
        pool.close()
        pool.join()
    stats = {"figures": figures, "gene_rows": genes, "mean_genes": genes / max(figures, 1),
             "tables": tables, "seconds": time.perf_counter() - t0}
    if not quiet:
        print(f"\rwrote {figures} figures, {tables} tables, {genes} gene rows "
              f"(mean {stats['mean_genes']:.1f}/figure) to {out} in {stats['seconds']:.1f} s",
              file=sys.stderr)
    return stats


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="site folder to (re)write (under /tmp!)")
    ap.add_argument("--figures", "-n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", "-j", type=int, default=None, help="processes (default all cores)")
    ap.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    ap.add_argument("--mean-genes", type=float, default=17.0)
    ap.add_argument("--gene-rate", type=float, default=0.85,
                    help="share of figures that mention genes at all")
    a = ap.parse_args(argv)
    if math.isnan(a.mean_genes) or a.figures < 0:
        ap.error("bad numbers")
    generate(a.out, a.figures, seed=a.seed, jobs=a.jobs, sample=a.sample,
             mean_genes=a.mean_genes, gene_rate=a.gene_rate)


if __name__ == "__main__":
    main()
