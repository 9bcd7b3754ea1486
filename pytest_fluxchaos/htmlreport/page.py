"""The HTML page: summary table, then one section per item (verdicts, timelines, story;
with an image automation, the commits seen on its push branch).

Plain string building with ``html.escape`` (no template engine dependency). The page is
self-contained: CSS inline, figures as inline SVG, no script, no web font, and a
Content-Security-Policy that forbids the browser to load anything at all.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from pytest_fluxchaos.checkers.story import fmt_wall
from pytest_fluxchaos.assets.provenance import controllers_line

from .commits import short_sha
from .model import CHECKER_ORDER, Item, verdict_matches

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --red:#d62728; --green:#2a8a3a; --amber:#b7791f; --ink:#1d232b; --muted:#5d6670;
        --line:#dde2e8; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif;
       color: var(--ink); margin: 0; background: #fff; }
header.page { background: #1d232b; color: #fff; padding: 14px 28px; }
header.page h1 { margin: 0; font-size: 20px; }
header.page p { margin: 4px 0 0; color: #c9d1d9; font-size: 13px; }
main { padding: 12px 28px 40px; }
h2 { font-size: 18px; margin: 0 0 6px; }
a { color: #0b5cad; }
code, pre { font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.counts { font-size: 15px; margin: 10px 0 12px; }
.counts b.bad { color: var(--red); }
table { border-collapse: collapse; }
table.summary { width: 100%; margin-bottom: 18px; }
table.summary th, table.summary td { border: 1px solid var(--line); padding: 5px 8px; text-align: left;
                                     vertical-align: top; }
table.summary th { background: var(--bg); font-weight: 600; font-size: 13px; }
td.v { min-width: 92px; }
td.v b { display: block; font-size: 14px; }
td.v small, td small { color: var(--muted); font-size: 11.5px; }
.v-true b, b.v-true { color: var(--green); }
.v-false b, b.v-false { color: var(--red); }
.v-unknown b, b.v-unknown { color: var(--amber); }
td.v-false { background: #fdecea; }
td.v-unknown { background: #fff6e0; }
td.mismatch { outline: 2px solid var(--red); outline-offset: -2px; }
td.mismatch small { color: var(--red); font-weight: 600; }
.badge { display: inline-block; border-radius: 4px; padding: 1px 8px; font-size: 12px; font-weight: 700;
         color: #fff; vertical-align: middle; letter-spacing: .03em; }
.badge.pass { background: var(--green); } .badge.fail { background: var(--red); }
.badge.error { background: #7a1010; }
td.regr b { color: var(--red); font-size: 15px; }
section.item { border-top: 3px solid var(--line); padding: 14px 0 8px; margin-top: 18px; }
section.item.has-regression { border-top-color: var(--red); }
.meta { color: var(--muted); font-size: 13px; margin: 2px 0 10px; }
.meta span + span::before { content: " · "; }
.banner { border-radius: 6px; padding: 10px 14px; margin: 10px 0; font-size: 14.5px; }
.banner.regression { background: var(--red); color: #fff; }
.banner.regression b { font-size: 16px; }
.banner.regression .why { display: block; font-size: 13px; opacity: .95; margin-top: 3px; }
.banner.error { background: #fdecea; border: 1px solid var(--red); color: #7a1010; }
.banner.note { background: var(--bg); border: 1px solid var(--line); color: var(--muted); }
table.verdicts td, table.verdicts th { padding: 3px 10px 3px 0; text-align: left; vertical-align: top;
                                       font-size: 13.5px; }
figure { margin: 12px 0 6px; }
figure svg.timeline { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; }
details { margin: 6px 0; }
details summary { cursor: pointer; font-weight: 600; }
details pre { background: var(--bg); border: 1px solid var(--line); padding: 8px 10px; overflow-x: auto;
              margin: 6px 0; white-space: pre-wrap; }
.top { font-size: 12px; margin-left: 8px; font-weight: normal; }
table.commits { margin: 4px 0 10px; font-size: 13px; }
table.commits th, table.commits td { border-bottom: 1px solid var(--line); padding: 3px 12px 3px 0;
                                     text-align: left; vertical-align: top; }
table.commits th { font-weight: 600; }
table.commits td.num { text-align: right; }
table.commits tr.seed td { color: var(--muted); }
table.commits tr.git-regression td { background: #fdecea; color: #7a1010; }
table.commits tr.git-regression td.why { font-weight: 700; }
h3.git { font-size: 14.5px; margin: 14px 0 2px; }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 24px; }
"""


