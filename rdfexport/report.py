"""Validation reports: text (grouped by figure, ``file:line``), JSON, Turtle (the standard
``sh:ValidationReport``) and one self-contained HTML page for curators.

``conforms`` means what the exit code means: no finding at or above ``fail_on`` (like pySHACL's
``allow_warnings``/``allow_infos``); with the default ``violation``, warnings and infos do not
make a release fail.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from rdfexport import vocab
from rdfexport.validate import Finding, Severity, counts, reaches

FORMATS = ("text", "json", "turtle", "html")


def conforms(findings: Sequence[Finding], fail_on: Severity) -> bool:
    return not reaches(findings, fail_on)


def summary(findings: Sequence[Finding], figures: int, fail_on: Severity) -> dict[str, Any]:
    c = counts(findings)
    by_rule = Counter(f"{f.severity.label}:{f.rule}" for f in findings)
    return {
        "figures": figures,
        "figures_with_findings": len({f.figid for f in findings}),
        "violations": c[Severity.VIOLATION],
        "warnings": c[Severity.WARNING],
        "infos": c[Severity.INFO],
        "by_rule": dict(sorted(by_rule.items())),
        "fail_on": fail_on.label.lower(),
    }


def _grouped(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.figid].append(f)
    return dict(sorted(groups.items()))


def text(findings: Sequence[Finding], figures: int, fail_on: Severity) -> str:
    """Findings grouped by figure, one line each: ``file:line: severity rule: message``."""
    out = []
    for figid, group in _grouped(findings).items():
        out.append(f"{figid}  ({vocab.figure_iri(figid)})")
        for f in group:
            value = "" if f.value is None else f"  [value: {_short(f.value)}]"
            out.append(f"  {f.where}: {f.severity.label.lower()} {f.rule}: {f.message}{value}")
        out.append("")
    s = summary(findings, figures, fail_on)
    verdict = "conforms" if conforms(findings, fail_on) else "does not conform"
    out.append(f"{_n(s['violations'], 'violation')}, {_n(s['warnings'], 'warning')}, "
               f"{_n(s['infos'], 'info')} in {s['figures_with_findings']} of "
               f"{_n(figures, 'figure')}: {verdict} (--fail-on {s['fail_on']})")
    return "\n".join(out) + "\n"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _short(value: str, limit: int = 100) -> str:
    value = value.replace("\n", " ")
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def as_json(findings: Sequence[Finding], figures: int, fail_on: Severity) -> str:
    doc = {
        "conforms": conforms(findings, fail_on),
        "results": [f.as_dict() for f in findings],
        "summary": summary(findings, figures, fail_on),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def turtle(findings: Sequence[Finding], figures: int, fail_on: Severity) -> str:
    """The standard SHACL ``sh:ValidationReport`` (what pySHACL and Jena produce)."""
    import rdflib
    from rdflib import RDF, BNode, Literal, URIRef
    from rdflib.namespace import SH

    g = rdflib.Graph()
    g.bind("sh", SH)
    g.bind("pfocrsh", "https://pfocr.wikipathways.org/shapes#")
    report = BNode("report")
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(conforms(findings, fail_on))))
    for i, f in enumerate(findings):
        r = BNode(f"r{i}")
        g.add((report, SH.result, r))
        g.add((r, RDF.type, SH.ValidationResult))
        g.add((r, SH.resultSeverity, f.severity.iri))
        g.add((r, SH.focusNode, URIRef(f.focus)))
        if f.path:
            g.add((r, SH.resultPath, URIRef(f.path)))
        if f.value_nt is not None:
            g.add((r, SH.value, _term(f.value_nt)))
        elif f.value is not None:
            g.add((r, SH.value, Literal(f.value)))
        g.add((r, SH.sourceShape, URIRef(f.shape)))
        if f.component:
            g.add((r, SH.sourceConstraintComponent, URIRef(f.component)))
        g.add((r, SH.resultMessage, Literal(f"{f.where}: {f.message}")))
    return g.serialize(format="turtle")


def _term(nt: str) -> Any:
    import rdflib

    if nt.startswith("<") and nt.endswith(">"):
        return rdflib.URIRef(nt[1:-1])
    g = rdflib.Graph()
    g.parse(data=f"<urn:s> <urn:p> {nt} .", format="nt")
    return next(iter(g.objects()))


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
.verdict{font-weight:bold}.bad{color:#b00020}.good{color:#1b5e20}
table{border-collapse:collapse;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.sev-Violation{color:#b00020;font-weight:bold}.sev-Warning{color:#a15c00;font-weight:bold}
.sev-Info{color:#0d47a1}
#filters{margin:1em 0;padding:.5em;background:#fafafa;border:1px solid #ddd}
#filters label{margin-right:1em}
td.value{font-family:monospace;min-width:16em;max-width:30em;overflow-wrap:anywhere}
.counts{display:flex;gap:2em;flex-wrap:wrap}
"""

