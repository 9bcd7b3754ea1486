"""An item's artifacts directory name stays under the file-name limit (explorer replays)."""

from pytest_fluxchaos.session import ARTIFACTS_NAME_MAX, artifacts_dir_name

LONG = ("benchmarks/results/explore-2026-12-02-seed1-minimal/seed-1/suites_explore_stale-failover.yaml_"
        "explore_stale-failover/findings/stale-failover-no-regression-37bf412b27/"
        "stale-failover-no-regression-37bf412b27.yaml::stale-failover-no-regression-37bf412b27[ha-emptydir]")


def test_a_short_node_id_is_kept_readable():
    assert artifacts_dir_name("suites/a.yaml::two-flips[ha-emptydir]") == "suites_a.yaml_two-flips_ha-emptydir"


def test_a_long_node_id_is_bounded_unique_and_keeps_its_scenario_and_variant():
    name = artifacts_dir_name(LONG)
    assert len(LONG) > 255 and len(name) <= ARTIFACTS_NAME_MAX
    assert name.endswith("stale-failover-no-regression-37bf412b27_ha-emptydir")
    assert name != artifacts_dir_name(LONG.replace("[ha-emptydir]", "[single]"))
    assert name != artifacts_dir_name("x" + LONG)
    assert artifacts_dir_name(LONG) == name  # the same item, the same directory
