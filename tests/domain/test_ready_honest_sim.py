"""A registry outage on the simulation, as image-reflector-controller#449 reports it: the
repository's scans fail (Ready=False, a Warning per failed scan) while the policy keeps
its Ready=True, so ready-honest is false; once the registry is back the repository
recovers and the policy moves on."""

from __future__ import annotations

from ruamel.yaml import YAML

from pytest_fluxchaos.checkers import CheckContext, NeverStuck, PolicyUnderTest, ReadyHonest, Validity
from pytest_fluxchaos.generator import Generator
from pytest_fluxchaos.history import History, KubeEvent, PolicyReady, RepositoryReady, RepositoryScan
from pytest_fluxchaos.scenario import Scenario
from pytest_fluxchaos.variants import PRESETS

from .conftest import Sim

STEPS = """
  - push: {image: app, tags: [1.0.0, 1.1.0]}
  - after: {policy: app, tag: 1.1.0}
  - fault: {kind: registry-outage, id: down, duration: 1.2s}
  - after: {fault: down}
    delay: 1.6s
  - push: {image: app, tags: [1.2.0]}
  - after: {policy: app, tag: 1.2.0, timeout: 3s}"""


def run(sim: Sim) -> History:
    doc = YAML(typ="safe").load(f"""
name: outage
images: [{{name: app}}]
repositories: [{{name: app, image: app, interval: 0.1s}}]
policies: [{{name: app, repository: app, policy: {{semver: {{range: ">=1.0.0"}}}}}}]
steps:
{STEPS}
bounds: {{converge: 2s, settle: 0.3s, stuck: 5s, wait: 3s, timeout: 20s}}
""")
    sc = Scenario.model_validate(doc)
    sim.env.apply_objects(sim.ns, sc, PRESETS["single"])
    Generator(sc, sim.env, sim.ns, sim.history, sim.nemesis, seed=1).run(deadline=sim.history.now() + 15)
    sim.nemesis.heal_all()
    return sim.history


def test_an_outage_leaves_the_policy_ready_and_ready_honest_false(single: Sim) -> None:
    h = run(single)
    repo, policy = f"{single.ns}/app", f"{single.ns}/app"
    readies = [(e.status, e.reason) for e in h.of(RepositoryReady)]
    assert readies == [("True", "Succeeded"), ("False", "ReadOperationFailed"), ("True", "Succeeded")]
    failed, recovered = h.of(RepositoryReady)[1:]
    assert failed.message == "scan failed: registry unreachable (simulated)"
    assert recovered.message.startswith("successful scan: found 2 tags with checksum ")
    # the policy never left Ready=True: it is not re-run while the revision stands still
    assert {e.status for e in h.of(PolicyReady)} == {"True"}
    warnings = [w for w in h.of(KubeEvent) if w.involved == repo]
    assert len(warnings) >= 2 and [w.count for w in warnings] == list(range(1, len(warnings) + 1))
    assert all(failed.t <= w.t < recovered.t for w in warnings)
    scans = h.of(RepositoryScan)
    assert scans and all(s.scan_time and s.scan_time.endswith("Z") for s in scans)

    put = PolicyUnderTest(policy, "app", {"semver": {"range": ">=1.0.0"}}, repository=repo)
    v = ReadyHonest().check(h, CheckContext(policies=(put,), honest_bound=0.5))
    assert v.valid is Validity.FALSE, v.summary
    (failure,) = v.data["policies"][policy]["failures"]
    assert failure["since"] == failed.t and failure["until"] == recovered.t
    assert failure["policy_message"] == "Latest image tag for app resolved to 1.1.0"
    story = "\n".join(v.story)
    assert f"repository {repo} had failed since t={failed.t:.1f}s" in story
    assert "scan failed: registry unreachable (simulated)" in story
    # longer than the outage, the same failure is tolerated
    assert ReadyHonest().check(h, CheckContext(policies=(put,), honest_bound=5.0)).valid is Validity.TRUE
    # the policy never warned: no storm to report
    assert NeverStuck().check(h, CheckContext(policies=(put,))).data["policies"][policy]["warnings"] is None
