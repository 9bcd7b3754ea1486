"""Unit tests of pytest_fluxchaos.variants: presets, base chains, render, strategic merge.

The Deployment below is shaped like image-reflector-controller's
``config/manager/deployment.yaml`` (bare ``--watch-all-namespaces`` flag, one
``manager`` container, ``temp`` and ``data`` emptyDirs); it is written for the tests.
"""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest

from pytest_fluxchaos.variants import (
    CONTAINER,
    DATA_VOLUME,
    PRESETS,
    SHARED_CLAIM,
    LeaderElection,
    Variant,
    VariantError,
    render,
    resolve,
    set_arg,
    strategic_merge,
)

UPSTREAM: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "image-reflector-controller", "labels": {"control-plane": "controller"}},
    "spec": {
        "selector": {"matchLabels": {"app": "image-reflector-controller"}},
        "replicas": 1,
        "template": {
            "metadata": {"labels": {"app": "image-reflector-controller"}},
            "spec": {
                "terminationGracePeriodSeconds": 10,
                "securityContext": {"fsGroup": 1337},
                "containers": [{
                    "name": "manager",
                    "image": "fluxcd/image-reflector-controller",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "RUNTIME_NAMESPACE",
                             "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                    "args": ["--watch-all-namespaces", "--log-level=info", "--log-encoding=json",
                             "--enable-leader-election"],
                    "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"},
                                  "requests": {"cpu": "100m", "memory": "64Mi"}},
                    "volumeMounts": [{"name": "temp", "mountPath": "/tmp"},
                                     {"name": "data", "mountPath": "/data"}],
                }],
                "volumes": [{"name": "temp", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
            },
        },
    },
}


def upstream() -> dict[str, Any]:
    return copy.deepcopy(UPSTREAM)


def pod_spec(dep: dict[str, Any]) -> dict[str, Any]:
    return dep["spec"]["template"]["spec"]


def manager(dep: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod_spec(dep)["containers"] if c["name"] == CONTAINER)


def volume(dep: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in pod_spec(dep)["volumes"] if v["name"] == name)


def args_of(dep: dict[str, Any], flag: str) -> list[str]:
    return [a for a in manager(dep)["args"] if a == flag or a.startswith(flag + "=")]


# -- presets and resolve ---------------------------------------------------------------


@pytest.mark.parametrize("name,replicas,storage", [
    ("single", 1, "emptyDir"),
    ("ha-emptydir", 2, "emptyDir"),
    ("ha-shared", 2, "shared"),
    ("single-pvc", 1, "pvc"),
])
def test_presets_match_the_design_table(name: str, replicas: int, storage: str) -> None:
    v = resolve(name)
    assert (v.name, v.replicas, v.storage, v.memory) == (name, replicas, storage, "1Gi")
    assert v.patches == [] and v.base is None
    assert v.description  # every preset says what it is


def test_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(VariantError,
                       match=r"unknown variant 'nope'; known: ha-emptydir, ha-shared, single, single-pvc"):
        resolve("nope")


def test_base_chain_inherits_overrides_and_concatenates_patches() -> None:
    p1 = {"metadata": {"labels": {"a": "1"}}}
    p2 = {"metadata": {"labels": {"b": "2"}}}
    custom = {
        "fast": Variant(name="fast", base="ha-emptydir",
                        leader_election={"lease-duration": "8s", "renew-deadline": "5s"},
                        patches=[p1]),
        "fast-2g": Variant(name="fast-2g", base="fast", memory="2Gi", patches=[p2]),
    }
    v = resolve("fast-2g", custom)
    assert v.name == "fast-2g" and v.base is None
    assert v.replicas == 2 and v.storage == "emptyDir"  # from ha-emptydir
    assert v.memory == "2Gi"  # own field beats the base's 1Gi
    assert v.leader_election == LeaderElection(lease_duration=8.0, renew_deadline=5.0)  # from fast
    assert v.patches == [p1, p2]  # base patches first: they apply in chain order


def test_custom_variant_may_shadow_a_preset() -> None:
    custom = {"single": Variant(name="single", replicas=1, storage="pvc")}
    assert resolve("single", custom).storage == "pvc"


def test_defaults_without_base() -> None:
    v = resolve("bare", {"bare": Variant(name="bare")})
    assert v.replicas == 1 and v.storage == "emptyDir" and v.memory is None


def test_base_chain_loop_and_unknown_base() -> None:
    loop = {"a": Variant(name="a", base="b"), "b": Variant(name="b", base="a")}
    with pytest.raises(VariantError, match="base chain loops"):
        resolve("a", loop)
    with pytest.raises(VariantError, match=r"variant 'c': unknown base 'ghost'"):
        resolve("c", {"c": Variant(name="c", base="ghost")})


