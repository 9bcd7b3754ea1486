"""The registry lies through the generator and nemesis, on the simulation's liar: confirmed
at the heal from the liar's log; a controller that never asked, a lie that changed
nothing, or a liar that restarted never make faults-landed true."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from pytest_fluxchaos.checkers import CheckContext, FaultsLanded, Validity
from pytest_fluxchaos.domain import BackendError, RegistryLie
from pytest_fluxchaos.generator import Generator
from pytest_fluxchaos.history import Fault, History, PolicyLatest
from pytest_fluxchaos.scenario import FaultAction, Scenario
from pytest_fluxchaos.variants import PRESETS

from .conftest import Sim


def run(sim: Sim, steps: str, interval: str = "0.1s") -> History:
    doc = YAML(typ="safe").load(f"""
name: lies
images: [{{name: app}}, {{name: other}}]
repositories: [{{name: app, image: app, interval: {interval}}}]
policies: [{{name: app, repository: app, policy: {{semver: {{range: ">=1.0.0"}}}}}}]
steps:
{steps}
bounds: {{converge: 2s, settle: 0.3s, stuck: 5s, wait: 3s, timeout: 20s}}
""")
    sc = Scenario.model_validate(doc)
    sim.env.apply_objects(sim.ns, sc, PRESETS["ha-emptydir"])
    Generator(sc, sim.env, sim.ns, sim.history, sim.nemesis, seed=1).run(deadline=sim.history.now() + 15)
    sim.nemesis.heal_all()
    return sim.history


def phases(h: History) -> list[tuple[str, str | None]]:
    return [(e.phase, e.outcome) for e in h.of(Fault)]


def confirm_of(h: History) -> Fault:
    return next(e for e in h.of(Fault) if e.phase == "confirm")


def landed(h: History) -> Validity:
    return FaultsLanded().check(h, CheckContext(policies=())).valid


def latest_tags(h: History) -> list[tuple[float, str | None]]:
    return [(e.t, e.tag) for e in h.of(PolicyLatest)]


def test_stale_hides_a_push_until_the_heal(sim: Sim) -> None:
    h = run(sim, """
  - push: {image: app, tags: [1.0.0]}
  - after: {policy: app, tag: 1.0.0}
  - fault: {kind: registry-stale, id: s1, duration: 0.8s}
  - push: {image: app, tags: [1.1.0]}
  - after: {policy: app, tag: 1.1.0, timeout: 3s}""")
    assert phases(h) == [("inject", None), ("confirm", "ok"), ("heal", "ok")]
    confirm = confirm_of(h)
    assert confirm.detail["lies_served"] >= 1 and confirm.detail["evidence"]["snapshot"] == {"ns/app": 1}
    assert confirm.detail["evidence"]["repositories"] == "ns/*"
    assert set(confirm.detail["clients"]) == {f"image-reflector-controller (simulated) @ {sim.env.leader(sim.ns)}"}
    heal = next(e for e in h.of(Fault) if e.phase == "heal")
    newer = [t for t, tag in latest_tags(h) if tag == "1.1.0"]
    assert newer and newer[0] > heal.t, "the push was seen while the listing was stale"
    inject = next(e for e in h.of(Fault) if e.phase == "inject")
    assert confirm.t - inject.t >= 0.8 and landed(h) is Validity.TRUE  # judged when the window ended
    assert sim.env.registry_liar().lies == ()


def test_truncate_to_one_tag_regresses_the_policy_during_the_fault(sim: Sim) -> None:
    h = run(sim, """
  - push: {image: app, tags: [1.0.0, 1.1.0, 1.2.0]}
  - after: {policy: app, tag: 1.2.0}
  - fault: {kind: registry-truncate, image: app, keep: 1, duration: 0.5s}
  - after: {policy: app, tag: 1.0.0, timeout: 2s}
  - after: {policy: app, tag: 1.2.0, timeout: 3s}""")
    confirm = confirm_of(h)
    assert confirm.outcome == "ok", confirm.detail
    assert confirm.detail["served"][0]["served_tags"] == 1 and confirm.detail["served"][0]["upstream_tags"] == 3
    assert confirm.detail["repositories"] == "ns/app"
    assert landed(h) is Validity.TRUE


def test_error_and_slow_lies_land(sim: Sim) -> None:
    h = run(sim, """
  - push: {image: app, tags: [1.0.0]}
  - after: {policy: app, tag: 1.0.0}
  - fault: {kind: registry-error, status: 429, retry-after: 2s, duration: 0.3s}
  - delay: 0.4s
  - fault: {kind: registry-slow, image: app, delay: 750ms, duration: 0.3s}
  - delay: 0.4s""")
    confirms = [e for e in h.of(Fault) if e.phase == "confirm"]
    assert [(c.f, c.outcome) for c in confirms] == [("registry-error", "ok"), ("registry-slow", "ok")]
    assert set(confirms[0].detail["statuses"]) == {"429"}
    assert confirms[0].detail["evidence"]["params"] == {"status": 429, "retry_after_s": 2}
    assert confirms[1].detail["served"][0]["delay_ms"] == 750


def test_a_controller_that_never_asked_leaves_it_unknown(sim: Sim) -> None:
    h = run(sim, """
  - push: {image: app, tags: [1.0.0]}
  - after: {policy: app, tag: 1.0.0}
  - fault: {kind: registry-truncate, keep: 0, duration: 0.3s}
  - delay: 0.5s""", interval="1h")
    confirm = confirm_of(h)
    assert confirm.outcome == "unconfirmed" and "never asked" in confirm.detail["why"]
    assert landed(h) is Validity.UNKNOWN


def test_a_stale_lie_with_nothing_pushed_is_unknown(sim: Sim) -> None:
    h = run(sim, """
  - push: {image: app, tags: [1.0.0]}
  - after: {policy: app, tag: 1.0.0}
  - fault: {kind: registry-stale, image: app, duration: 0.4s}
  - delay: 0.5s""")
    confirm = confirm_of(h)
    assert confirm.outcome == "unconfirmed" and "every answer equalled the registry's" in confirm.detail["why"]
    assert confirm.detail["asked"] >= 1 and landed(h) is Validity.UNKNOWN


def test_a_liar_that_restarts_or_ignores_its_lies(sim: Sim) -> None:
    sim.env.apply_objects(sim.ns, Scenario.model_validate(YAML(typ="safe").load("""
