"""Go/C programs of the offline kind node image, built from the Go module proxy.

Everything is built in throw-away wrapper modules under ``<cache>/work`` (see
:mod:`.gomod`) and lands in ``<cache>/bin/<name>-<version>``; a stamp per
program records inputs, sha256 and build seconds, so a warm call does nothing.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from . import gomod, tools, versions
from .build import Builder, _now, _sha256
from .errors import AssetError

#: k8s.io/kubernetes commands built besides kube-apiserver (which the
#: real-controller backend's kube-apiserver image already builds).
K8S_COMMANDS = ("kubeadm", "kubelet", "kubectl", "kube-controller-manager", "kube-scheduler", "kube-proxy")
CNI_PLUGINS = {
    "host-local": "plugins/ipam/host-local",
    "loopback": "plugins/main/loopback",
    "ptp": "plugins/main/ptp",
    "bridge": "plugins/main/bridge",
    "portmap": "plugins/meta/portmap",
}
CONTAINERD_COMMANDS = ("containerd", "ctr", "containerd-shim-runc-v2")


class KindBuilder(Builder):
    """:class:`Builder` plus the kind node's programs (cgo only where needed)."""

    _cgo = False

    def go_env(self) -> dict[str, str]:
        env = super().go_env()
        if self._cgo:
            env["CGO_ENABLED"] = "1"
        return env

    def bin(self, name: str, version: str) -> Path:
        return self.cache / "bin" / f"{name}-{version}"

    def _wrapper(self, key: str, what: str, mod: str, version: str, packages: dict[str, str], *,
                 ldflags: list[str] = (), tags: str = "", inputs_extra: dict | None = None,  # type: ignore[assignment]
                 gomod_text: str | None = None) -> dict[str, Path]:
        inputs = {"module": mod, "version": version, "tags": tags, **(inputs_extra or {})}
        if self._bin_current(key, inputs, list(packages)):
            return {n: self.bin(n, version) for n in packages}
        with self.step(what):
            info = self.module_info(mod, version, key)
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            if gomod_text is None:
                gomod_text = gomod.render_wrapper_gomod(
                    f"fluxchaos.local/build/{key}", up.go or "1.22", {mod: version},
                    gomod.carried_replaces(gm), up.godebug)
            rev = (info.get("Origin") or {}).get("Hash", "")
            flags = [f.replace("@REV@", rev or "unknown") for f in ldflags]
            return self.go_build(key, what, gomod_text,
                                 {"tools.go": gomod.render_tools_go(sorted(set(packages.values())))},
                                 packages, ldflags=["-s", "-w", *flags], tags=tags, inputs=inputs)

    # -- Kubernetes ------------------------------------------------------- #

    def kubernetes(self, version: str = versions.KUBERNETES_VERSION) -> dict[str, Path]:
        """kubeadm, kubelet, kubectl, kube-controller-manager, kube-scheduler, kube-proxy."""
        mod = versions.KUBERNETES_MODULE
        key = f"bin-kubernetes-{version}"
        inputs = {"module": mod, "version": version, "tags": "selinux,notest"}
        if self._bin_current(key, inputs, list(K8S_COMMANDS)):
            return {n: self.bin(n, version) for n in K8S_COMMANDS}
        with self.step(f"building {', '.join(K8S_COMMANDS)} {version} ({mod}, wrapper with staging replaces)"):
            info = self.module_info(mod, version, key)
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            text = gomod.render_wrapper_gomod("fluxchaos.local/build/kubernetes", up.go or "1.22",
                                              {mod: version}, gomod.staging_replaces(gm, version), up.godebug)
            build_date = re.sub(r"\.\d+", "", info.get("Time") or _now())
            rev = (info.get("Origin") or {}).get("Hash", "")
            ldflags = ["-s", "-w"] + gomod.kube_version_ldflags(version, rev, build_date)
            pkgs = {n: f"{mod}/cmd/{n}" for n in K8S_COMMANDS}
            t0 = time.monotonic()
            out = self.go_build(key, f"building Kubernetes {version} commands", text,
                                {"tools.go": gomod.render_tools_go(sorted(pkgs.values()))},
                                pkgs, ldflags=ldflags, tags="selinux,notest", inputs=inputs)
            self.say(f"  Kubernetes commands built in {time.monotonic() - t0:.0f}s")
            return out

    # -- container runtime ------------------------------------------------ #

    def containerd(self, version: str = versions.CONTAINERD_VERSION) -> dict[str, Path]:
        """containerd, ctr, containerd-shim-runc-v2.

        containerd's go.mod has ``exclude`` directives, which only count in the
        main module, so the wrapper *is* that go.mod with its module line renamed
        (same requirements, replaces and excludes) plus a require of containerd.
        """
        mod = versions.CONTAINERD_MODULE
        key = f"bin-containerd-{version}"
        pkgs = {n: f"{mod}/cmd/{n}" for n in CONTAINERD_COMMANDS}
        tags = "no_aufs no_zfs no_btrfs no_devmapper"
        inputs = {"module": mod, "version": version, "tags": tags}
        if self._bin_current(key, inputs, list(pkgs)):
            return {n: self.bin(n, version) for n in pkgs}
        info = self.module_info(mod, version, key)
        gm = Path(info["GoMod"]).read_text()
        if any(r.is_local for r in gomod.parse_gomod(gm).replace):
            raise AssetError(f"{mod}@{version}: its go.mod has directory replaces; cannot make a wrapper")
        text = re.sub(r"(?m)^module\s+\S+", "module fluxchaos.local/build/containerd", gm, count=1)
        text += f"\nrequire {mod} {version}\n"
        ldflags = [f"-X {mod}/version.Version={version}", f"-X {mod}/version.Revision=@REV@",
                   f"-X {mod}/version.Package=github.com/containerd/containerd"]
        return self._wrapper(key, f"building containerd {version} ({mod}, wrapper keeping its excludes)", mod,
                             version, pkgs, ldflags=ldflags, tags=tags, gomod_text=text)

    def runc(self, version: str = versions.RUNC_VERSION) -> Path:
        """runc with seccomp: cgo against Debian's libseccomp-dev."""
        mod = versions.RUNC_MODULE
        key = f"bin-runc-{version}"
        inputs = {"module": mod, "version": version, "tags": "seccomp", "cgo": True}
        if not self._bin_current(key, inputs, ["runc"]):
            if not shutil.which("gcc") or not Path("/usr/include/seccomp.h").exists():
                raise AssetError("runc needs cgo and libseccomp: `apt-get install gcc libseccomp-dev pkg-config` "
                                 "(scripts/setup.sh does it)")
            self._cgo = True
            try:
                self._wrapper(key, f"building runc {version} ({mod}, cgo, seccomp)", mod, version,
                              {"runc": mod}, tags="seccomp", inputs_extra={"cgo": True},
                              ldflags=[f"-X main.version={version.lstrip('v')}", "-X main.gitCommit=@REV@"])
            finally:
                self._cgo = False
        return self.bin("runc", version)

    def crictl(self, version: str = versions.CRI_TOOLS_VERSION) -> Path:
        mod = versions.CRI_TOOLS_MODULE
        self._wrapper(f"bin-crictl-{version}", f"building crictl {version} ({mod})", mod, version,
                      {"crictl": f"{mod}/cmd/crictl"}, ldflags=[f"-X {mod}/pkg/version.Version={version}"])
        return self.bin("crictl", version)

    def cni(self, version: str = versions.CNI_PLUGINS_VERSION) -> dict[str, Path]:
        mod = versions.CNI_PLUGINS_MODULE
        return self._wrapper(f"bin-cni-plugins-{version}", f"building CNI plugins {version} "
                             f"({', '.join(CNI_PLUGINS)})", mod, version,
                             {n: f"{mod}/{p}" for n, p in CNI_PLUGINS.items()},
                             ldflags=[f"-X {mod}/pkg/utils/buildversion.BuildVersion={version}"])

    # -- cluster add-ons -------------------------------------------------- #

    def coredns(self, version: str = versions.COREDNS_VERSION) -> Path:
        mod = versions.COREDNS_MODULE
        self._wrapper(f"bin-coredns-{version}", f"building coredns {version} ({mod})", mod, version,
                      {"coredns": mod}, ldflags=[f"-X {mod}/coremain.GitCommit=@REV@"])
        return self.bin("coredns", version)

    def local_path_provisioner(self, version: str = versions.LOCAL_PATH_VERSION) -> Path:
        mod = versions.LOCAL_PATH_MODULE
        self._wrapper(f"bin-local-path-provisioner-{version}", f"building local-path-provisioner {version} ({mod})",
                      mod, version, {"local-path-provisioner": mod})
        return self.bin("local-path-provisioner", version)

    def pause(self, k8s_version: str = versions.KUBERNETES_VERSION,
              version: str = versions.PAUSE_VERSION) -> Path:
        """The sandbox ``pause`` from k8s.io/kubernetes's build/pause/linux/pause.c, static."""
        key = f"bin-pause-{version}"
        inputs = {"module": versions.KUBERNETES_MODULE, "version": version, "source": k8s_version}
        out = self.bin("pause", version)
        if self._bin_current(key, inputs, ["pause"]):
            return out
        with self.step(f"building pause {version} (gcc -static, k8s.io/kubernetes@{k8s_version} build/pause)"):
            gcc = shutil.which("gcc")
            if not gcc:
                raise AssetError("building pause needs gcc: `apt-get install gcc libc6-dev`")
            info = self.module_info(versions.KUBERNETES_MODULE, k8s_version, key)
            src = Path(info["Dir"]) / "build" / "pause" / "linux" / "pause.c"
            if not src.exists():
                raise AssetError(f"{src} is missing from the k8s.io/kubernetes module")
            t0 = time.monotonic()
            tmp = out.with_name(out.name + ".tmp")
            tools.run([gcc, "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{version}", "-o", str(tmp), str(src)],
                      what="gcc -static pause.c", log=self.log(key), timeout=300)
            tools.run(["strip", str(tmp)], what="strip pause", log=self.log(key), timeout=60)
            tmp.replace(out)
            self.write_stamp(key, {"inputs": inputs, "outputs": {"pause": str(out)}, "sha256": {"pause": _sha256(out)},
                                   "built_at": _now(), "seconds": round(time.monotonic() - t0, 1)})
        return out

    # -- the kind CLI ----------------------------------------------------- #

    def kind(self, version: str = versions.KIND_VERSION) -> Path:
        """``go install sigs.k8s.io/kind@<version>`` with GOBIN in the cache."""
        key = f"bin-kind-{version}"
        inputs = {"module": versions.KIND_MODULE, "version": version, "method": "go install"}
        out = self.bin("kind", version)
        if self._bin_current(key, inputs, ["kind"]):
            return out
        with self.step(f"building kind {version} (go install {versions.KIND_MODULE}@{version})"):
            env = self.go_env()
            self.check_disk("building kind")
            gobin = self.cache / "work" / key
            shutil.rmtree(gobin, ignore_errors=True)
            gobin.mkdir(parents=True)
            t0 = time.monotonic()
            tools.run([tools.require_go(), "install", f"{versions.KIND_MODULE}@{version}"],
                      what=f"go install {versions.KIND_MODULE}@{version}", log=self.log(key),
                      env={**env, "GOBIN": str(gobin), "GOFLAGS": ""}, cwd=gobin, timeout=3600, kind="go")
            (gobin / "kind").replace(out)
            shutil.rmtree(gobin, ignore_errors=True)
            self.write_stamp(key, {"inputs": inputs, "outputs": {"kind": str(out)}, "sha256": {"kind": _sha256(out)},
                                   "built_at": _now(), "seconds": round(time.monotonic() - t0, 1),
                                   "go": tools.go_version(env)})
        return out

    def kind_module_dir(self, version: str = versions.KIND_VERSION) -> Path:
        """The kind module in the Go module cache (images/base, pkg/build/nodeimage)."""
        return Path(self.module_info(versions.KIND_MODULE, version, f"bin-kind-{version}")["Dir"])

    def seconds(self, key: str) -> float | None:
        st = self.read_stamp(key) or {}
        return st.get("seconds")