_JS = """
function applyFilters(){
  var sev={}, boxes=document.querySelectorAll('input.sev');
  for(var i=0;i<boxes.length;i++){sev[boxes[i].value]=boxes[i].checked;}
  var rule=document.getElementById('rule').value;
  var q=document.getElementById('search').value.toLowerCase();
  var rows=document.querySelectorAll('#findings tbody tr'), shown=0;
  for(var j=0;j<rows.length;j++){
    var r=rows[j];
    var ok=sev[r.dataset.severity] && (rule==='' || r.dataset.rule===rule) &&
           (q==='' || r.textContent.toLowerCase().indexOf(q)>=0);
    r.style.display=ok?'':'none'; if(ok){shown++;}
  }
  document.getElementById('shown').textContent=shown;
}
function pickRule(rule){document.getElementById('rule').value=rule;applyFilters();return false;}
document.addEventListener('DOMContentLoaded',function(){
  var inputs=document.querySelectorAll('#filters input,#filters select');
  for(var i=0;i<inputs.length;i++){inputs[i].addEventListener('input',applyFilters);
    inputs[i].addEventListener('change',applyFilters);}
  applyFilters();
});
"""


def html_page(findings: Sequence[Finding], figures: int, fail_on: Severity) -> str:
    """One self-contained page: counts by severity and rule, filters, each finding linked."""
    e = html.escape
    s = summary(findings, figures, fail_on)
    ok = conforms(findings, fail_on)
    sev_rows = "".join(
        f'<tr><td class="sev-{sev.label}">{sev.label}</td><td id="count-{sev.label}">{n}</td></tr>'
        for sev, n in counts(findings).items())
    rule_counts = Counter((f.severity, f.rule) for f in findings)
    rule_rows = "".join(
        f'<tr><td class="sev-{sev.label}">{sev.label}</td>'
        f'<td><a href="#" data-rule="{e(rule)}" onclick="return pickRule(this.dataset.rule)">'
        f'{e(rule)}</a></td>'
        f'<td>{n}</td></tr>'
        for (sev, rule), n in sorted(rule_counts.items(), key=lambda x: (-x[0][0], x[0][1])))
    rules = sorted({f.rule for f in findings})
    options = "".join(f'<option value="{e(r)}">{e(r)}</option>' for r in rules)
    boxes = "".join(
        f'<label><input type="checkbox" class="sev" value="{sev.label}" checked> '
        f'{sev.label}</label>' for sev in sorted(Severity, reverse=True))
    rows = []
    for f in findings:
        page = vocab.figure_iri(f.figid)
        rows.append(
            f'<tr data-severity="{f.severity.label}" data-rule="{e(f.rule)}">'
            f'<td class="sev-{f.severity.label}">{f.severity.label}</td>'
            f'<td><a class="figure" href="{e(page)}">{e(f.figid)}</a></td>'
            f'<td>{e(f.rule)}</td>'
            f'<td>{e(f.message)}</td>'
            f'<td class="value">{e(f.value) if f.value is not None else ""}</td>'
            f'<td class="where">{e(f.file)}{":" + str(f.line) if f.line else ""}</td></tr>')
    verdict = (f'<span class="verdict {"good" if ok else "bad"}">'
               f'{"conforms" if ok else "does not conform"}</span> (--fail-on {s["fail_on"]})')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>PFOCR validation report</title>
<style>{_CSS}</style>
<script>{_JS}</script>
</head><body>
<h1>PFOCR validation report</h1>
<p>{figures} figures checked, {s['figures_with_findings']} with findings,
{len({f.figid for f in findings if f.severity > Severity.INFO})} with violations or warnings:
{verdict}.</p>
<div class="counts">
<table id="by-severity"><thead><tr><th>severity</th><th>findings</th></tr></thead>
<tbody>{sev_rows}</tbody></table>
<table id="by-rule"><thead><tr><th>severity</th><th>rule</th><th>findings</th></tr></thead>
<tbody>{rule_rows}</tbody></table>
</div>
<div id="filters">{boxes}
<label>rule <select id="rule"><option value="">(all)</option>{options}</select></label>
<label>search <input type="search" id="search" placeholder="figure, value, message"></label>
<span><span id="shown">{len(findings)}</span> of {len(findings)} shown</span></div>
<table id="findings"><thead><tr><th>severity</th><th>figure</th><th>rule</th><th>message</th>
<th>value</th><th>file:line</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""


WRITERS: dict[str, Callable[[Sequence[Finding], int, Severity], str]] = {
    "text": text, "json": as_json, "turtle": turtle, "html": html_page,
}


def render(fmt: str, findings: Sequence[Finding], figures: int, fail_on: Severity) -> str:
    return WRITERS[fmt](findings, figures, fail_on)
