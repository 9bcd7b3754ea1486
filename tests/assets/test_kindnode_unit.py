"""Unit tests of the kind node-image helpers (no Docker, no Go)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from pytest_fluxchaos.assets import versions
from pytest_fluxchaos.assets.errors import AssetError
from pytest_fluxchaos.assets.kindnode import (CNI_CONFLIST, DEFAULT_CNI_PLACEHOLDER, POD_SUBNET, rename_archive,
                                              storage_manifest)

CONST_STORAGE_GO = '''package nodeimage

const storageProvisionerImage = "docker.io/kindest/local-path-provisioner:v1"
const storageHelperImage = "docker.io/kindest/local-path-helper:v2"
const other = "x"

const defaultStorageManifest = `
apiVersion: v1
kind: Namespace
metadata:
  name: local-path-storage
---
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - image: ` + storageProvisionerImage + `
          command: [local-path-provisioner, --helper-image, ` + storageHelperImage + `]
---
kind: StorageClass
metadata:
  name: standard
`
'''


def _kind_dir(tmp_path: Path, text: str = CONST_STORAGE_GO) -> Path:
    d = tmp_path / "pkg" / "build" / "nodeimage"
    d.mkdir(parents=True)
    (d / "const_storage.go").write_text(text)
    return tmp_path


def test_storage_manifest_substitutes_images(tmp_path: Path) -> None:
    text = storage_manifest(_kind_dir(tmp_path), "docker.io/me/prov:v0", "docker.io/me/helper:v0")
    assert text.startswith("apiVersion: v1\nkind: Namespace")
    assert "image: docker.io/me/prov:v0" in text
    assert "--helper-image, docker.io/me/helper:v0]" in text
    assert "kindest" not in text and "kind: StorageClass" in text


def test_storage_manifest_unknown_layout_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="defaultStorageManifest not found"):
        storage_manifest(_kind_dir(tmp_path, "package nodeimage\n"), "a", "b")
    with pytest.raises(AssetError, match="cannot read"):
        storage_manifest(tmp_path / "nowhere", "a", "b")


def test_storage_manifest_of_the_real_kind_module() -> None:
    gomodcache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    kind_dir = gomodcache / f"{versions.KIND_MODULE}@{versions.KIND_VERSION}"
    if not kind_dir.is_dir():
        pytest.skip(f"{versions.KIND_MODULE}@{versions.KIND_VERSION} is not in the Go module cache")
    import yaml

    text = storage_manifest(kind_dir, "docker.io/fluxchaos/lpp:v0", "docker.io/fluxchaos/debian:bookworm")
    docs = [d for d in yaml.safe_load_all(text) if d]
    kinds = [d["kind"] for d in docs]
    assert "StorageClass" in kinds and "Deployment" in kinds
    dep = next(d for d in docs if d["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/fluxchaos/lpp:v0"


def _docker_save_like(path: Path, tags: list[str]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in (("abc/layer.tar", b"layer"), ("abc.json", b"{}"),
                           ("manifest.json", json.dumps([{"Config": "abc.json", "RepoTags": tags,
                                                          "Layers": ["abc/layer.tar"]}]).encode()),
                           ("repositories", b'{"x": {"y": "abc"}}')):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))


def test_rename_archive(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.tar", tmp_path / "out.tar"
    _docker_save_like(src, ["fluxchaos/pause:3.10.1"])
    rename_archive(src, dst, ["registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10"])
    with tarfile.open(dst) as tar:
        names = tar.getnames()
        mani = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert tar.extractfile("abc/layer.tar").read() == b"layer"  # type: ignore[union-attr]
    assert "repositories" not in names
    assert mani[0]["RepoTags"] == ["registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10"]


def test_cni_files() -> None:
    conf = json.loads(CNI_CONFLIST)
    assert [p["type"] for p in conf["plugins"]] == ["ptp", "portmap"]
    assert conf["plugins"][0]["ipam"]["ranges"][0][0]["subnet"] == POD_SUBNET
    import yaml

    doc = yaml.safe_load(DEFAULT_CNI_PLACEHOLDER)
    assert doc["kind"] == "ConfigMap" and "{{" not in DEFAULT_CNI_PLACEHOLDER  # kind templates this file


CAPFILTER = Path("/usr/local/lib/fluxchaos/runc-capfilter")


@pytest.mark.skipif(not CAPFILTER.exists(), reason="runc wrapper not installed on this host (not needed here)")
@pytest.mark.parametrize("argv, spec_rel, caps_path", [
    (["--root", "/r", "--log", "/l", "--log-format", "json", "create", "--bundle", "{d}", "--pid-file", "p", "id"],
     "config.json", ("process", "capabilities")),
    (["--root", "/r", "--systemd-cgroup", "run", "-b", "{d}", "id"], "config.json", ("process", "capabilities")),
    (["--root", "/r", "exec", "--process", "{d}/proc.json", "--detach", "id"], "proc.json", ("capabilities",)),
])
def test_runc_capfilter_strips_missing_caps(tmp_path: Path, argv: list[str], spec_rel: str,
                                            caps_path: tuple[str, ...]) -> None:
    text = CAPFILTER.read_text()
    drop = json.loads(text.split("DROP='", 1)[1].split("'", 1)[0])
    fake = tmp_path / "fake-runc"
    fake.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n")
    fake.chmod(0o755)
    wrapper = tmp_path / "wrapper"
    wrapper.write_text("\n".join(f"REAL={fake}" if ln.startswith("REAL=") else ln for ln in text.splitlines()) + "\n")
    wrapper.chmod(0o755)
    caps = {k: ["CAP_CHOWN", *drop] for k in ("bounding", "effective", "permitted")}
    spec: dict = {"ociVersion": "1.0.2"}
    node = spec
    for part in caps_path[:-1]:
        node = node.setdefault(part, {})
    node[caps_path[-1]] = caps
    (tmp_path / spec_rel).write_text(json.dumps(spec))
    args = [a.replace("{d}", str(tmp_path)) for a in argv]
    subprocess.run([str(wrapper), *args], check=True, timeout=30)
    assert (tmp_path / "args").read_text().split() == args  # the real runc gets the same arguments
    out = json.loads((tmp_path / spec_rel).read_text())
    for part in caps_path:
        out = out[part]
    assert out == {k: ["CAP_CHOWN"] for k in caps}


def test_ensure_kind_unknown_mode_is_one_line_error() -> None:
    from pytest_fluxchaos.assets.kind import ensure_kind

    with pytest.raises(AssetError, match="unknown mode 'bogus'") as exc:
        ensure_kind("bogus")
    assert "\n" not in str(exc.value)
