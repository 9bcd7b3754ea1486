"""Collection of YAML suites: one item per scenario x variant, readable ids."""

from __future__ import annotations

import pytest

from .conftest import CONFTEST



def test_help_shows_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "fluxchaos", "--help")
    result.stdout.fnmatch_lines(["*fluxchaos: chaos tests for Flux image automation*",
                                 "*--fluxchaos-backend*", "*--fluxchaos-variants*",
                                 "*--fluxchaos-flux-version*", "*--fluxchaos-artifacts*",
                                 "*fluxchaos_backend*"])


def test_one_item_per_scenario_and_variant(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", "suites/")
    result.stdout.fnmatch_lines([
        "suites/failover.yaml::stale-failover[[]single[]]",
        "suites/failover.yaml::stale-failover[[]ha-emptydir[]]",
        "suites/steady.yaml::steady[[]single[]]",
        "3 tests collected*",
    ])


def test_variants_option_overrides_the_suite(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", "suites/failover.yaml",
                              "--fluxchaos-variants=ha-shared,single-pvc")
    result.stdout.fnmatch_lines(["*stale-failover[[]ha-shared[]]", "*stale-failover[[]single-pvc[]]"])


def test_several_flux_versions_multiply_items(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", "suites/steady.yaml",
                              "--fluxchaos-flux-version=2.3.0,2.9.4")
    result.stdout.fnmatch_lines(["*steady[[]single@2.3.0[]]", "*steady[[]single@2.9.4[]]"])


def test_yaml_outside_suites_is_not_collected(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    (pytester.path / "config.yaml").write_text("a: 1\n")
    result = pytester.runpytest("--collect-only", "-q")
    assert "config.yaml" not in result.stdout.str()


def test_unknown_variant_option_is_one_clear_error(project: pytest.Pytester) -> None:
    result = project.runpytest("-q", "suites/steady.yaml", "--fluxchaos-backend=memory",
                              "--fluxchaos-variants=nope")
    result.stdout.fnmatch_lines(["*unknown variant 'nope'*"])
    assert "Traceback" not in result.stdout.str()


def test_unknown_backend_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("-q", "suites/steady.yaml", "--fluxchaos-backend=nope")
    result.stderr.fnmatch_lines(["*--fluxchaos-backend: unknown backend 'nope'*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_bad_duration_option_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("-q", "--fluxchaos-timeout=soon")
    result.stderr.fnmatch_lines(["*--fluxchaos-timeout: expected a duration*"])
