"""The HTML report, rendered from a synthetic artifacts directory written the way a run
writes it (History.record + RunResult.write_artifacts with the real checkers)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from pytest_fluxchaos.checkers import run_checkers  # noqa: E402
from pytest_fluxchaos.checkers.core import CheckContext, PolicyUnderTest  # noqa: E402
from pytest_fluxchaos.history import (Fault, History, LeaseHolder, Note, Op, PodState,  # noqa: E402
                                      PolicyLatest, PolicyReady, PolicySpec, RepositoryReady,
                                      RepositoryScan)
from pytest_fluxchaos.htmlreport import load_items, render_report  # noqa: E402
from pytest_fluxchaos.htmlreport.__main__ import main  # noqa: E402
from pytest_fluxchaos.htmlreport.model import fault_spans, pod_lanes  # noqa: E402
from pytest_fluxchaos.runner import RunResult  # noqa: E402

NS = "fc-ha-emptydir-abc123"
POLICY = f"{NS}/app-semver"
PODS = ("image-reflector-controller-6d5b-aaaaa", "image-reflector-controller-6d5b-bbbbb")
START = datetime(2026, 11, 28, 4, 34, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> str:
        return (START + timedelta(seconds=self.t)).isoformat(timespec="milliseconds")


def stale_failover_history(regress: bool, ns: str = NS, outage: str = "ok") -> History:
    """A 4984-shaped run: 1.0.0, 1.1.0 pushed, OOM kill of the leader, 1.2.0 pushed,
    leader flip to the pod with the stale database (which regresses when ``regress``)."""
    clock = Clock()
    h = History(clock=clock, wall_clock=clock.wall)
    policy = f"{ns}/app-semver"
    a, b = PODS

    def at(t: float) -> History:
        clock.t = t
        return h

    at(0).record(Note, message="run start", data={"variant": "ha-emptydir"})
    for pod in PODS:
        at(1).record(PodState, pod=f"{ns}/{pod}", container_id=f"c-{pod}", state="running")
    at(1).record(LeaseHolder, lease=f"{ns}/irc-leader", holder=a, identity=f"{a}_1", transitions=0)
    at(1).record(PolicySpec, policy=policy, generation=1,
                 spec={"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}})
    for i, tag in enumerate(("1.0.0", "1.1.0")):
        at(1 + i / 10).record(Op, image="app", tag=tag, type="invoke")
        at(1.05 + i / 10).record(Op, image="app", tag=tag, type="ok", digest=f"sha256:{i}")
    at(3).record(RepositoryScan, repository=f"{ns}/app", revision="1", tag_count=2,
                 scan_time="2026-11-28T04:09:03Z", latest_tags=("1.1.0", "1.0.0"))
    at(3).record(RepositoryReady, repository=f"{ns}/app", status="True", reason="Succeeded",
                 message="successful scan: found 2 tags with checksum 1")
    at(7).record(PolicyReady, policy=policy, status="True", reason="Succeeded")
    at(7).record(PolicyLatest, policy=policy, tag="1.1.0")
    # fault 1: OOM-kill the leader (a); it restarts, keeps the lease
    at(8).record(Fault, fault_id="oom", f="oom-kill", phase="inject", target="leader", resolved=a)
    at(9).record(PodState, pod=f"{ns}/{a}", state="terminated", reason="OOMKilled", exit_code=137)
    at(9.2).record(Fault, fault_id="oom", f="oom-kill", phase="confirm", target="leader",
                   resolved=a, outcome="ok", detail={"reason": "OOMKilled"})
    at(9.2).record(Fault, fault_id="oom", f="oom-kill", phase="heal", target="leader", resolved=a)
    at(9.5).record(PodState, pod=f"{ns}/{a}", state="running", reason="OOMKilled", exit_code=137,
                   restart_count=1)
    # fault 2 (same id, repeated step): the lease moves to b, which then sees 1.2.0
    at(40).record(Fault, fault_id="oom", f="oom-kill", phase="inject", target="leader", resolved=a)
    at(41).record(PodState, pod=f"{ns}/{a}", state="waiting", reason="CrashLoopBackOff",
                  exit_code=137, restart_count=1)
    at(50).record(Fault, fault_id="oom", f="oom-kill", phase="confirm", target="leader",
                  resolved=a, outcome="ok")
    at(50).record(Fault, fault_id="oom", f="oom-kill", phase="heal", target="leader", resolved=a)
    at(50.3).record(PodState, pod=f"{ns}/{a}", state="running", restart_count=2)
    at(60).record(LeaseHolder, lease=f"{ns}/irc-leader", holder=b, identity=f"{b}_1", transitions=1)
    at(60.1).record(Op, image="app", tag="1.2.0", type="invoke")
    at(60.2).record(Op, image="app", tag="1.2.0", type="ok", digest="sha256:2")
    at(60.5).record(RepositoryScan, repository=f"{ns}/app", revision="2", tag_count=3,
                    latest_tags=("1.2.0", "1.1.0", "1.0.0"))
    at(61).record(PolicyLatest, policy=policy, tag="1.2.0", previous="1.1.0")
    # a registry outage (unconfirmed ones are drawn grey, hatched)
    at(70).record(Fault, fault_id="outage", f="registry-outage", phase="inject", target="registry")
    at(72).record(Fault, fault_id="outage", f="registry-outage", phase="confirm", target="registry",
                  outcome=outage)  # type: ignore[arg-type]
    at(74).record(RepositoryReady, repository=f"{ns}/app", status="False", reason="ReadOperationFailed",
                  message='scan failed: Get "http://registry:5000/v2/": EOF')
    at(80).record(Fault, fault_id="outage", f="registry-outage", phase="heal", target="registry")
    at(84).record(RepositoryScan, repository=f"{ns}/app", revision="2", tag_count=3,
                  scan_time="2026-11-28T04:10:24Z", latest_tags=("1.2.0", "1.1.0", "1.0.0"))
    at(84).record(RepositoryReady, repository=f"{ns}/app", status="True", reason="Succeeded",
                  message="successful scan: found 3 tags with checksum 2")
    # leader back to a, whose database never saw 1.2.0
    at(100).record(LeaseHolder, lease=f"{ns}/irc-leader", holder=a, identity=f"{a}_2", transitions=2)
    if regress:
        at(100.2).record(PolicyLatest, policy=policy, tag="1.1.0", previous="1.2.0")
    at(130).record(Note, message="run end")
    return h


def write_item(root: Path, name: str, *, regress: bool, expected: dict | None = None,
               variant: str = "ha-emptydir", outage: str = "ok") -> Path:
    ns = f"fc-{variant}-abc123"
    history = stale_failover_history(regress, ns, outage)
    ctx = CheckContext(policies=(PolicyUnderTest(name=f"{ns}/app-semver", image="app",
                                                 policy={"semver": {"range": ">=1.0.0"}}),),
                       irc_version="v1.2.4", converge_bound=45, stuck_bound=120)
    result = RunResult(scenario="two-flips-stale-db", variant=variant, namespace=ns,
                       backend="docker", irc_version="v1.2.4", flux_version="2.9.4", seed=7,
                       history=history, expected=expected or {}, timings={"deploy": 1.0, "run": 130.0})
    result.verdicts = run_checkers(history, ctx)
    return result.write_artifacts(root / name)


def write_unavailable(root: Path, name: str) -> Path:
    """Like FluxChaosSession._write_unavailable: every verdict unknown, an error; written
    as an older plugin did, before ready-honest (its page must still render)."""
    from pytest_fluxchaos.checkers import Validity, Verdict

    history = History()
    history.record(Note, message="environment unavailable", data={"error": "docker: no engine"})
    result = RunResult(scenario="two-flips-stale-db", variant="single-pvc", namespace="", backend="docker",
                       irc_version="", flux_version="2.9.4", seed=0, history=history,
                       error="docker backend (Flux 2.9.4) unavailable: no engine")
    result.verdicts = {n: Verdict(n, Validity.UNKNOWN, "not run: environment unavailable", ["no engine"])
                       for n in ("no-regression", "converges", "never-stuck", "faults-landed")}
    return result.write_artifacts(root / name)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    write_item(root, "suites_4984.yaml_two-flips-stale-db_ha-emptydir", regress=True,
               expected={"no-regression": False, "converges": "any"})
    write_item(root, "suites_4984.yaml_two-flips-stale-db_single", regress=False, variant="single")
    write_item(root, "suites_4984.yaml_two-flips-stale-db_ha-shared", regress=True, variant="ha-shared",
               outage="unconfirmed")
    write_unavailable(root, "nested/suites_4984.yaml_two-flips-stale-db_single-pvc")
    return root


@pytest.fixture(scope="module")
def report(artifacts: Path) -> tuple[Path, str]:
    out = render_report(artifacts)
    return out, out.read_text(encoding="utf-8")


# -- HTML inspection -------------------------------------------------------------------

class Page(HTMLParser):
    """Collects what the checks need: tags with attributes, section ids, text, styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        else:
            self.text.append(data)

    def sections(self) -> dict[str, str]:
        return {a["id"]: a.get("class", "") for t, a in self.elements if t == "section"}


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host, ftp://
RESOURCE_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "poster", "data", "background",
                  "formaction", "manifest", "cite", "longdesc", "ping"}


