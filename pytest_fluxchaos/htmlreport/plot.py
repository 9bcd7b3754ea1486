"""The timeline figure of one policy, drawn with matplotlib and returned as inline SVG.

Three panels share the time axis (seconds since the run started):

1. the resolved tag's rank in the policy order (y ticks are tag names, most preferred
   on top), the best tag the registry certainly held (dashed), the tags pushed
   (triangles), and each regression the ``no-regression`` checker found: a red band
   from the regression until it recovered (or the end), a red drop arrow and a label;
2. the policy's Ready condition and, below it, its ImageRepository's: Ready, and a mark
   per successful scan (dark where the tag revision changed, labelled with the tag count;
   grey where it did not);
3. with an image automation (``GitCommit`` events), the Git lane: one mark per commit
   observed on the push branch (the plugin's seed commit hollow), labelled with its short
   SHA and the tag(s) its setter markers hold for the policy; the commits the
   ``git-no-regression`` checker flagged are red, labelled ``abc1234 app:1.2.0→1.1.0``;
4. one lane per controller replica: container state (running / down), leader
   segments and container deaths/restarts (with the reason, e.g. ``OOMKilled``).

Fault bands (inject -> confirm darker, confirm -> heal lighter) cross all panels.
Artists carry SVG ids (``fc-regression-<n>-<salt>``, ``fc-fault-*``, ``fc-leader-*``,
``fc-resolved-*``, ``fc-commit-<n>-<salt>``, ``fc-git-regression-<n>-<salt>``,
``fc-scan-<n>-<salt>``, ``fc-repo-ready-<n>-<salt>``; the salt
makes them unique in the page) so tests can find them. Only
the object-oriented API is used (no pyplot, so no global figure registry and no GUI
backend); rcParams are set in a context for the duration of one figure.
"""

from __future__ import annotations

import io
import re
from typing import Any

from .model import Item, PolicyTimeline, common_prefix
from .plot_git import _git_panel, commit_label, place_labels  # noqa: F401 - the Git lane, re-exported
from .plot_style import AXES_WIDTH_PT, COLORS, LABEL_ROWS

MAX_MINOR_TICKS = 300
MAX_TICK_LABELS = 28


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise RuntimeError("the HTML report needs matplotlib: pip install "
                           "'pytest-fluxchaos[report]' (or pip install matplotlib)") from exc
    return matplotlib


