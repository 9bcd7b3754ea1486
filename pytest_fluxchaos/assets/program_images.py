"""Go programs built from the module proxy, packaged as images (registry, IRC, etcd, kube-apiserver;
Toxiproxy's binary, packaged with the registry liar by ``registry_proxy.py``)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from . import gomod, tools, versions
from .errors import AssetError
from .stamps import REGISTRY_CONFIG, now as _now

if TYPE_CHECKING:
    from .build import Builder



def program_image(b: Builder, name: str, version: str, base_id: str, binaries: dict[str, Path],
                  bin_key: str | dict[str, str], dockerfile_tail: str,
                  extra_files: dict[str, Path | str] | None = None) -> str:
    """``bin_key``: the build stamp of the binaries (one for all, or one per binary)."""
    tag = f"{b.prefix}/{name}:{version}"
    key = f"image-{name}-{version}"
    keys = bin_key if isinstance(bin_key, dict) else dict.fromkeys(binaries, bin_key)
    inputs = {"from": base_id, "binaries": {n: b.bin_sha(keys[n], n) for n in binaries}}
    if extra_files:
        inputs["files"] = {n: hashlib.sha256(p.read_bytes() if isinstance(p, Path) else p.encode()).hexdigest()
                           for n, p in extra_files.items()}
    if b.current_image(key, tag, inputs):
        return tag
    df = f"FROM {b.BASE_TAG}\n"
    for n in binaries:
        df += f"COPY {n} /usr/local/bin/{n}\n"
    df += dockerfile_tail + b.labels(name, version)
    files: dict[str, Path | str] = {n: p for n, p in binaries.items()}
    files.update(extra_files or {})
    with b.step(f"packaging image {tag}"):
        b.build_image(key, tag, df, files, inputs, f"building image {tag}")
    return tag

def registry_binary(b: Builder, version: str = versions.REGISTRY_VERSION) -> Path:
    """distribution's ``registry`` built from the module proxy (no Docker): also what the
    registry liar's host-run integration test serves from."""
    mod = versions.REGISTRY_MODULE
    key = f"bin-registry-{version}"
    inputs = {"module": mod, "version": version}
    if not bin_current(b, key, inputs, ["registry"]):
        with b.step(f"building registry {version} ({mod}/cmd/registry)"):
            info = b.module_info(mod, version, key)
            up = gomod.parse_gomod(Path(info["GoMod"]).read_text())
            text = gomod.render_wrapper_gomod(
                "fluxchaos.local/build/registry", up.go or "1.22", {mod: version},
                gomod.carried_replaces(Path(info["GoMod"]).read_text()), up.godebug)
            rev = (info.get("Origin") or {}).get("Hash", "")
            ldflags = ["-s", "-w", f"-X {mod}/version.version={version}", f"-X {mod}/version.mainpkg={mod}"]
            if rev:
                ldflags.append(f"-X {mod}/version.revision={rev}")
            b.go_build(key, f"building registry {version}", text,
                          {"tools.go": gomod.render_tools_go([f"{mod}/cmd/registry"])},
                          {"registry": f"{mod}/cmd/registry"}, ldflags=ldflags, inputs=inputs)
    return b.cache / "bin" / f"registry-{version}"


def registry(b: Builder, base_id: str, version: str = versions.REGISTRY_VERSION) -> str:
    bins = {"registry": registry_binary(b, version)}
    tail = (
        "COPY config.yml /etc/distribution/config.yml\n"
        "RUN mkdir -p /var/lib/registry\n"
        'VOLUME ["/var/lib/registry"]\n'
        "EXPOSE 5000\n"
        'ENTRYPOINT ["registry"]\n'
        'CMD ["serve", "/etc/distribution/config.yml"]\n'
    )
    return program_image(b, "registry", version, base_id, bins, f"bin-registry-{version}", tail,
                         {"config.yml": REGISTRY_CONFIG})

def toxiproxy_binary(b: Builder, version: str = versions.TOXIPROXY_VERSION) -> Path:
    """Toxiproxy's server, ``toxiproxy-server`` (packaged by ``registry_proxy.py``)."""
    mod = versions.TOXIPROXY_MODULE
    key = f"bin-toxiproxy-{version}"
    inputs = {"module": mod, "version": version}
    if not bin_current(b, key, inputs, ["toxiproxy-server"]):
        with b.step(f"building toxiproxy {version} ({mod}/cmd/server)"):
            info = b.module_info(mod, version, key)
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            text = gomod.render_wrapper_gomod("fluxchaos.local/build/toxiproxy", up.go or "1.22", {mod: version},
                                              gomod.carried_replaces(gm), up.godebug)
            b.go_build(key, f"building toxiproxy {version}", text,
                       {"tools.go": gomod.render_tools_go([f"{mod}/cmd/server"])},
                       {"toxiproxy-server": f"{mod}/cmd/server"},
                       ldflags=["-s", "-w", f"-X {mod}.Version={version}"], inputs=inputs)
    return b.cache / "bin" / f"toxiproxy-server-{version}"


