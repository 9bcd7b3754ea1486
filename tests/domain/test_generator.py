"""The generator against the simulation: triggers that never fire end the run with
StepTimeout, repeat-until retries, and a duration fault heals on schedule."""

from __future__ import annotations

import time

import pytest
from ruamel.yaml import YAML

from pytest_fluxchaos.generator import Generator, StepTimeout
from pytest_fluxchaos.history import Fault, Note, Op
from pytest_fluxchaos.runner import run_scenario
from pytest_fluxchaos.scenario import Scenario
from pytest_fluxchaos.variants import PRESETS

from .conftest import Sim


def scenario(steps: str) -> Scenario:
    doc = YAML(typ="safe").load(f"""
name: unit
images: [{{name: app, tags: [1.0.0, 1.1.0, 1.2.0]}}]
repositories: [{{name: app, image: app, interval: 0.2s}}]
policies: [{{name: app, repository: app, policy: {{semver: {{range: ">=1.0.0"}}}}}}]
steps:
{steps}
bounds: {{converge: 2s, settle: 0.3s, stuck: 5s, wait: 3s, timeout: 20s}}
""")
    return Scenario.model_validate(doc)


def generator(sim: Sim, sc: Scenario) -> Generator:
    sim.env.apply_objects(sim.ns, sc, PRESETS["ha-emptydir"])
    return Generator(sc, sim.env, sim.ns, sim.history, sim.nemesis, seed=1)


def test_a_trigger_that_never_fires_raises_step_timeout(sim: Sim) -> None:
    sc = scenario("  - push: {image: app, tags: [1.0.0]}\n"
                  "  - after: {policy: app, tag: 9.9.9, timeout: 0.5s}")
    gen = generator(sim, sc)
    t0 = time.monotonic()
    with pytest.raises(StepTimeout, match=r"step 2: .*9\.9\.9.* did not happen within 0s"):
        gen.run(deadline=sim.history.now() + 10)
    assert time.monotonic() - t0 < 5
    assert any(n.message == "step 1 trigger timed out" for n in sim.history.of(Note))


def test_a_met_trigger_lets_the_step_act(sim: Sim) -> None:
    sc = scenario("  - push: {image: app, tags: [1.0.0, 1.1.0]}\n"
                  "  - after: {policy: app, tag: 1.1.0, timeout: 3s}\n"
                  "    push: {image: app, tags: [1.2.0]}")
    generator(sim, sc).run(deadline=sim.history.now() + 10)
    pushed = [e.tag for e in sim.history.of(Op) if e.f == "push-tag" and e.type == "ok"]
    assert pushed == ["1.0.0", "1.1.0", "1.2.0"]


def test_repeat_until_gives_up_after_its_attempts(sim: Sim) -> None:
    sc = scenario("  - fault: {kind: lease-delete, target: leader, confirm-timeout: 1s}\n"
                  "    repeat: {times: 2, every: 0.1s, until: {scan: app, contains: 7.7.7, timeout: 0.3s}}")
    with pytest.raises(StepTimeout, match="did not hold after 2 attempts"):
        generator(sim, sc).run(deadline=sim.history.now() + 10)
    assert [e.phase for e in sim.history.of(Fault)].count("inject") == 2


def test_a_duration_fault_heals_while_the_generator_waits(sim: Sim) -> None:
    sc = scenario("  - fault: {kind: registry-outage, duration: 0.3s, confirm-timeout: 1s}\n"
                  "  - delay: 1s")
    generator(sim, sc).run(deadline=sim.history.now() + 10)
    phases = [(e.phase, e.outcome) for e in sim.history.of(Fault)]
    assert phases == [("inject", None), ("confirm", "ok"), ("heal", "ok")]
    heal = [e for e in sim.history.of(Fault) if e.phase == "heal"][0]
    inject = [e for e in sim.history.of(Fault) if e.phase == "inject"][0]
    assert 0.3 <= heal.t - inject.t < 1.0
    assert sim.env.registry_reachable()


def test_run_scenario_reports_a_step_timeout_as_could_not_proceed(sim: Sim) -> None:
    sc = scenario("  - after: {policy: app, tag: 9.9.9, timeout: 0.3s}")
    result = run_scenario(sc, PRESETS["single"], sim.env, seed=3)
    assert result.error is not None and "could not proceed" in result.error
    assert not result.passed


def test_a_bulk_push_runs_on_several_client_processes_and_every_tag_lands(sim: Sim) -> None:
    from pytest_fluxchaos.checkers.timeline import RegistryTimeline
    from pytest_fluxchaos.generator import BULK_CLIENTS, BULK_PUSH

    doc = YAML(typ="safe").load("""
name: big
images: [{name: app, tags: {semver: {start: 1.0.0}}}]
repositories: [{name: app, image: app, interval: 0.2s}]
policies: [{name: app, repository: app, policy: {semver: {range: ">=1.0.0"}}}]
steps: [{push: {image: app, next: %d}}, {push: {image: app, next: 2}}]
""" % (BULK_PUSH + 10))
    sc = Scenario.model_validate(doc)
    generator(sim, sc).run(deadline=sim.history.now() + 30)
    ops = [e for e in sim.history.of(Op) if e.f == "push-tag"]
    bulk, small = ops[:-4], ops[-4:]
    assert len({e.process for e in bulk}) == BULK_CLIENTS
    assert len({e.process for e in small}) == 1  # a small push stays one sequential client
    present, maybe = RegistryTimeline(sim.history, "app").snapshot(sim.history.now())
    assert len(present) == BULK_PUSH + 12 and not maybe