def _rel_link(target: Path, out_dir: Path) -> str:
    try:
        rel = os.path.relpath(target.resolve(), out_dir.resolve())
    except ValueError:  # another drive on Windows
        rel = target.resolve().as_uri()
    return Path(rel).as_posix()


def _vclass(value: Any) -> str:
    value = str(value)
    return f"v-{value}" if value in ("true", "false", "unknown") else "v-unknown"


def _fmt_s(value: Any) -> str:
    try:
        return f"{float(value):.0f}"
    except (TypeError, ValueError):
        return "-"


def checker_names(items: list[Item]) -> list[str]:
    names: list[str] = [n for n in CHECKER_ORDER if any(n in i.checkers for i in items)]
    for item in items:
        for n in item.checkers:
            if n not in names:
                names.append(n)
    return names


def verdict_cell(checker: dict[str, Any] | None) -> str:
    if checker is None:
        return '<td class="v">-</td>'
    got = str(checker.get("verdict"))
    want = str(checker.get("expected", "true"))
    ok = verdict_matches(checker)
    mark = "✓" if ok else "✗ unexpected"
    cls = f"v {_vclass(got)}" + ("" if ok else " mismatch")
    return (f'<td class="{cls}" title="{escape(str(checker.get("summary", "")))}">'
            f"<b>{escape(got)}</b><small>expected {escape(want)} {mark}</small></td>")


def render_page(items: list[Item], figures: dict[str, list[tuple[str, str]]], *, out: Path,
                source: Path) -> str:
    out_dir = out.parent
    names = checker_names(items)
    n_pass = sum(1 for i in items if i.outcome == "pass")
    n_fail = sum(1 for i in items if i.outcome == "fail")
    n_err = sum(1 for i in items if i.outcome == "error")
    n_regr = sum(len(i.regressions) for i in items)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<link rel="icon" href="data:,">',
             f"<title>fluxchaos report — {escape(source.name or str(source))}</title>",
             f"<style>{CSS}</style></head><body>",
             '<header class="page" id="summary"><h1>fluxchaos report</h1>',
             f"<p>{escape(str(source))} · generated {generated}</p></header><main>"]
    counts = (f'<p class="counts">{len(items)} item{"s" if len(items) != 1 else ""}: '
              f"{n_pass} passed, " + (f'<b class="bad">{n_fail} failed</b>' if n_fail else "0 failed")
              + ", " + (f'<b class="bad">{n_err} errors</b>' if n_err else "0 errors")
              + (f' · <b class="bad">{n_regr} regression{"s" if n_regr != 1 else ""} observed</b>'
                 if n_regr else " · no regression observed") + "</p>")
    parts.append(counts)
    if not items:
        parts.append('<div class="banner note">No <code>verdict.json</code> found under this '
                     "directory.</div>")
    else:
        parts.append(_summary_table(items, names))
    for item in items:
        parts.append(_item_section(item, figures.get(item.anchor, []), out_dir))
    parts.append("</main><footer>Verdicts: <b>true</b> = checked, nothing wrong; <b>false</b> = "
                 "evidence of a violation; <b>unknown</b> = the history does not allow a decision. "
                 "A verdict matches when it equals the suite's expectation (<i>any</i> accepts "
                 "every verdict); an item passes when all match.</footer></body></html>")
    return "\n".join(parts)