@pytest.mark.parametrize("field,value", [
    ("replicas", 0), ("replicas", 6), ("storage", "hostPath"), ("memory", "lots"),
    ("digestReflectionPolicy", "Sometimes"), ("unknown-key", 1),
])
def test_variant_fields_are_validated(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        Variant.model_validate({"name": "bad", field: value})


# -- render: flux2's install-time changes -----------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_render_every_preset(name: str) -> None:
    before = upstream()
    out = render(before, resolve(name), namespace="fc-ns")
    assert before == UPSTREAM  # the input is never mutated
    dep = out[0]
    assert dep["kind"] == "Deployment" and dep["metadata"]["namespace"] == "fc-ns"
    assert dep["spec"]["replicas"] == PRESETS[name].replicas
    assert pod_spec(dep)["serviceAccountName"] == "image-reflector-controller"
    assert manager(dep)["resources"]["limits"]["memory"] == "1Gi"
    assert args_of(dep, "--watch-all-namespaces") == ["--watch-all-namespaces=false"]
    gomemlimit = [e for e in manager(dep)["env"] if e["name"] == "GOMEMLIMIT"]
    assert gomemlimit == [{"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {
        "containerName": "manager", "resource": "limits.memory"}}}]
    # Upstream env and the other args survive.
    assert any(e["name"] == "RUNTIME_NAMESPACE" for e in manager(dep)["env"])
    assert "--enable-leader-election" in manager(dep)["args"]
    assert "--log-encoding=json" in manager(dep)["args"]
    storage = PRESETS[name].storage
    if storage == "emptyDir":
        assert out[1:] == []
        assert volume(dep, DATA_VOLUME) == {"name": "data", "emptyDir": {}}
    else:
        assert volume(dep, DATA_VOLUME) == {"name": "data",
                                            "persistentVolumeClaim": {"claimName": SHARED_CLAIM}}
        assert volume(dep, "temp") == {"name": "temp", "emptyDir": {}}  # /tmp stays emptyDir