def remote_references(html: str) -> list[str]:
    """Every reference the browser could resolve to a remote host."""
    page = parse(html)
    found = []
    for tag, attrs in page.elements:
        if tag == "script":
            found.append("<script>")
        for name, value in attrs.items():
            if name in RESOURCE_ATTRS and (REMOTE.match(value) or value.lower().startswith("http")):
                found.append(f"{tag}[{name}]={value}")
            if name == "style":
                page.styles.append(value)
    for css in page.styles:
        for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", css):
            if not url.startswith(("#", "data:")):
                found.append(f"css url({url})")
        if "@import" in css:
            found.append("css @import")
    return found


# -- tests ---------------------------------------------------------------------------

def test_report_is_written_next_to_the_artifacts(report: tuple[Path, str], artifacts: Path) -> None:
    out, html = report
    assert out == artifacts / "report.html"
    assert html.startswith("<!DOCTYPE html>")
    assert html.rstrip().endswith("</html>")


def test_one_section_per_item_and_a_summary_table_linking_to_them(report: tuple[Path, str]) -> None:
    _out, html = report
    page = parse(html)
    sections = page.sections()
    assert len(sections) == 4
    links = [a["href"] for t, a in page.elements if t == "a" and a.get("href", "").startswith("#item-")]
    assert sorted(h[1:] for h in links) == sorted(sections)
    assert "item-nested-suites_4984.yaml_two-flips-stale-db_single-pvc" in sections
    text = " ".join("".join(page.text).split())
    assert "4 items: 2 passed, 1 failed, 1 errors" in text
    assert "2 regressions observed" in text