name: lies
images: [{name: app}]
repositories: [{name: app, image: app, interval: 0.1s}]
policies: [{name: app, repository: app, policy: {semver: {range: ">=1.0.0"}}}]""")), PRESETS["ha-emptydir"])
    sim.env.push_tag(sim.ns, "app", "1.0.0")
    fault = sim.nemesis.inject(FaultAction(kind="registry-error", duration=5))
    assert fault.pending is not None and not [e for e in sim.history.of(Fault) if e.phase == "confirm"]
    sim.env.liar.restart()
    sim.nemesis.heal_all()
    assert phases(sim.history)[1:] == [("confirm", "failed"), ("heal", "ok")]
    assert "restarted during the fault" in confirm_of(sim.history).detail["why"]

    sim.env.liar.ignores_lies = True
    sim.nemesis.inject(FaultAction(kind="registry-error", duration=5))
    sim.nemesis.heal_all()
    assert [o for p, o in phases(sim.history) if p == "confirm"] == ["failed", "unconfirmed"]
    assert landed(sim.history) is Validity.UNKNOWN


def test_an_overlapping_lie_fails_its_injection_and_its_heal_spares_the_first(sim: Sim) -> None:
    stale = FaultAction(kind="registry-stale", id="s", duration=5)
    sim.nemesis.inject(stale)
    sim.nemesis.inject(FaultAction(kind="registry-truncate", image="app", keep=1, duration=5))  # type: ignore[call-arg]
    assert phases(sim.history) == [("inject", None), ("inject", None), ("confirm", "failed"), ("heal", "ok")]
    whys = [e.detail["why"] for e in sim.history.of(Fault) if e.phase == "confirm"]
    assert all("overlaps fluxchaos-ns-1-stale-all" in why for why in whys), whys
    assert [lie.id for lie in sim.env.registry_liar().lies] == ["fluxchaos-ns-1-stale-all"]
    sim.nemesis.heal_all()
    assert sim.env.registry_liar().lies == ()


def test_a_lie_image_must_be_a_scenario_image() -> None:
    from pytest_fluxchaos.suite import check_references

    sc = Scenario.model_validate(YAML(typ="safe").load("""
name: lies
images: [{name: app}]
repositories: [{name: app, image: app, interval: 1m}]
policies: [{name: app, repository: app, policy: {semver: {range: ">=1.0.0"}}}]
steps:
  - fault: {kind: registry-slow, image: ap, duration: 1s}
  - fault: {kind: registry-slow, image: "*", duration: 1s}"""))
    assert [msg for _loc, msg in check_references(sc, {})] == \
        ["steps.0.fault.image: unknown image 'ap'; expected * or one of: app"]


def test_a_backend_without_a_liar_says_so() -> None:
    from pytest_fluxchaos.backends.kube_environment import KubeEnvironment

    env = KubeEnvironment.__new__(KubeEnvironment)
    env.backend = object()  # type: ignore[assignment]
    env.backend_name = "kind"
    with pytest.raises(BackendError, match="the kind backend has no registry liar in front of the registry"):
        env.set_registry_lie(RegistryLie("x", "stale", "*"))