@pytest.mark.parametrize("storage", ["shared", "pvc"])
def test_pvc_object(storage: str) -> None:
    dep, pvc = render(upstream(), resolve("x", {"x": Variant(name="x", storage=storage)}),
                      namespace="fc-pvc")
    assert pvc == {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": SHARED_CLAIM, "namespace": "fc-pvc"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    # Exactly one data volume (the emptyDir was replaced, not duplicated).
    assert [v["name"] for v in pod_spec(dep)["volumes"]].count(DATA_VOLUME) == 1


def test_gomemlimit_replaces_an_existing_entry() -> None:
    dep = upstream()
    manager(dep)["env"].append({"name": "GOMEMLIMIT", "value": "100MiB"})
    out = render(dep, resolve("single"), namespace="n")[0]
    entries = [e for e in manager(out)["env"] if e["name"] == "GOMEMLIMIT"]
    assert len(entries) == 1 and "valueFrom" in entries[0]


@pytest.mark.parametrize("memory", ["2Gi", "256Mi", "1.5G", "900M"])
def test_memory_limit(memory: str) -> None:
    v = resolve("m", {"m": Variant(name="m", base="single", memory=memory)})
    dep = render(upstream(), v, namespace="n")[0]
    assert manager(dep)["resources"]["limits"] == {"cpu": "1000m", "memory": memory}
    assert manager(dep)["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}


def test_memory_unset_keeps_upstream_limit_and_creates_limits_when_missing() -> None:
    dep = render(upstream(), resolve("bare", {"bare": Variant(name="bare")}), namespace="n")[0]
    assert manager(dep)["resources"]["limits"]["memory"] == "1Gi"
    no_resources = upstream()
    del manager(no_resources)["resources"]
    dep = render(no_resources, resolve("single"), namespace="n")[0]
    assert manager(dep)["resources"] == {"limits": {"memory": "1Gi"}}


def test_leader_election_args() -> None:
    v = resolve("le", {"le": Variant(name="le", base="ha-emptydir", leader_election={
        "lease-duration": "8s", "renew-deadline": "5s", "retry-period": "1s"})})
    dep = render(upstream(), v, namespace="n")[0]
    args = manager(dep)["args"]
    assert "--leader-election-lease-duration=8s" in args
    assert "--leader-election-renew-deadline=5s" in args
    assert "--leader-election-retry-period=1s" in args
    assert "--enable-leader-election" in args


def test_leader_election_replaces_upstream_values_and_formats_durations() -> None:
    dep = upstream()
    manager(dep)["args"] += ["--leader-election-lease-duration=35s",
                             "--leader-election-retry-period", "--leader-election-renew-deadline=10s"]
    v = resolve("le", {"le": Variant(name="le", leader_election={"lease-duration": "1m30s",
                                                                 "retry-period": "500ms"})})
    out = render(dep, v, namespace="n")[0]
    assert args_of(out, "--leader-election-lease-duration") == ["--leader-election-lease-duration=1m30s"]
    assert args_of(out, "--leader-election-retry-period") == ["--leader-election-retry-period=500ms"]
    # Not named by the variant: left as upstream had it.
    assert args_of(out, "--leader-election-renew-deadline") == ["--leader-election-renew-deadline=10s"]


def test_watch_all_namespaces_switch() -> None:
    for flag in ("--watch-all-namespaces", "--watch-all-namespaces=true", "--watch-all-namespaces=false"):
        dep = upstream()
        manager(dep)["args"] = [flag, "--log-level=info"]
        off = render(dep, resolve("single"), namespace="n")[0]
        assert args_of(off, "--watch-all-namespaces") == ["--watch-all-namespaces=false"]
        on = render(dep, resolve("single"), namespace="n", watch_all_namespaces=True)[0]
        assert args_of(on, "--watch-all-namespaces") == ["--watch-all-namespaces=true"]


def test_image_override() -> None:
    dep = render(upstream(), resolve("single"), namespace="n",
                 image="fluxchaos/image-reflector-controller:v1.2.4")[0]
    assert manager(dep)["image"] == "fluxchaos/image-reflector-controller:v1.2.4"
    dep = render(upstream(), resolve("single"), namespace="n")[0]
    assert manager(dep)["image"] == "fluxcd/image-reflector-controller"


def test_manager_found_by_name_among_sidecars() -> None:
    dep = upstream()
    pod_spec(dep)["containers"].insert(0, {"name": "sidecar", "image": "busybox"})
    out = render(dep, resolve("single"), namespace="n", image="irc:1")[0]
    sidecar = pod_spec(out)["containers"][0]
    assert sidecar == {"name": "sidecar", "image": "busybox"}
    assert manager(out)["image"] == "irc:1"


def test_digest_reflection_policy_is_not_a_deployment_change() -> None:
    plain = render(upstream(), resolve("single"), namespace="n")
    v = resolve("a", {"a": Variant(name="a", base="single", digestReflectionPolicy="Always")})
    assert v.digest_reflection_policy == "Always"
    assert render(upstream(), v, namespace="n") == plain


# -- user patches -------------------------------------------------------------------------


def test_user_patch_like_a_flux_bootstrap_kustomization() -> None:
    patch = {"spec": {"template": {"spec": {
        "containers": [{"name": "manager",
                        "args": ["--concurrent=10", "--requeue-dependency=5s"],
                        "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
                        "resources": {"limits": {"memory": "3Gi"}}}],
        "nodeSelector": {"role": "flux"},
        "tolerations": [{"key": "flux", "operator": "Exists"}],
    }}}}
    v = resolve("p", {"p": Variant(name="p", base="ha-emptydir", patches=[patch])})
    dep = render(upstream(), v, namespace="n")[0]
    c = manager(dep)
    assert c["args"] == ["--concurrent=10", "--requeue-dependency=5s"]  # scalar lists replace
    names = [e["name"] for e in c["env"]]
    assert names == ["RUNTIME_NAMESPACE", "GOMEMLIMIT", "HTTPS_PROXY"]  # merged by name
    assert c["resources"]["limits"] == {"cpu": "1000m", "memory": "3Gi"}  # patch beats preset
    assert pod_spec(dep)["nodeSelector"] == {"role": "flux"}
    assert pod_spec(dep)["tolerations"] == [{"key": "flux", "operator": "Exists"}]
    assert dep["spec"]["replicas"] == 2


def test_user_patch_can_delete_and_null() -> None:
    patch = {"spec": {"template": {"spec": {
        "securityContext": None,
        "volumes": [{"name": "temp", "$patch": "delete"}],
        "containers": [{"name": "manager",
                        "volumeMounts": [{"name": "temp", "$patch": "delete"}]}],
    }}}}
    dep = render(upstream(), resolve("p", {"p": Variant(name="p", patches=[patch])}), namespace="n")[0]
    assert "securityContext" not in pod_spec(dep)
    assert [v["name"] for v in pod_spec(dep)["volumes"]] == ["data"]
    assert [m["name"] for m in manager(dep)["volumeMounts"]] == ["data"]


def test_user_patch_adds_a_container_and_a_volume() -> None:
    patch = {"spec": {"template": {"spec": {
        "containers": [{"name": "proxy", "image": "envoy:1", "$patch": "merge"}],
        "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}],
    }}}}
    dep = render(upstream(), resolve("p", {"p": Variant(name="p", patches=[patch])}), namespace="n")[0]
    assert [c["name"] for c in pod_spec(dep)["containers"]] == ["manager", "proxy"]
    assert pod_spec(dep)["containers"][1] == {"name": "proxy", "image": "envoy:1"}  # directive stripped
    assert volume(dep, "cache") == {"name": "cache", "emptyDir": {"medium": "Memory"}}


def test_patches_apply_in_order_and_after_variant_fields() -> None:
    p1 = {"spec": {"replicas": 3}}
    p2 = {"spec": {"replicas": 4}}
    v = resolve("p", {"p": Variant(name="p", base="ha-emptydir", patches=[p1, p2])})
    assert render(upstream(), v, namespace="n")[0]["spec"]["replicas"] == 4


def test_patch_can_override_the_storage_volume() -> None:
    patch = {"spec": {"template": {"spec": {"volumes": [
        {"name": "data", "persistentVolumeClaim": None, "emptyDir": {"sizeLimit": "1Gi"}}]}}}}
    v = resolve("p", {"p": Variant(name="p", base="single-pvc", patches=[patch])})
    dep, pvc = render(upstream(), v, namespace="n")
    assert volume(dep, "data") == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    assert pvc["kind"] == "PersistentVolumeClaim"  # the claim object is still rendered


def test_invalid_patch_values_pass_through_for_the_apiserver_to_reject() -> None:
    # render is not a validator: the server-side dry run (test_variants_dryrun.py) is.
    v = resolve("bad", {"bad": Variant(name="bad", patches=[{"spec": {"replicas": "two"}}])})
    assert render(upstream(), v, namespace="n")[0]["spec"]["replicas"] == "two"


# -- strategic_merge and set_arg ------------------------------------------------------------


@pytest.mark.parametrize("target,patch,expected", [
    ({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}),
    ({"a": 1, "b": 2}, {"b": None}, {"a": 1}),
    ({"a": 1}, {"missing": None}, {"a": 1}),
    ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
    ({"l": [{"k": 1}]}, {"l": [{"k": 2}]}, {"l": [{"k": 2}]}),  # no name key: replace
    ({"l": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]},
     {"l": [{"name": "b", "w": 3}, {"name": "c"}]},
     {"l": [{"name": "a", "v": 1}, {"name": "b", "v": 2, "w": 3}, {"name": "c"}]}),
    ({"l": [{"name": "a"}]}, {"l": [{"name": "zz", "$patch": "delete"}]}, {"l": [{"name": "a"}]}),
    ({"s": "x"}, {"s": {"nested": {"$patch": "replace", "v": 1}}}, {"s": {"nested": {"v": 1}}}),
    ({}, {"l": [{"name": "a", "inner": [{"name": "b", "$patch": "delete"}]}]},
     {"l": [{"name": "a", "inner": [{"name": "b"}]}]}),
])
def test_strategic_merge(target: Any, patch: Any, expected: Any) -> None:
    before = copy.deepcopy(target)
    patch_before = copy.deepcopy(patch)
    assert strategic_merge(target, patch) == expected
    assert target == before and patch == patch_before  # pure


def test_strategic_merge_result_does_not_alias_the_patch() -> None:
    patch = {"a": {"b": [1]}}
    out = strategic_merge({}, patch)
    out["a"]["b"].append(2)
    assert patch == {"a": {"b": [1]}}


@pytest.mark.parametrize("args,flag,value,expected", [
    (["--a", "--b=1"], "--a", "x", ["--b=1", "--a=x"]),
    (["--a=1", "--a=2"], "--a", "3", ["--a=3"]),
    (["--ab=1"], "--a", "2", ["--ab=1", "--a=2"]),  # a longer flag is another flag
    (["--a=1", "--b"], "--a", None, ["--b"]),
    ([], "--a", "1", ["--a=1"]),
])
def test_set_arg(args: list[str], flag: str, value: str | None, expected: list[str]) -> None:
    assert set_arg(args, flag, value) == expected


def test_bootstrap_patch_metadata_does_not_move_the_deployment() -> None:
    patch = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "image-reflector-controller", "namespace": "flux-system"},
             "spec": {"replicas": 2}}
    dep = render(upstream(), resolve("p", {"p": Variant(name="p", patches=[patch])}), namespace="fc")[0]
    assert dep["spec"]["replicas"] == 2
    assert dep["metadata"]["namespace"] == "fc"
