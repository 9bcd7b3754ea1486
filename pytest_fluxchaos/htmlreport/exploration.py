"""``explore.html``: one exploration on one page, from its ``exploration.json``.

What a maintainer reads the morning after a nightly exploration: how many schedules ran,
each finding with its original and minimal schedule, the shrink path (every candidate,
what was tried and whether it still failed) and links to the minimal run's report and
replayable suite. Plain HTML, no plotting: it renders in the pytest process.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:75em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;
vertical-align:top}.fail{color:#b00020;font-weight:600}.pass{color:#1b5e20}.na{color:#777}
ol{margin:.2em 0}h2{margin-top:1.5em}"""


def _moves(moves: list[str]) -> str:
    return "<ol>" + "".join(f"<li>{html.escape(m)}</li>" for m in moves) + "</ol>"


def _mark(failing: bool | None) -> str:
    if failing is None:
        return '<span class="na">not a scenario</span>'
    return '<span class="fail">still fails</span>' if failing else '<span class="pass">passes</span>'


def _link(base: Path, target: str | None, text: str) -> str:
    if not target:
        return ""
    path = Path(target)
    try:
        rel = path.relative_to(base).as_posix()
    except ValueError:
        rel = path.as_posix()
    return f'<a href="{html.escape(rel)}">{html.escape(text)}</a>'


def _slice_dir(data: dict[str, Any], finding: dict[str, Any]) -> str:
    """The folder of the slice that found ``finding``, relative to the merged page."""
    run = next((t for t in data["trials"] if t.get("slice") == finding["slice"] and t.get("artifacts")), None)
    return Path(run["artifacts"]).parent.parent.name if run else "."


def _phase(trial: dict[str, Any]) -> str:
    return str(trial["phase"]) + (f" (slice {trial['slice']})" if "slice" in trial else "")


def render_exploration(data: dict[str, Any], base: Path) -> str:
    e = html.escape
    slices = f" in {data['slices']} slices (xdist workers)" if data.get("slices") else ""
    head = (f"<h1>explore {e(data['explore'])}</h1><p>seed {data['seed']}{slices} (replay with "
            f"<code>--fluxchaos-seed={data['seed']}</code>): {data['schedules']} schedules in "
            f"{data['seconds']:.0f}s; {len(data['findings'])} finding(s), {data['flaky']} flaky, "
            f"{data['errors']} errored, {data['invalid']} invalid, {data['duplicates']} duplicate(s); "
            f"a schedule fails when it fails in {data['confirm']['k']} of {data['confirm']['r']} runs.</p>")
    parts = [head]
    for f in data["findings"]:
        folder = (f"{_slice_dir(data, f)}/" if "slice" in f else "") + f"findings/{f['name']}"
        parts.append(f"<h2>{e(', '.join(f['checkers']))} <small>{e(f['signature'])}</small></h2>")
        parts.append(f"<p>found after {f['found_at']:.0f}s; {f['runs']} runs to confirm and shrink; "
                     f"{'1-minimal' if f['one_minimal'] else 'shrink budget reached (not proven 1-minimal)'}. "
                     f"<a href=\"{e(folder)}/report.html\">report of the minimal run</a> · "
                     f"<a href=\"{e(folder)}/{e(f['name'])}.yaml\">replayable suite</a> · "
                     f"<a href=\"{e(folder)}/upstream.md\">upstream paragraph</a></p>")
        parts.append("<table><tr><th>original</th><th>minimal</th></tr><tr>"
                     f"<td>{e(f['original']['variant'])}{_moves(f['original']['moves'])}</td>"
                     f"<td>{e(f['minimal']['variant'])}{_moves(f['minimal']['moves'])}</td></tr></table>")
        rows = "".join(f"<tr><td>{i + 1}</td><td>{e(s['why'])}</td><td>{_mark(s['failing'])}</td><td>{s['runs']}</td>"
                       f"<td>{e(s['variant'])}: {e('; '.join(s['moves']))}</td></tr>"
                       for i, s in enumerate(f["shrink_path"]))
        parts.append("<table><tr><th>#</th><th>tried</th><th>result</th><th>runs</th><th>candidate</th></tr>"
                     f"{rows}</table>")
        if f.get("verifications"):
            checks = "".join(f"<li>{v['moves']} moves ({e(v['signature'])}): failed {v['failures']} of "
                             f"{v['runs']} further runs: "
                             + ('<span class="fail">holds up</span>' if v["failing"]
                                else '<span class="pass">does not hold up</span>') + "</li>" for v in f["verifications"])
            parts.append(f"<p>verification of the shrunk schedule (a failed one bisects the path):</p><ul>{checks}</ul>")
    rows = "".join(f"<tr><td>{t['index']}</td><td>{e(_phase(t))}</td><td>{e(t['schedule']['variant'])}</td>"
                   f"<td>{len(t['schedule']['moves'])}</td>"
                   f"<td class=\"{'fail' if t['failing'] else 'pass'}\">{e(', '.join(t['failing']) or 'ok')}</td>"
                   f"<td>{e(t['error'] or '')}</td><td>{t['seconds']:.0f}s</td>"
                   f"<td>{_link(base, t['artifacts'], 'run')}</td></tr>" for t in data["trials"])
    parts.append("<h2>Every run</h2><table><tr><th>#</th><th>phase</th><th>variant</th><th>moves</th>"
                 f"<th>failed</th><th>error</th><th>time</th><th></th></tr>{rows}</table>")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>explore {e(data['explore'])}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def write_exploration_page(directory: Path) -> Path:
    data = json.loads((directory / "exploration.json").read_text())
    out = directory / "explore.html"
    out.write_text(render_exploration(data, directory))
    return out