def summary_rows(html: str) -> dict[str, str]:
    table = html[html.index('<table class="summary">'):]
    table = table[: table.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        name = re.search(r'<a href="#[^"]*">([^<]*)</a>', row).group(1)  # type: ignore[union-attr]
        rows[name] = row
    return rows


def test_summary_table_shows_each_checker_verdict_against_its_expectation(report: tuple[Path, str]) -> None:
    _out, html = report
    head = html[html.index('<table class="summary">'):html.index("</thead>")]
    for checker in ("no-regression", "converges", "never-stuck", "faults-landed"):
        assert f"<th>{checker}</th>" in head
    rows = summary_rows(html)
    ha = rows["two-flips-stale-db[ha-emptydir]"]  # reproduced, as the suite expects
    assert '<span class="badge pass">PASS</span>' in ha
    assert '<td class="v v-false" title="1 regression(s)' in ha
    assert "<b>false</b><small>expected false ✓</small>" in ha
    assert "<b>false</b><small>expected any ✓</small>" in ha
    shared = rows["two-flips-stale-db[ha-shared]"]  # unexpected: the item fails
    assert '<span class="badge fail">FAIL</span>' in shared
    assert 'class="v v-false mismatch"' in shared
    assert "expected true ✗ unexpected" in shared
    single = rows["two-flips-stale-db[single]"]
    assert "mismatch" not in single and "v-false" not in single
    assert single.count("<b>true</b>") == 6  # no-regression, converges, never-stuck, ready-honest, no-oom, faults-landed
    unavailable = rows["two-flips-stale-db[single-pvc]"]
    assert '<span class="badge error">ERROR</span>' in unavailable
    assert unavailable.count("<b>unknown</b>") == 4


def test_regression_is_highlighted_in_the_page_and_in_the_plot(report: tuple[Path, str]) -> None:
    _out, html = report
    page = parse(html)
    sections = page.sections()
    ha = "item-suites_4984.yaml_two-flips-stale-db_ha-emptydir"
    single = "item-suites_4984.yaml_two-flips-stale-db_single"
    assert "has-regression" in sections[ha]
    assert "has-regression" not in sections[single]
    ha_html = section_html(html, ha)
    # the banner, with the suite's expectation explained
    assert 'class="banner regression"' in ha_html
    assert "REGRESSION 1.2.0 → 1.1.0</b> in fc-ha-emptydir-abc123/app-semver at t=100.2s" in ha_html
    assert "still behind at the end of the run" in ha_html
    assert "known bug was reproduced" in ha_html
    # the plot: a regression label, band, drop arrow and level, by SVG id
    for gid in ("fc-regression-0", "fc-regression-band-0", "fc-regression-arrow-0",
                "fc-regression-level-0"):
        assert f'id="{gid}-' in ha_html
    assert "REGRESSION  1.2.0 → 1.1.0" in ha_html
    single_html = section_html(html, single)
    assert 'id="fc-regression' not in single_html and "banner regression" not in single_html
    assert 'id="fc-resolved-' in single_html


def section_html(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find("<section", start)
    return html[start: end if end > 0 else len(html)]


def test_timeline_has_tag_names_faults_leaders_and_restarts(report: tuple[Path, str]) -> None:
    _out, html = report
    svg = section_html(html, "item-suites_4984.yaml_two-flips-stale-db_ha-emptydir")
    assert svg.count("<svg") == 1
    for tag in ("1.0.0", "1.1.0", "1.2.0"):
        assert f">{tag}</text>" in svg  # y tick labels are tag names
    assert 'id="fc-fault-0-' in svg and 'id="fc-fault-1-' in svg and 'id="fc-fault-2-' in svg
    assert "outage registry-outage" in svg and "(unconfirmed)" not in svg
    shared = section_html(html, "item-suites_4984.yaml_two-flips-stale-db_ha-shared")
    assert "outage registry-outage (unconfirmed)" in shared
    assert 'id="fc-leader-0-0-' in svg and 'id="fc-leader-1-0-' in svg
    assert ">leader → bbbbb</text>" in svg and ">leader → aaaaa</text>" in svg
    assert ">OOMKilled</text>" in svg and ">CrashLoopBackOff</text>" in svg
    assert "semver &gt;=1.0.0" in svg


def test_timeline_shows_the_repository_ready_and_its_scans(report: tuple[Path, str]) -> None:
    _out, html = report
    svg = section_html(html, "item-suites_4984.yaml_two-flips-stale-db_ha-emptydir")
    assert ">policy Ready</text>" in svg and ">repo app</text>" in svg
    # three scans: revisions 1, 2, 2; the last changed nothing
    marks = re.findall(r'<g id="fc-scan-(\d+)-[^"]*">.*?<use [^>]*style="([^"]*)"', svg, re.S)
    assert [(i, "stroke: #24292f" in style) for i, style in marks] == [("0", True), ("1", True),
                                                                      ("2", False)]
    assert 'id="fc-scan-3-' not in svg
    assert ">2</text>" in svg and ">3</text>" in svg  # tag counts of the scans that changed the revision
    # the repository failed during the outage (t=74..84): True, False, True
    assert [m for m in re.findall(r'id="fc-repo-ready-[^"]*-(\d+)"', svg)] == ["0", "1", "2"]
    assert ">scan: new revision</text>" in svg


def test_timeline_without_repository_observations_has_one_ready_row(tmp_path: Path) -> None:
    """An older history (or a run that never saw its repository): the Ready panel as before."""
    from pytest_fluxchaos.htmlreport.model import policy_timeline

    history = stale_failover_history(False)
    old = History.from_events([e for e in history.events
                               if not isinstance(e, (RepositoryReady, RepositoryScan))])
    pol = policy_timeline(old, POLICY, "v1.2.4", [])
    assert (pol.repository, pol.repo_ready, pol.scans) == (f"{NS}/app", [], [])
    pol = policy_timeline(history, POLICY, "v1.2.4", [])
    assert [(s.tag_count, s.revision, s.changed) for s in pol.scans] == [(2, "1", True), (3, "2", True),
                                                                         (3, "2", False)]


def test_evidence_stories_and_relative_artifact_links(report: tuple[Path, str]) -> None:
    _out, html = report
    ha = section_html(html, "item-suites_4984.yaml_two-flips-stale-db_ha-emptydir")
    assert "<details open><summary>no-regression:" in ha
    assert "regressed 1.2.0 -&gt; 1.1.0 at t=100.2s" in ha
    assert "<details><summary>faults-landed:" in ha  # true and expected: folded
    assert 'href="suites_4984.yaml_two-flips-stale-db_ha-emptydir/history.jsonl"' in ha
    assert 'href="suites_4984.yaml_two-flips-stale-db_ha-emptydir/verdict.json"' in ha
    err = section_html(html, "item-nested-suites_4984.yaml_two-flips-stale-db_single-pvc")
    assert "run did not complete:</b> docker backend (Flux 2.9.4) unavailable: no engine" in err


def test_report_loads_no_remote_resource(report: tuple[Path, str]) -> None:
    _out, html = report
    assert remote_references(html) == []
    assert not re.search(r"<(script|iframe|object|embed|link\s+rel=\"stylesheet\")", html, re.I)
    assert "@font-face" not in html
    page = parse(html)
    csp = [a["content"] for t, a in page.elements
           if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0]
    # the only http strings are SVG namespace names, which are never fetched, and a
    # controller's failure message quoted in the evidence (text, never a link)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg",
                                                                 "http://www.w3.org/1999/xlink",
                                                                 "http://registry:5000/v2/&quot;:"}


def test_remote_reference_detector_catches_what_it_should() -> None:
    bad = ('<img src="https://x/y.png"><link href="//cdn/x.css"><svg><image xlink:href="http://a/b"/>'
           '</svg><div style="background: url(http://x/a.png)"></div><style>@import "x.css";'
           " p { background: url('https://x/b.png') }</style><script></script>")
    found = remote_references(bad)
    assert len(found) == 7
    assert remote_references('<a href="#x">x</a><a href="a/b.json">j</a>'
                             '<div style="fill: url(#p1)"></div><link rel="icon" href="data:,">') == []


def test_cli_renders_from_an_artifacts_directory(artifacts: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ci" / "fluxchaos.html"
    assert main([str(artifacts), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    assert html.count("<section") == 4
    # links still reach the artifacts from the other directory
    href = re.search(r'href="([^"]*ha-emptydir/history.jsonl)"', html).group(1)  # type: ignore[union-attr]
    assert (out.parent / href).resolve() == (artifacts / "suites_4984.yaml_two-flips-stale-db_ha-emptydir"
                                             / "history.jsonl").resolve()
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such artifacts directory" in capsys.readouterr().err


def test_python_dash_m_entry_point(artifacts: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-m", "pytest_fluxchaos.htmlreport", str(artifacts),
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    noise = [line for line in proc.stderr.splitlines() if "building the font cache" not in line]
    assert noise == []  # no findfont warnings or other noise
    assert out.exists() and "fluxchaos report" in out.read_text(encoding="utf-8")


def test_empty_and_damaged_artifacts_still_render(tmp_path: Path) -> None:
    empty = render_report(tmp_path / "." if tmp_path.exists() else tmp_path, tmp_path / "empty.html")
    assert "No <code>verdict.json</code> found" in empty.read_text(encoding="utf-8")
    damaged = tmp_path / "damaged"
    item = write_item(damaged, "x", regress=True)
    with (item / "history.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"kind": "from-the-future", "t": 1.0, "wall": ""}\nnot json\n')
    (damaged / "y").mkdir()
    (damaged / "y" / "verdict.json").write_text("{broken")
    html = render_report(damaged).read_text(encoding="utf-8")
    assert "2 history line(s) of unknown kind were skipped" in html
    assert "unreadable verdict.json" in html
    assert html.count("<section") == 2


# -- model -------------------------------------------------------------------------

def test_model_ranks_tags_in_policy_order_and_pairs_repeated_faults(artifacts: Path) -> None:
    items = {i.variant: i for i in load_items(artifacts)}
    ha = items["ha-emptydir"]
    (pol,) = ha.policies
    assert pol.image == "app"
    assert pol.y_of == {"1.0.0": 0, "1.1.0": 1, "1.2.0": 2}
    assert [t for _, t in pol.resolved] == ["1.1.0", "1.2.0", "1.1.0"]
    assert pol.best[-1][1] == "1.2.0"  # the registry held 1.2.0 throughout the regression
    assert [(r.old, r.new, r.recovered_at) for r in pol.regressions] == [("1.2.0", "1.1.0", None)]
    spans = [(f.fault_id, f.inject, f.confirm, f.heal, f.outcome) for f in ha.faults]
    assert spans == [("oom", 8.0, 9.2, 9.2, "ok"), ("oom", 40.0, 50.0, 50.0, "ok"),
                     ("outage", 70.0, 72.0, 80.0, "ok")]
    assert ha.fault_counts() == (3, 3)
    assert items["ha-shared"].fault_counts() == (3, 2)
    a, b = ha.pods
    assert a.pod.endswith("aaaaa") and a.leader == [(1.0, 60.0), (100.0, 130.0)]
    assert b.leader == [(60.0, 100.0)]
    assert [why for _t, why in a.restarts] == ["OOMKilled", "CrashLoopBackOff"]
    assert ha.leader_changes == [(60.0, b.pod), (100.0, a.pod)]
    assert ha.start_wall == "2026-11-28T04:34:00Z"


def test_model_puts_tags_the_policy_cannot_select_below_the_order() -> None:
    clock = Clock()
    h = History(clock=clock, wall_clock=clock.wall)
    h.record(PolicySpec, policy="ns/p", generation=1,
             spec={"policy": {"semver": {"range": ">=1.0.0"}}})
    for tag in ("0.9.0", "latest", "1.0.0"):
        h.record(Op, image="app", tag=tag, type="ok")
    h.record(PolicyLatest, policy="ns/p", tag="1.0.0")
    from pytest_fluxchaos.htmlreport.model import policy_timeline

    pol = policy_timeline(h, "ns/p", "v1.2.4", [])
    assert pol.y_of == {"0.9.0": -1, "latest": -1, "1.0.0": 0}
    assert pol.ticks == [(-1, "not eligible"), (0, "1.0.0")]


def test_pod_lanes_and_fault_spans_tolerate_partial_histories() -> None:
    clock = Clock()
    h = History(clock=clock, wall_clock=clock.wall)
    h.record(Fault, fault_id="k", f="kill", phase="heal", target="pod-0")  # inject not seen
    h.record(LeaseHolder, lease="ns/l", holder=None)
    h.record(PodState, pod="ns/p-1", state="waiting", reason="ContainerCreating")
    (span,) = fault_spans(h)
    assert span.heal == 0.0 and span.confirm is None
    (lane,) = pod_lanes(h, 10.0)
    assert lane.restarts == [] and lane.leader == []
    assert lane.spans(10.0) == [(0.0, 10.0, "waiting")]


def test_written_verdict_json_is_what_the_report_reads(artifacts: Path) -> None:
    data = json.loads((artifacts / "suites_4984.yaml_two-flips-stale-db_ha-emptydir" / "verdict.json")
                      .read_text())
    assert data["checkers"]["no-regression"]["verdict"] == "false"
    assert data["checkers"]["no-regression"]["expected"] == "false"
    assert data["passed"] is True


def test_svg_ids_are_unique_across_the_page(report: tuple[Path, str]) -> None:
    _out, html = report
    ids = re.findall(r'\sid="([^"]+)"', html)
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates  # several inline SVGs: clip paths must not collide


def test_filter_regexps_and_dollar_signs_are_drawn_literally(tmp_path: Path) -> None:
    clock = Clock()
    h = History(clock=clock, wall_clock=clock.wall)
    spec = {"imageRepositoryRef": {"name": "build"}, "policy": {"numerical": {"order": "asc"}},
            "filterTags": {"pattern": r"^main-(?P<n>\d+)$", "extract": "$n"}}
    h.record(PolicySpec, policy="ns/build", generation=1, spec=spec)
    for n in (100, 101, 102):
        clock.t += 1
        h.record(Op, image="build", tag=f"main-{n}", type="ok")
    h.record(Op, image="build", tag="feature-7", type="ok")
    h.record(PolicyLatest, policy="ns/build", tag="main-102")
    ctx = CheckContext(policies=(PolicyUnderTest(name="ns/build", image="build", policy=spec["policy"],
                                                 filter_tags=spec["filterTags"]),), irc_version="v1.2.4")
    result = RunResult(scenario="numerical", variant="single", namespace="ns", backend="memory",
                       irc_version="v1.2.4", flux_version=None, seed=1, history=h)
    result.verdicts = run_checkers(h, ctx)
    result.write_artifacts(tmp_path / "item")
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert r"numerical asc, filter ^main-(?P&lt;n&gt;\d+)$ -&gt; $n" in html
    for tag in ("main-100", "main-101", "main-102"):
        assert f">{tag}</text>" in html
    assert ">not eligible</text>" in html  # feature-7 does not match the filter
    (item,) = load_items(tmp_path)
    assert item.policies[0].y_of == {"main-100": 0, "main-101": 1, "main-102": 2, "feature-7": -1}


def test_session_report_lists_only_the_sessions_items(artifacts: Path, tmp_path: Path) -> None:
    from pytest_fluxchaos.htmlreport import render_session_report

    base = tmp_path / "out"
    old = write_item(base, "old-run-item", regress=False, variant="single")
    new = [write_item(base, "a", regress=True, expected={"no-regression": False}),
           write_item(base / "gw1", "b", regress=False, variant="single")]
    path, message = render_session_report(new)  # in a child Python
    assert path == base / "report.html" and message == f"fluxchaos report: {path}"
    assert render_session_report(new, isolated=False)[0] == path
    html = path.read_text(encoding="utf-8")
    assert html.count("<section") == 2 and "old-run-item" not in html
    assert 'href="gw1/b/verdict.json"' in html
    assert render_session_report([]) == (None, "fluxchaos report: no item artifacts")
    (old / "verdict.json").unlink()
    assert render_session_report([old])[0] is None


def test_session_report_failure_is_a_message_not_an_error(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_fluxchaos.htmlreport as htmlreport

    item = write_item(tmp_path, "a", regress=False, variant="single")

    def no_matplotlib(*_a: object, **_k: object) -> str:
        raise RuntimeError("the HTML report needs matplotlib: pip install 'pytest-fluxchaos[report]'")

    monkeypatch.setattr(htmlreport, "render_html", no_matplotlib)
    path, message = htmlreport.render_session_report([item], isolated=False)
    assert path is None and "needs matplotlib" in message
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".report-*"))
    # the same in the child process: a matplotlib that cannot be imported
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fake), os.environ.get("PYTHONPATH")])))
    path, message = htmlreport.render_session_report([item])
    assert path is None
    assert message == ("fluxchaos report not written: the HTML report needs matplotlib: "
                       "pip install 'pytest-fluxchaos[report]' (or pip install matplotlib)")