def bin_current(b: Builder, key: str, inputs: dict, names: list[str]) -> bool:
    st = b.read_stamp(key)
    return bool(st and st.get("inputs") == inputs
                and all((b.cache / "bin" / f"{n}-{inputs['version']}").exists() for n in names))

def irc(b: Builder, base_id: str, irc_version: str) -> str:
    mod, api = versions.IRC_MODULE, versions.IRC_API_MODULE
    key = f"bin-image-reflector-controller-{irc_version}"
    inputs = {"module": mod, "version": irc_version}
    official = versions.official_irc_image(irc_version)
    if irc_version not in versions.OFFLINE_BUILDABLE_IRC and not bin_current(b,
            key, inputs, ["image-reflector-controller"]) and tools.image_exists(official):
        # e.g. v0.32.0: its module is not served by the proxy, but the
        # official image was `docker load`ed; use it as is.
        b.say(f"  using the local official image {official} (its module is not offline-buildable here)")
        return official
    if not bin_current(b, key, inputs, ["image-reflector-controller"]):
        with b.step(f"building image-reflector-controller {irc_version} ({mod})"):
            try:
                info = b.module_info(mod, irc_version, key)
            except AssetError as exc:
                if "does not serve" not in str(exc):
                    raise
                raise AssetError(
                    f"image-reflector-controller {irc_version} cannot be built offline: the Go module proxy "
                    f"does not serve {mod}@{irc_version} (403/404); offline-buildable versions here include "
                    f"{', '.join(versions.OFFLINE_BUILDABLE_IRC)}; for {irc_version} use --mode online "
                    f"({versions.official_irc_image(irc_version)}), or `docker load` that image and retry "
                    f"(full log: {b.log(key)})"
                ) from None
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            text = gomod.render_wrapper_gomod(
                "fluxchaos.local/build/image-reflector-controller", up.go or "1.22",
                {mod: irc_version, api: irc_version}, gomod.carried_replaces(gm), up.godebug)
            b.go_build(key, f"building image-reflector-controller {irc_version}", text,
                          {"tools.go": gomod.render_tools_go([mod])},
                          {"image-reflector-controller": mod}, inputs=inputs)
    bins = {"image-reflector-controller": b.cache / "bin" / f"image-reflector-controller-{irc_version}"}
    tail = 'USER 65534:65534\nENTRYPOINT ["image-reflector-controller"]\n'
    return program_image(b, "image-reflector-controller", irc_version, base_id, bins, key, tail)

def etcd(b: Builder, base_id: str, version: str = versions.ETCD_VERSION) -> str:
    mod = versions.ETCD_MODULE
    key = f"bin-etcd-{version}"
    inputs = {"module": mod, "version": version}
    if not bin_current(b, key, inputs, ["etcd"]):
        with b.step(f"building etcd {version} ({mod})"):
            info = b.module_info(mod, version, key)
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            text = gomod.render_wrapper_gomod("fluxchaos.local/build/etcd", up.go or "1.22", {mod: version},
                                              gomod.carried_replaces(gm), up.godebug)
            rev = (info.get("Origin") or {}).get("Hash", "")
            ldflags = [f"-X go.etcd.io/etcd/api/v3/version.GitSHA={rev[:7] if rev else 'GitNotFound'}"]
            b.go_build(key, f"building etcd {version}", text, {"main.go": gomod.ETCD_MAIN_GO},
                          {"etcd": "fluxchaos.local/build/etcd"}, ldflags=ldflags, inputs=inputs)
    bins = {"etcd": b.cache / "bin" / f"etcd-{version}"}
    return program_image(b, "etcd", version, base_id, bins, key, 'EXPOSE 2379 2380\nCMD ["etcd"]\n')

def kube_apiserver(b: Builder, base_id: str, version: str = versions.KUBERNETES_VERSION) -> str:
    mod = versions.KUBERNETES_MODULE
    key = f"bin-kube-apiserver-{version}"
    inputs = {"module": mod, "version": version, "tags": "selinux,notest"}
    if not bin_current(b, key, inputs, ["kube-apiserver"]):
        with b.step(f"building kube-apiserver {version} ({mod}, wrapper with staging replaces)"):
            info = b.module_info(mod, version, key)
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            reps = gomod.staging_replaces(gm, version)
            text = gomod.render_wrapper_gomod("fluxchaos.local/build/kube-apiserver", up.go or "1.22",
                                              {mod: version}, reps, up.godebug)
            build_date = info.get("Time") or _now()
            build_date = re.sub(r"\.\d+", "", build_date)
            rev = (info.get("Origin") or {}).get("Hash", "")
            ldflags = ["-s", "-w"] + gomod.kube_version_ldflags(version, rev, build_date)
            b.go_build(key, f"building kube-apiserver {version}", text,
                          {"tools.go": gomod.render_tools_go([f"{mod}/cmd/kube-apiserver"])},
                          {"kube-apiserver": f"{mod}/cmd/kube-apiserver"},
                          ldflags=ldflags, tags="selinux,notest", inputs=inputs)
    bins = {"kube-apiserver": b.cache / "bin" / f"kube-apiserver-{version}"}
    return program_image(b, "kube-apiserver", version, base_id, bins, key,
                               'EXPOSE 6443\nCMD ["kube-apiserver"]\n')