def policy_figure_svg(item: Item, pol: PolicyTimeline, salt: str) -> str:
    """Inline ``<svg>`` (no XML prolog, DOCTYPE or metadata) of one policy's timeline."""
    mpl = _matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rc = {"svg.fonttype": "none", "svg.hashsalt": salt, "font.size": 9,
          "text.parse_math": False,  # tags and filter regexps contain "$"
          "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"],
          "axes.titlesize": 10, "axes.titleweight": "bold", "axes.spines.right": False,
          "axes.spines.top": False}
    with mpl.rc_context(rc):
        n_ticks = max(1, len(pol.ticks))
        n_pods = max(1, len(item.pods))
        main_h = max(2.6, 0.30 * n_ticks + 1.4)
        pods_h = 0.42 * n_pods + 0.55
        two_rows = _repository_row(pol)
        ready_h = 0.8 if two_rows else 0.42
        git_h = 1.25 if item.commits else 0.0
        heights = [main_h, ready_h] + ([git_h] if git_h else []) + [pods_h]
        fig = Figure(figsize=(12, sum(heights) + 1.0 + (0.2 if git_h else 0.0)),
                     layout="constrained")
        gs = fig.add_gridspec(len(heights), 1, height_ratios=heights)
        ax = fig.add_subplot(gs[0])
        ax_ready = fig.add_subplot(gs[1], sharex=ax)
        ax_git = fig.add_subplot(gs[2], sharex=ax) if git_h else None
        ax_pods = fig.add_subplot(gs[len(heights) - 1], sharex=ax)
        panels = [a for a in (ax, ax_ready, ax_git, ax_pods) if a is not None]
        end = max(item.end, 1.0)

        for a in panels:
            _fault_bands(a, item, top=a is ax, salt=salt)
            for i, reg in enumerate(pol.regressions):
                stop = reg.recovered_at if reg.recovered_at is not None else end
                band = a.axvspan(reg.t, stop, color=COLORS["regression"], alpha=0.13, lw=0, zorder=0.5)
                if a is ax:
                    band.set_gid(f"fc-regression-band-{i}-{salt}")
                a.axvline(reg.t, color=COLORS["regression"], lw=1.6, zorder=3)

        labels = pod_labels([p.pod for p in item.pods])
        names = [f"leader → {labels.get(holder, holder)}" for _t, holder in item.leader_changes]
        rows = stack_rows([t for t, _ in item.leader_changes], names, end, anchor="right")
        for (t, _holder), name, row in zip(item.leader_changes, names, rows):
            ax.axvline(t, color=COLORS["leader"], lw=1, ls=(0, (2, 2)), zorder=2.5)
            if row is not None and len(item.leader_changes) <= 12:  # unless the lease churns
                ax.annotate(name, xy=(t, 1), xycoords=("data", "axes fraction"),
                            xytext=(-3, -3 - 10 * row), textcoords="offset points", ha="right",
                            va="top", fontsize=7.5, color=COLORS["leader"], zorder=3)
        _rank_panel(ax, pol, end, salt)
        _ready_panel(ax_ready, pol, end, salt)
        if ax_git is not None:
            _git_panel(ax_git, item, pol, end, salt)
        _pods_panel(ax_pods, item, end, salt)

        ax.set_xlim(0, end * 1.005)
        for a in panels[:-1]:
            a.tick_params(labelbottom=False)
        ax_pods.set_xlabel("seconds since the run started"
                           + (f" (t=0 at {item.start_wall})" if item.start_wall else ""))
        title = f"policy {pol.policy}  ·  {pol.spec_text}"
        if pol.image:
            title += f"  ·  image {pol.image}"
        fault_rows = max((r for r in stack_rows([f.inject for f in item.faults],
                                                 [fault_label(f) for f in item.faults], end)
                          if r is not None), default=0)
        ax.set_title(title, loc="left", pad=16 + 10 * fault_rows)

        handles = [Line2D([], [], color=COLORS["resolved"], lw=2.2, label="resolved tag (latestRef)"),
                   Line2D([], [], color=COLORS["best"], lw=1.4, ls="--", label="best tag in registry"),
                   Line2D([], [], color=COLORS["push"], marker="^", ls="", label="tag pushed"),
                   Patch(color=COLORS["fault"], alpha=0.45, label="fault inject → confirm"),
                   Patch(color=COLORS["fault"], alpha=0.18, label="fault confirm → heal"),
                   Patch(color=COLORS["leader"], label="leader"),
                   Line2D([], [], color=COLORS["leader"], lw=1, ls=(0, (2, 2)), label="leader change"),
                   Patch(color=COLORS["running"], label="container running"),
                   Patch(color=COLORS["down"], label="container down"),
                   Line2D([], [], color=COLORS["regression"], marker="X", ls="", label="container died"),
                   Patch(color=COLORS["regression"], alpha=0.3, label="regression"),
                   Patch(color=COLORS["ready_True"], label="Ready True"),
                   Patch(color=COLORS["ready_False"], label="Ready False"),
                   Patch(color=COLORS["ready_Unknown"], label="Ready Unknown")]
        if pol.scans:
            handles += [
                Line2D([], [], color=COLORS["scan"], marker="|", mew=1.6, ls="",
                       label="scan: new revision"),
                Line2D([], [], color=COLORS["scan_same"], marker="|", mew=1.6, ls="",
                       label="scan: same revision")]
        if item.commits:
            handles += [
                Line2D([], [], color=COLORS["commit"], marker="o", ls="", label="commit"),
                Line2D([], [], color=COLORS["seed"], marker="s", mfc="white", ls="",
                       label="seed commit"),
                Line2D([], [], color=COLORS["regression"], marker="D", ls="",
                       label="commit moving a tag back")]
        fig.legend(handles=handles, loc="outside lower center", ncol=6 if item.commits else 7,
                   frameon=False)

        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return clean_svg(buf.getvalue(), prefix=f"{salt}-")