# -- the Git lane: an automation run whose branch regressed (flux2#4984 in Git) -------

GIT_NS = "fc-ha-emptydir-9f3c2a"
GIT_POLICY = f"{GIT_NS}/app"
GIT_PODS = ("image-reflector-controller-7c9d8f6b5-k2x7q", "image-reflector-controller-7c9d8f6b5-w9mzt")
GIT_EXPECTED = {"no-regression": False, "converges": "any", "git-no-regression": False,
                "git-converges": "any"}


def fake_sha(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()


def git_regressed_history(ns: str = GIT_NS) -> History:
    """A realistic automation run of the 4984 scenario on ha-emptydir: 1.0.0 and 1.1.0
    pushed, the seed commit, IAC writes 1.1.0; the leader (a) is OOM-killed and kept down
    until b leads; 1.2.0 is pushed, b resolves it and IAC writes it; b is OOM-killed, a
    leads again with its pre-1.2.0 database: the policy goes 1.2.0 -> 1.1.0 and IAC commits
    1.1.0 over 1.2.0. The history ends past the Git convergence bound."""
    from pytest_fluxchaos.history import GitCommit
    from pytest_fluxchaos.setters import marker_comment

    clock = Clock()
    h = History(clock=clock, wall_clock=clock.wall)
    policy = f"{ns}/app"
    a, b = GIT_PODS
    lease = f"{ns}/image-reflector-controller-leader-election"
    ref = f"fluxchaos-registry:5000/{ns}/app"
    shas: list[str] = []

    def at(t: float) -> History:
        clock.t = t
        return h

    def commit(t: float, tag: str, *, seed: bool = False) -> None:
        text = f"          image: {ref}:{tag} {marker_comment(ns, 'app')}"
        sha = fake_sha(f"{len(shas)}:{tag}")
        at(t).record(GitCommit, repo=ns, branch="main", sha=sha, parents=tuple(shas[-1:]),
                     author=("fluxchaos <fluxchaos@example.invalid>" if seed
                             else "fluxcdbot <fluxcdbot@users.noreply.github.com>"),
                     message="fluxchaos: seed" if seed else f"Update app to {tag}",
                     committed=clock.wall()[:19] + "Z",
                     markers=({"path": "deploy/app.yaml", "line": 17, "policy": policy,
                               "form": "image", "value": f"{ref}:{tag}", "tag": tag,
                               "text": text},), seed=seed)
        shas.append(sha)

    def push(t: float, tag: str, n: int) -> None:
        at(t).record(Op, image="app", tag=tag, type="invoke")
        at(t + 0.15).record(Op, image="app", tag=tag, type="ok", digest=f"sha256:{n:064x}")

    def oom(t: float, fid: str, victim: str, other: str, takeover: float) -> None:
        at(t).record(Fault, fault_id=fid, f="oom-kill", phase="inject", target="leader", resolved=victim)
        at(t + 1.1).record(PodState, pod=f"{ns}/{victim}", container_id=f"c-{victim}-1",
                           state="terminated", reason="OOMKilled", exit_code=137, restart_count=0)
        at(t + 1.6).record(PodState, pod=f"{ns}/{victim}", container_id=f"c-{victim}-2",
                           state="running", restart_count=1)
        at(t + 1.7).record(Fault, fault_id=fid, f="oom-kill", phase="confirm", target="leader",
                           resolved=victim, outcome="ok",
                           detail={"reason": "OOMKilled", "exit_code": 137, "kernel": "oom_kill=1"})
        at(takeover).record(LeaseHolder, lease=lease, holder=other, identity=f"{other}_2",
                            transitions=len(h.of(LeaseHolder)))
        at(takeover + 0.2).record(Fault, fault_id=fid, f="oom-kill", phase="heal", target="leader",
                                  resolved=victim, detail={"thawed": True})

    at(0).record(Note, message="run start", data={"variant": "ha-emptydir"})
    for pod in GIT_PODS:
        at(0.8).record(PodState, pod=f"{ns}/{pod}", container_id=f"c-{pod}-1", state="running")
    at(1.2).record(LeaseHolder, lease=lease, holder=a, identity=f"{a}_1", transitions=0)
    at(1.5).record(PolicySpec, policy=policy, generation=1,
                   spec={"imageRepositoryRef": {"name": "app"},
                         "policy": {"semver": {"range": ">=1.0.0"}}})
    commit(1.9, "seed", seed=True)
    push(2.0, "1.0.0", 0)
    push(2.4, "1.1.0", 1)
    at(4.1).record(RepositoryScan, repository=f"{ns}/app", revision="r1", tag_count=2,
                   latest_tags=("1.1.0", "1.0.0"))
    at(4.1).record(RepositoryReady, repository=f"{ns}/app", status="True", reason="Succeeded")
    at(4.4).record(PolicyReady, policy=policy, status="True", reason="Succeeded")
    at(4.4).record(PolicyLatest, policy=policy, tag="1.1.0")
    commit(9.8, "1.1.0")
    oom(14.0, "oom-1", a, b, takeover=30.5)              # b leads; a restarts, stale
    push(33.0, "1.2.0", 2)
    at(34.2).record(RepositoryScan, repository=f"{ns}/app", revision="r2", tag_count=3,
                    latest_tags=("1.2.0", "1.1.0", "1.0.0"))
    at(34.5).record(PolicyLatest, policy=policy, tag="1.2.0", previous="1.1.0")
    commit(39.6, "1.2.0")
    oom(44.0, "oom-2", b, a, takeover=60.8)              # a leads with its old database
    at(61.3).record(PolicyLatest, policy=policy, tag="1.1.0", previous="1.2.0")
    commit(66.9, "1.1.0")
    at(150.0).record(Note, message="run end")
    return h


def write_git_item(root: Path, name: str, *, expected: dict | None = None) -> Path:
    history = git_regressed_history()
    ctx = CheckContext(policies=(PolicyUnderTest(name=GIT_POLICY, image="app",
                                                 policy={"semver": {"range": ">=1.0.0"}}),),
                       irc_version="v1.2.4", converge_bound=45, stuck_bound=120,
                       automation=True, git_lag=30)
    result = RunResult(scenario="two-flips-stale-db-git", variant="ha-emptydir", namespace=GIT_NS,
                       backend="kind", irc_version="v1.2.4", flux_version="2.9.4", seed=4984,
                       history=history, expected=GIT_EXPECTED if expected is None else expected,
                       timings={"deploy": 52.3, "run": 150.0})
    result.verdicts = run_checkers(history, ctx)
    return result.write_artifacts(root / name)


GIT_ITEM = "suites_4984-git.yaml_two-flips-stale-db-git_ha-emptydir"
GIT_SHAS = [fake_sha(f"{i}:{tag}") for i, tag in enumerate(("seed", "1.1.0", "1.2.0", "1.1.0"))]


@pytest.fixture(scope="module")
def git_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("git-artifacts")
    write_git_item(root, GIT_ITEM)
    write_item(root, "suites_4984.yaml_two-flips-stale-db_single", regress=False, variant="single")
    out = render_report(root)
    return root, out.read_text(encoding="utf-8")


def test_git_item_verdicts_are_the_checkers(git_report: tuple[Path, str]) -> None:
    root, _html = git_report
    data = json.loads((root / GIT_ITEM / "verdict.json").read_text())
    checkers = data["checkers"]
    assert checkers["git-no-regression"]["verdict"] == "false"
    [reg] = checkers["git-no-regression"]["data"]["regressions"]
    assert (reg["sha"], reg["parent"], reg["old"], reg["new"]) == (GIT_SHAS[3], GIT_SHAS[2],
                                                                  "1.2.0", "1.1.0")
    assert checkers["git-converges"]["verdict"] == "false"
    assert checkers["git-converges"]["data"]["policies"][GIT_POLICY]["final_tags"] == ["1.1.0"]
    assert data["passed"] is True  # the suite expects both


def test_git_lane_marks_every_commit_and_the_regressing_one_in_red(git_report: tuple[Path, str]) -> None:
    _root, html = git_report
    sec = section_html(html, f"item-{GIT_ITEM}")
    assert sec.count("<svg") == 1
    for i in range(4):
        assert f'id="fc-commit-{i}-' in sec
    assert 'id="fc-commit-4-' not in sec
    # one red label, the commit git-no-regression named, with what it did
    assert sec.count('id="fc-git-regression-') == 1
    start = sec.index('id="fc-git-regression-0-')
    label = sec[start: sec.index("</text>", start)]  # the label group: its red box, its text
    assert f"{GIT_SHAS[3][:7]} app:1.2.0→1.1.0" in label
    assert "#d62728" in label  # the regression red
    # the other commits: short SHA and the tag their markers hold; the seed says so
    for sha, tag in zip(GIT_SHAS[:3], ("seed", "1.1.0", "1.2.0")):
        assert f">{sha[:7]} {tag}</text>" in sec
    assert ">seed commit</text>" in sec and ">commit moving a tag back</text>" in sec
    assert "push branch fc-ha-emptydir-9f3c2a@main: 4 commit(s) observed" in sec
    assert "git-converges false (expected 1.2.0, ends at 1.1.0)" in sec
    assert "Git lane: the 4 commit(s) seen on the push branch" in sec


def test_git_commit_table_highlights_the_regressing_commit(git_report: tuple[Path, str]) -> None:
    _root, html = git_report
    sec = section_html(html, f"item-{GIT_ITEM}")
    table = sec[sec.index('<table class="commits">'):]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr class="([^"]*)" id="[^"]*-commit-([0-9a-f]{7})">(.*?)</tr>', table, re.S)
    assert [(cls, sha) for cls, sha, _ in rows] == [
        ("seed", GIT_SHAS[0][:7]), ("", GIT_SHAS[1][:7]), ("", GIT_SHAS[2][:7]),
        ("git-regression", GIT_SHAS[3][:7])]
    last = rows[-1][2]
    assert ">66.9</td>" in last and f"<code>{GIT_SHAS[2][:7]}</code>" in last
    assert "<td>1.1.0</td><td>Update app to 1.1.0</td>" in last
    assert "moves back: app:1.2.0→1.1.0" in last
    assert f"GIT REGRESSION commit {GIT_SHAS[3][:7]} app:1.2.0 → 1.1.0</b> (deploy/app.yaml:17" in sec
    assert "has-regression" in parse(html).sections()[f"item-{GIT_ITEM}"]


def test_git_checkers_in_the_summary_table_only_where_they_ran(git_report: tuple[Path, str]) -> None:
    _root, html = git_report
    head = html[html.index('<table class="summary">'):html.index("</thead>")]
    names = re.findall(r"<th>([a-z-]+)</th>", head)
    assert names[names.index("no-regression"):names.index("git-converges") + 1] == [
        "no-regression", "converges", "never-stuck", "ready-honest", "no-oom", "faults-landed",
        "git-no-regression", "git-converges"]
    rows = summary_rows(html)
    git = rows["two-flips-stale-db-git[ha-emptydir]"]
    assert git.count("<b>false</b><small>expected false ✓</small>") == 2
    plain = rows["two-flips-stale-db[single]"]
    assert plain.count('<td class="v">-</td>') == 2  # no automation: no Git verdict
    single = section_html(html, "item-suites_4984.yaml_two-flips-stale-db_single")
    assert "fc-commit-" not in single and 'class="commits"' not in single
    assert "push branch" not in single and "git-no-regression" not in single


def test_reports_without_automation_render_as_before(report: tuple[Path, str]) -> None:
    _out, html = report
    html = html[html.index("</style>"):]  # the page's CSS knows the commit table
    assert "git-" not in html and "fc-commit-" not in html and 'class="commits"' not in html
    assert "seed commit" not in html and "GIT REGRESSION" not in html


def test_the_lane_follows_the_verdict_not_its_own_judgement(tmp_path: Path) -> None:
    item = write_git_item(tmp_path, "x")
    path = item / "verdict.json"
    data = json.loads(path.read_text())
    regs = data["checkers"]["git-no-regression"]["data"]["regressions"]
    regs[0]["sha"] = GIT_SHAS[2]  # the checker (say, a newer one) names another commit
    path.write_text(json.dumps(data))
    (loaded,) = load_items(tmp_path)
    assert [c.regressed for c in loaded.commits] == [False, False, True, False]
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert f"{GIT_SHAS[2][:7]} app:1.2.0→1.1.0" in html
    # an artifact without the Git verdicts (an older plugin) draws no red commit
    del data["checkers"]["git-no-regression"], data["checkers"]["git-converges"]
    path.write_text(json.dumps(data))
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert "fc-git-regression-" not in html and "GIT REGRESSION" not in html
    assert html.count('id="fc-commit-') == 4 and "<th>git-no-regression</th>" not in html


def test_commit_labels_never_overlap_and_regressions_are_placed_first() -> None:
    from pytest_fluxchaos.htmlreport.plot import place_labels

    xs = [60.0 + 2 * i for i in range(12)]
    texts = [f"{i:07x} app:1.2.0→1.1.0" if i % 2 else f"{i:07x} 1.2.0" for i in range(12)]
    flagged = [bool(i % 2) for i in range(12)]
    rows, left = place_labels(xs, texts, flagged, 150.0)
    placed = [i for i, r in enumerate(rows) if r is not None]
    assert len(placed) < 12  # too crowded for all: some ordinary labels give way ...
    assert sum(1 for i in placed if flagged[i]) >= sum(1 for i in placed if not flagged[i])
    assert rows[1] == 0  # ... never the first regression
    rows, left = place_labels([148.0, 10.0], ["abc1234 app:1.2.0→1.1.0", "def5678 1.1.0"],
                              [True, False], 150.0)
    assert rows == [0, 0] and left == [True, False]  # near the end: drawn leftwards
