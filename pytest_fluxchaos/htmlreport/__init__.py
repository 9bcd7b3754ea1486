"""A self-contained HTML report of a run, rendered from its artifacts directory.

``render_report(artifacts_dir)`` finds every ``*/verdict.json`` below the directory
(one item each, with its ``history.jsonl``) and writes one HTML file that opens
offline: a summary table (verdict per checker against the suite's expectation), then
per item the verdicts, a timeline per policy (matplotlib, inline SVG) and the
checkers' evidence stories. From a shell (e.g. on a CI artifact)::

    python -m pytest_fluxchaos.htmlreport ARTIFACTS_DIR [-o report.html]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .model import Item, build_item, find_items

DEFAULT_NAME = "report.html"

__all__ = ["DEFAULT_NAME", "Item", "load_items", "render_html", "render_report",
           "render_session_report"]


def load_items(artifacts_dir: Path, only: list[Path] | None = None) -> list[Item]:
    """Items under ``artifacts_dir`` (or only those of the directories in ``only``)."""
    root = Path(artifacts_dir)
    dirs = find_items(root)
    if only is not None:
        wanted = {Path(d).resolve() for d in only}
        dirs = [d for d in dirs if d.resolve() in wanted]
    return [build_item(d, root) for d in dirs]


def render_html(items: list[Item], *, out: Path, source: Path) -> str:
    """The page for ``items`` (links are made relative to ``out``'s directory)."""
    from .page import render_page
    from .plot import policy_figure_svg

    figures: dict[str, list[tuple[str, str]]] = {}
    count = 0
    for item in items:
        for pol in item.policies:
            count += 1  # f1, f2 ...: unique SVG ids in the page
            svg = policy_figure_svg(item, pol, salt=f"f{count}")
            caption = (f"{pol.policy}: rank of the resolved tag in the policy order "
                       f"({pol.spec_text}) over time")
            if item.commits:
                caption += (f"; Git lane: the {len(item.commits)} commit(s) seen on the push "
                            f"branch, red where git-no-regression found a tag moved back")
            if pol.order_error:
                caption += f"; policy order unavailable ({pol.order_error}), tags in push order"
            figures.setdefault(item.anchor, []).append((caption, svg))
    return render_page(items, figures, out=out, source=source)


def render_report(artifacts_dir: Path, out: Path | None = None, *,
                  only: list[Path] | None = None) -> Path:
    """Write the HTML report of every item under ``artifacts_dir``; returns its path.

    ``out`` defaults to ``artifacts_dir/report.html``; ``only`` restricts the report to
    these item directories (a session's own items in a reused artifacts directory). The
    file is replaced atomically, so a browser never sees half a page.
    """
    root = Path(artifacts_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no such artifacts directory: {root}")
    out = Path(out) if out is not None else root / DEFAULT_NAME
    if out.is_dir():
        out = out / DEFAULT_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(load_items(root, only), out=out, source=root.resolve())
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def render_session_report(item_dirs: list[Path], out: Path | None = None, *,
                          isolated: bool = True, timeout: float = 300.0) -> tuple[Path | None, str]:
    """The report of one pytest session's items, next to them: ``(path, message)``.

    The report goes to the items' common parent directory (``--fluxchaos-artifacts``, or
    the basetemp shared by xdist workers) and lists exactly these items. ``isolated``
    renders in a child Python (``python -m pytest_fluxchaos.htmlreport``), so the pytest
    process never imports matplotlib: no global rcParams, no import cost, and pytester's
    module snapshots cannot tear numpy/matplotlib apart. Never raises: a report that
    cannot be written (matplotlib missing, disk full) is a message, verdicts stand.
    """
    dirs = [Path(d) for d in item_dirs if (Path(d) / "verdict.json").is_file()]
    if not dirs:
        return None, "fluxchaos report: no item artifacts"
    root = Path(os.path.commonpath([str(d.resolve().parent) for d in dirs]))
    out = Path(out) if out is not None else root / DEFAULT_NAME
    try:
        if isolated:
            cmd = [sys.executable, "-m", "pytest_fluxchaos.htmlreport", str(root), "-o", str(out)]
            for d in dirs:
                cmd += ["--item", str(d)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
            if proc.returncode != 0:
                why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
                why = why.removeprefix("fluxchaos report: ")
                return None, f"fluxchaos report not written: {why}"
            path = out
        else:
            path = render_report(root, out, only=dirs)
    except Exception as exc:  # noqa: BLE001 - reported, never fails the session
        return None, f"fluxchaos report not written: {exc}"
    return path, f"fluxchaos report: {path}"