def clean_svg(svg: str, prefix: str = "") -> str:
    """Make matplotlib's SVG document embeddable: drop the XML prolog, DOCTYPE (it names a
    remote DTD) and RDF metadata; prefix matplotlib's own ids (``figure_1``, clip paths
    ...) so several figures in one page do not collide (ours, ``fc-*``, are already
    unique); let the browser scale it to the page width."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    if prefix:
        def own(match: re.Match[str]) -> str:
            name = match.group(2)
            return match.group(0) if name.startswith("fc-") else f"{match.group(1)}{prefix}{name}"

        svg = re.sub(r'(\bid=")([^"]+)', own, svg)
        svg = re.sub(r"(url\(#)([^)]+)", own, svg)
        svg = re.sub(r'(href="#)([^"]+)', own, svg)
    svg = re.sub(r'(<svg\b[^>]*?)\swidth="[^"]*"\s+height="[^"]*"',
                 r'\1 class="timeline" preserveAspectRatio="xMinYMin meet"', svg, count=1)
    return svg.strip()


# --------------------------------------------------------------------------- labels



def fault_label(f: Any) -> str:
    label = f"{f.fault_id} {f.f}"
    return label + (f" ({f.outcome})" if f.outcome not in (None, "ok") else "")


def stack_rows(xs: list[float], texts: list[str], end: float, *, anchor: str = "left",
               fontsize: float = 7.5) -> list[int | None]:
    """A row per label so that labels close in time do not overlap (None: no room).

    Widths are estimated from the character count (DejaVu Sans averages ~0.6 em), which
    is all a legible stack needs."""
    per_pt = max(end, 1e-9) / AXES_WIDTH_PT
    row_end: list[float] = []  # rightmost x used per row
    rows: list[int | None] = []
    for x, text in sorted(zip(xs, texts), key=lambda p: p[0]):
        width = (len(text) * 0.6 * fontsize + 6) * per_pt
        start, stop = (x, x + width) if anchor == "left" else (x - width, x)
        for row, used in enumerate(row_end):
            if start > used:
                row_end[row] = stop
                rows.append(row)
                break
        else:
            if len(row_end) < LABEL_ROWS:
                row_end.append(stop)
                rows.append(len(row_end) - 1)
            else:
                rows.append(None)
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    out: list[int | None] = [None] * len(xs)
    for rank, i in enumerate(order):
        out[i] = rows[rank]
    return out


def pod_labels(pods: list[str]) -> dict[str, str]:
    """Short replica labels: what follows the pods' common name prefix (``g87xg``); a
    lone pod keeps its last two name parts (``67d66d5b64-g87xg``)."""
    if len(pods) == 1:
        return {pods[0]: "-".join(pods[0].split("-")[-2:])}
    prefix = common_prefix(pods)
    labels = {}
    for pod in pods:
        label = pod[len(prefix):]
        if len(label) < 3:  # "<slot>-<n>"-style names: keep one more part
            label = "-".join(pod.split("-")[-2:])
        labels[pod] = label or pod
    return labels


# --------------------------------------------------------------------------- panels

def _fault_bands(ax: Any, item: Item, top: bool, salt: str) -> None:
    from matplotlib.transforms import blended_transform_factory

    end = max(item.end, 1.0)
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    labels = [fault_label(f) for f in item.faults]
    rows = stack_rows([f.inject for f in item.faults], labels, end)
    for i, f in enumerate(item.faults):
        color = COLORS["fault"] if f.outcome in (None, "ok") else COLORS["fault_failed"]
        confirm = f.confirm if f.confirm is not None else (f.heal if f.heal is not None else end)
        heal = f.heal if f.heal is not None else (end if f.confirm is None else f.confirm)
        width = max(confirm - f.inject, end * 0.002)  # a kill confirmed in 1s is still visible
        a = ax.axvspan(f.inject, f.inject + width, color=color, alpha=0.45, lw=0, zorder=0.4)
        if top:
            a.set_gid(f"fc-fault-{i}-{salt}")
        if heal > confirm:
            ax.axvspan(confirm, heal, color=color, alpha=0.18, lw=0, zorder=0.4,
                       hatch=None if f.outcome in (None, "ok") else "//")
        row = rows[i]
        if top and row is not None:
            ax.annotate(labels[i], xy=(f.inject, 1), xycoords=trans, xytext=(0, 2 + 10 * row),
                        textcoords="offset points", fontsize=7.5, color="#a05a00", ha="left",
                        va="bottom", annotation_clip=False)


def _rank_panel(ax: Any, pol: PolicyTimeline, end: float, salt: str) -> None:
    ys = [y for y, _ in pol.ticks] or [0]
    lo, hi = min(ys + [0]), max(ys + [0])
    below = 1.3 if pol.regressions and min(pol.y_of.get(r.new, lo) for r in pol.regressions) <= lo else 0.6
    ax.set_ylim(lo - below, hi + 0.8)
    ax.set_ylabel("tag (policy order, most preferred on top)")
    _tag_ticks(ax, pol)
    ax.grid(axis="y", color="#e6e6e6", lw=0.8, zorder=0)

    # best tag certainly in the registry
    if pol.best:
        xs, yv = _steps([(t, pol.y_of.get(tag) if tag else None) for t, tag in pol.best], end)
        ax.plot(xs, yv, color=COLORS["best"], lw=1.4, ls="--", drawstyle="steps-post", zorder=2)

    # resolved tag
    if pol.resolved:
        xs, yv = _steps([(t, pol.y_of.get(tag) if tag else None) for t, tag in pol.resolved], end)
        line, = ax.plot(xs, yv, color=COLORS["resolved"], lw=2.4, drawstyle="steps-post", zorder=4)
        line.set_gid(f"fc-resolved-{salt}")
        first = [(t, pol.y_of[tag]) for t, tag in pol.resolved if tag in pol.y_of]
        if first:
            ax.plot([first[0][0]], [first[0][1]], "o", color=COLORS["resolved"], ms=4, zorder=4)
    else:
        ax.text(0.5, 0.5, "the policy never resolved a tag", transform=ax.transAxes,
                ha="center", va="center", color="#888")

    # pushes and deletes: one artist per kind, so a bulk load of thousands of tags is
    # three markers series, not thousands of artists (smaller markers when crowded)
    size = 7 if len(pol.pushes) <= 200 else 3
    for kind, marker, style in (("delete", "v", {"color": COLORS["delete"]}),
                                ("ok", "^", {"color": COLORS["push"]}),
                                ("failed", "^", {"mfc": "none", "color": COLORS["push_failed"]})):
        points = [(t, pol.y_of.get(tag, -1)) for t, tag, typ, f in pol.pushes
                  if kind == ("delete" if f == "delete-tag" else "ok" if typ == "ok" else "failed")]
        if points:
            ax.plot([t for t, _ in points], [y for _, y in points], marker, ls="none", ms=size, zorder=5, **style)

    for t in pol.spec_changes:
        ax.axvline(t, color="#555", lw=1, ls=":", zorder=2)
        ax.text(t, hi + 0.7, " spec changed", fontsize=7, color="#555", va="top")

    # regressions: red level, drop arrow, label
    for i, reg in enumerate(pol.regressions):
        y_old = pol.y_of.get(reg.old, hi)
        y_new = pol.y_of.get(reg.new, lo)
        stop = reg.recovered_at if reg.recovered_at is not None else end
        seg, = ax.plot([reg.t, stop], [y_new, y_new], color=COLORS["regression"], lw=4.5,
                       solid_capstyle="butt", zorder=6)
        seg.set_gid(f"fc-regression-level-{i}-{salt}")
        arrow = ax.annotate("", xy=(reg.t, y_new), xytext=(reg.t, y_old), zorder=7,
                            arrowprops={"arrowstyle": "-|>,head_width=0.45,head_length=0.8",
                                        "color": COLORS["regression"], "lw": 3})
        arrow.arrow_patch.set_gid(f"fc-regression-arrow-{i}-{salt}")
        left = reg.t > end * 0.7  # label left of the line when the band is narrow
        what = "still behind at the end" if reg.recovered_at is None else \
            f"recovered t={reg.recovered_at:.1f}s"
        label = ax.annotate(
            f"REGRESSION  {reg.old} → {reg.new}\nt={reg.t:.1f}s, {what}",
            xy=(reg.t, y_new), xytext=(-10 if left else 10, -12),
            textcoords="offset points", ha="right" if left else "left", va="top",
            color="white", fontweight="bold", fontsize=10, zorder=8,
            bbox={"boxstyle": "round,pad=0.35", "fc": COLORS["regression"], "ec": "none"})
        label.set_gid(f"fc-regression-{i}-{salt}")


def _tag_ticks(ax: Any, pol: PolicyTimeline) -> None:
    ticks = pol.ticks
    if len(ticks) > MAX_TICK_LABELS:
        important = {pol.y_of[t] for _, t in pol.resolved if t in pol.y_of}
        important |= {pol.y_of.get(r.old, -2) for r in pol.regressions}
        important |= {pol.y_of.get(r.new, -2) for r in pol.regressions}
        step = max(1, len(ticks) // (MAX_TICK_LABELS - min(len(important), MAX_TICK_LABELS // 2)))
        keep = {y for i, (y, _) in enumerate(ticks) if i % step == 0} | important
        if len(ticks) <= MAX_MINOR_TICKS:  # beyond, a tick per tag is ink and minutes of layout
            ax.set_yticks([y for y, _ in ticks], minor=True)
        ticks = [(y, lab) for y, lab in ticks if y in keep]
    ax.set_yticks([y for y, _ in ticks], [lab for _, lab in ticks])
    if any(y < 0 for y, _ in ticks):
        for lab in ax.get_yticklabels():
            if lab.get_text() == "not eligible":
                lab.set_color("#888")
                lab.set_fontstyle("italic")


def _steps(points: list[tuple[float, int | None]], end: float) -> tuple[list[float], list[float]]:
    xs = [t for t, _ in points] + [end]
    ys = [float("nan") if y is None else float(y) for _, y in points]
    ys.append(ys[-1])
    return xs, ys


def _repository_row(pol: PolicyTimeline) -> bool:
    return pol.repository is not None and bool(pol.repo_ready or pol.scans)


def _ready_bars(ax: Any, ready: list[tuple[float, str, str]], end: float, y: float,
                gid: str | None = None) -> None:
    for i, (t, status, _reason) in enumerate(ready):
        stop = ready[i + 1][0] if i + 1 < len(ready) else end
        bars = ax.broken_barh([(t, max(stop - t, 1e-6))], (y - 0.35, 0.7),
                              color=COLORS.get(f"ready_{status}", "#ddd"), zorder=2)
        if gid:
            bars.set_gid(f"{gid}-{i}")


def _ready_panel(ax: Any, pol: PolicyTimeline, end: float, salt: str) -> None:
    for spine in ("left",):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if not _repository_row(pol):
        _ready_bars(ax, pol.ready, end, 0.5)
        ax.set_ylim(0, 1)
        ax.set_yticks([0.5], ["Ready"])
        return
    _ready_bars(ax, pol.ready, end, 1.0)
    _ready_bars(ax, pol.repo_ready, end, 0.0, gid=f"fc-repo-ready-{salt}")
    ax.set_ylim(-0.5, 1.5)
    repo = (pol.repository or "").rsplit("/", 1)[-1]
    ax.set_yticks([1.0, 0.0], ["policy Ready", f"repo {repo}"])
    labelled = sum(1 for s in pol.scans if s.changed) <= 15
    for i, scan in enumerate(pol.scans):
        mark, = ax.plot([scan.t], [0.0], "|", ms=14, mew=1.8, zorder=4,
                        color=COLORS["scan"] if scan.changed else COLORS["scan_same"])
        mark.set_gid(f"fc-scan-{i}-{salt}")
        if scan.changed and labelled:
            ax.annotate(str(scan.tag_count), xy=(scan.t, 0.0), xytext=(2, 6),
                        textcoords="offset points", fontsize=6.5, color=COLORS["scan"],
                        va="bottom", zorder=5)


def _pods_panel(ax: Any, item: Item, end: float, salt: str) -> None:
    pods = item.pods
    prefix = common_prefix([p.pod for p in pods]) if len(pods) > 1 else ""
    which = f"    (pods {prefix}*)" if prefix else (f"    (pod {pods[0].pod})" if len(pods) == 1 else "")
    labels = pod_labels([p.pod for p in pods])
    n = max(1, len(pods))
    ax.set_ylim(n - 0.5, -0.5)  # first pod on top
    ax.set_yticks(range(len(pods)), [labels[p.pod] for p in pods])
    ax.tick_params(axis="y", length=0)
    ax.set_ylabel("replica")
    ax.set_title("replicas: container state, leader, deaths/restarts"
                 + which,
                 loc="left", fontsize=8.5, fontweight="normal", color="#444")
    for row, lane in enumerate(pods):
        for start, stop, state in lane.spans(end):
            color = COLORS["running"] if state == "running" else (
                COLORS["waiting"] if state == "waiting" else COLORS["down"])
            ax.broken_barh([(start, max(stop - start, 1e-6))], (row - 0.36, 0.72), color=color, zorder=1)
        for j, (start, stop) in enumerate(lane.leader):
            bars = ax.broken_barh([(start, max(stop - start, 1e-6))], (row - 0.16, 0.32),
                                  color=COLORS["leader"], zorder=3)
            bars.set_gid(f"fc-leader-{row}-{j}-{salt}")
        for t, why in lane.restarts:
            ax.plot([t], [row], "X", color=COLORS["regression"], ms=9, mec="white", mew=0.8, zorder=5)
            ax.annotate(why, xy=(t, row), xytext=(7, 0), textcoords="offset points", fontsize=7.5,
                        color="#8a0c0c", va="center", zorder=6,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    if not pods:
        ax.text(0.5, 0.5, "no controller pod observed", transform=ax.transAxes,
                ha="center", va="center", color="#888")