def _summary_table(items: list[Item], names: list[str]) -> str:
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = [f"<table class=\"summary\"><thead><tr><th>item</th><th>result</th>{head}"
            "<th>regressions</th><th>faults<br><small>inj/conf</small></th><th>run s</th>"
            "<th>backend · IRC · Flux</th></tr></thead><tbody>"]
    for item in items:
        cells = "".join(verdict_cell(item.checkers.get(n)) for n in names)
        injected, confirmed = item.fault_counts()
        n_regr = len(item.regressions)
        regr = f'<td class="regr"><b>{n_regr}</b></td>' if n_regr else "<td>0</td>"
        v = item.verdict
        env = " · ".join(str(x) for x in (v.get("backend"), v.get("irc_version"),
                                          v.get("flux_version")) if x)
        rows.append(
            f'<tr class="{"has-regression" if n_regr else ""}"><td><a href="#{item.anchor}">'
            f"{escape(item.title)}</a><br><small>{escape(item.rel)}</small></td>"
            f'<td><span class="badge {item.outcome}">{item.outcome.upper()}</span></td>{cells}{regr}'
            f"<td>{injected}/{confirmed}</td><td>{_fmt_s((v.get('timings') or {}).get('run'))}</td>"
            f"<td>{escape(env)}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _regression_banner(item: Item) -> str:
    regs = item.regressions
    if not regs:
        return ""
    checker = item.checkers.get("no-regression") or {}
    expected = str(checker.get("expected", "true"))
    if expected == "false":
        why = ("The suite expects this regression (no-regression: expected false): the known bug "
               "was reproduced, so the item passes.")
    elif expected == "any":
        why = "The suite accepts any no-regression verdict for this variant."
    else:
        why = "The suite expects no regression here: the item fails."
    lines = []
    for r in regs:
        rec = r.get("recovered_at")
        after = ("still behind at the end of the run" if rec is None
                 else f"recovered at t={float(rec):.1f}s")
        wall = f" ({escape(fmt_wall(str(r.get('wall'))))})" if r.get("wall") else ""
        lines.append(f"<b>REGRESSION {escape(str(r.get('old')))} → {escape(str(r.get('new')))}</b> "
                     f"in {escape(str(r.get('policy')))} at t={float(r.get('t', 0)):.1f}s{wall}, "
                     f"{after}")
    return (f'<div class="banner regression" role="alert">{"<br>".join(lines)}'
            f'<span class="why">{escape(why)}</span></div>')


def _item_section(item: Item, figures: list[tuple[str, str]], out_dir: Path) -> str:
    v = item.verdict
    cls = "item has-regression" if item.regressions or item.git_regressions else "item"
    timings = v.get("timings") or {}
    meta = [f"backend {v.get('backend', '?')}", f"IRC {v.get('irc_version') or '?'}"]
    if v.get("flux_version"):
        meta.append(f"Flux {v['flux_version']}")
    line = controllers_line(v.get("controllers"))
    if line:
        meta.append(line)
    meta += [f"seed {v.get('seed')}", f"namespace {v.get('namespace') or '-'}"]
    meta += [f"{k} {float(s):.1f}s" for k, s in timings.items() if isinstance(s, (int, float))]
    links = []
    for name in ("history.jsonl", "verdict.json"):
        path = item.directory / name
        if path.exists():
            links.append(f'<a href="{escape(_rel_link(path, out_dir))}">{name}</a>')
    parts = [f'<section class="{cls}" id="{item.anchor}">',
             f'<h2>{escape(item.title)} <span class="badge {item.outcome}">{item.outcome.upper()}'
             f'</span><a class="top" href="#summary">↑ summary</a></h2>',
             '<p class="meta">' + "".join(f"<span>{escape(m)}</span>" for m in meta)
             + (f"<span>{' '.join(links)}</span>" if links else "") + "</p>"]
    if item.error:
        parts.append(f'<div class="banner error"><b>run did not complete:</b> {escape(item.error)}</div>')
    parts.append(_regression_banner(item))
    parts.append(_git_regression_banner(item))
    mismatches = item.mismatches()
    if mismatches and not item.error:
        parts.append('<div class="banner error"><b>unexpected verdicts:</b> '
                     + escape(", ".join(f"{n}: expected {item.checkers[n].get('expected')}, got "
                                        f"{item.checkers[n].get('verdict')}" for n in mismatches))
                     + "</div>")
    parts.append(_verdict_table(item))
    for caption, svg in figures:
        parts.append(f'<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>')
    if not figures and not item.error:
        parts.append('<div class="banner note">No policy was observed in this history.</div>')
    parts.append(_commit_table(item))
    if item.skipped_lines:
        parts.append(f'<div class="banner note">{item.skipped_lines} history line(s) of unknown '
                     "kind were skipped.</div>")
    for name, checker in item.checkers.items():
        story = checker.get("evidence") or []
        if not story:
            continue
        notable = str(checker.get("verdict")) != "true" or not verdict_matches(checker)
        is_open = " open" if notable and not item.error else ""
        parts.append(f"<details{is_open}><summary>{escape(name)}: "
                     f'<b class="{_vclass(checker.get("verdict"))}">{escape(str(checker.get("verdict")))}'
                     f"</b> — evidence ({len(story)} lines)</summary>"
                     f"<pre>{escape(chr(10).join(str(s) for s in story))}</pre></details>")
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _verdict_table(item: Item) -> str:
    if not item.checkers:
        return ""
    rows = ['<table class="verdicts"><tr><th>checker</th><th>verdict</th><th>expected</th>'
            "<th>summary</th></tr>"]
    for name, c in item.checkers.items():
        ok = verdict_matches(c)
        rows.append(f"<tr><td>{escape(name)}</td>"
                    f'<td><b class="{_vclass(c.get("verdict"))}">{escape(str(c.get("verdict")))}</b></td>'
                    f"<td>{escape(str(c.get('expected', 'true')))} {'✓' if ok else '<b class=v-false>✗</b>'}"
                    f"</td><td>{escape(str(c.get('summary', '')))}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _git_regression_banner(item: Item) -> str:
    """The commits ``git-no-regression`` found writing an older tag (its data, verbatim)."""
    regs = item.git_regressions
    if not regs:
        return ""
    expected = str((item.checkers.get("git-no-regression") or {}).get("expected", "true"))
    why = {"false": "The suite expects it (git-no-regression: expected false).",
           "any": "The suite accepts any git-no-regression verdict for this variant."}.get(
        expected, "The suite expects no such commit: the item fails.")
    lines = [f"<b>GIT REGRESSION commit {escape(short_sha(str(r.get('sha'))))} "
             f"{escape(str(r.get('image') or r.get('policy')))}:{escape(str(r.get('old')))} → "
             f"{escape(str(r.get('new')))}</b> ({escape(str(r.get('path')))}:{escape(str(r.get('line')))}"
             f", parent {escape(short_sha(r.get('parent')))}) at t={float(r.get('t', 0)):.1f}s"
             for r in regs]
    return (f'<div class="banner regression git" role="alert">{"<br>".join(lines)}'
            f'<span class="why">{escape(why)}</span></div>')


def _commit_table(item: Item) -> str:
    """Every commit seen on the push branch: when, which, on what, the tags it holds."""
    if not item.commits:
        return ""
    first = item.commits[0]
    rows = [f'<h3 class="git">Commits on {escape(first.repo)}@{escape(first.branch)}</h3>',
            '<table class="commits"><tr><th>t (s)</th><th>SHA</th><th>parent</th><th>tags</th>'
            "<th>message</th><th></th></tr>"]
    for c in item.commits:
        cls = "git-regression" if c.regressed else ("seed" if c.seed else "")
        tags = ", ".join(c.tags_of()) or "-"
        note = ("seed (the plugin's)" if c.seed else "")
        if c.regressed:
            note = "moves back: " + ", ".join(c.regression_labels())
        rows.append(f'<tr class="{cls}" id="{escape(item.anchor)}-commit-{escape(c.short)}">'
                    f'<td class="num" title="{escape(c.wall)}">{c.t:.1f}</td>'
                    f'<td><code title="{escape(c.sha)}">{escape(c.short)}</code></td>'
                    f"<td><code>{escape(short_sha(c.parent)) if c.parent else '-'}</code></td>"
                    f"<td>{escape(tags)}</td><td>{escape(c.message)}</td>"
                    f'<td class="why">{escape(note)}</td></tr>')
    rows.append("</table>")
    return "".join(rows)
