"""Build (offline) or obtain (online) every container image the plugin runs.

Offline path: Go programs are built with the ``go`` command from the Go
module proxy, by module path and version, in throw-away wrapper modules under
the cache; the OS layer is Debian bookworm from ``debootstrap``; images are
assembled with Docker's classic builder.  Nothing third-party lives in the
repository.

Online path: the official upstream images, if present locally or pullable
within a short timeout (and ``KUBEBUILDER_ASSETS`` binaries for the control
plane, if set).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Callable, Iterator

from . import gomod, tools, versions
from .errors import AssetError
from .versions import resolve_irc_version

LABEL = "io.fluxchaos.asset"
MODES = ("auto", "offline", "online")
SOURCES = ("offline-build", "online")
STAMP_SCHEMA = 1

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Assets:
    irc_version: str  # "v1.2.4"
    flux_version: str | None  # "2.9.4" if known
    irc_image: str
    etcd_image: str
    apiserver_image: str
    registry_image: str
    stress_image: str
    manifests_dir: Path  # <cache>/irc/<version>/ with crds/*.yaml, rbac/*.yaml, deployment.yaml
    source: str  # "offline-build" | "online"


def default_cache_dir() -> Path:
    env = os.environ.get("FLUXCHAOS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fluxchaos"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _min_free_gib() -> float:
    try:
        return float(os.environ.get("FLUXCHAOS_MIN_FREE_GB", "3"))
    except ValueError:
        return 3.0


def _pull_timeout() -> float:
    try:
        return float(os.environ.get("FLUXCHAOS_PULL_TIMEOUT", "20"))
    except ValueError:
        return 20.0


REGISTRY_CONFIG = Path(__file__).with_name("registry-config.yaml")


class Builder:
    """Does the work for :func:`ensure_assets`; one instance per call."""

    def __init__(self, cache: Path, progress: Progress = print) -> None:
        self.cache = Path(cache).expanduser().resolve()
        self.progress = progress
        self.timings: list[tuple[str, float]] = []
        for sub in ("stamps", "work", "logs", "bin", "irc"):
            (self.cache / sub).mkdir(parents=True, exist_ok=True)
        self._go_checked = False
        self._network_dead: str | None = None
        # Repository prefix of the images we build ("fluxchaos/<name>:<version>").
        # Docker tags are global; a separate prefix isolates an experimental cache.
        self.prefix = os.environ.get("FLUXCHAOS_IMAGE_PREFIX", "fluxchaos").rstrip("/")

    # ------------------------------------------------------------------ #
    # bookkeeping
    # ------------------------------------------------------------------ #

    def say(self, msg: str) -> None:
        self.progress(f"[assets] {msg}")

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.say(f"{label} ...")
        t0 = time.monotonic()
        try:
            yield
        except AssetError:
            self.say(f"{label} ... FAILED after {time.monotonic() - t0:.1f}s")
            raise
        dt = time.monotonic() - t0
        self.timings.append((label, dt))
        self.say(f"{label} ... done in {dt:.1f}s")

    def stamp_path(self, key: str) -> Path:
        return self.cache / "stamps" / f"{key}.json"

    def read_stamp(self, key: str) -> dict | None:
        try:
            data = json.loads(self.stamp_path(key).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return data if data.get("schema") == STAMP_SCHEMA else None

    def write_stamp(self, key: str, data: dict) -> None:
        data = {"schema": STAMP_SCHEMA, "key": key, **data}
        p = self.stamp_path(key)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(p)

    def log(self, key: str) -> Path:
        return self.cache / "logs" / f"{key}.log"

    def current_image(self, key: str, tag: str, inputs: dict) -> str | None:
        """The image id if ``tag`` was built by us from exactly ``inputs`` and still exists."""
        st = self.read_stamp(key)
        if not st or st.get("inputs") != inputs or st.get("image") != tag:
            return None
        return st["image_id"] if tools.restore_tags({tag: st.get("image_id", "")}) else None

    def record_image(self, key: str, tag: str, image_id: str, inputs: dict, seconds: float, source: str, **extra) -> None:
        self.write_stamp(key, {
            "image": tag, "image_id": image_id, "inputs": inputs, "built_at": _now(),
            "seconds": round(seconds, 1), "source": source, **extra,
        })

    # ------------------------------------------------------------------ #
    # Go
    # ------------------------------------------------------------------ #

    def go_env(self) -> dict[str, str]:
        env = tools.go_env()
        if not self._go_checked:
            tools.require_go()
            self._go_checked = True
        return env

    def check_disk(self, what: str) -> None:
        paths = [self.cache]
        env = tools.go_env()
        for var in ("GOMODCACHE", "GOCACHE"):
            if env.get(var):
                paths.append(Path(env[var]))
        paths += [Path.home() / "go", Path.home() / ".cache"]
        tools.check_free_space(paths, _min_free_gib(), what)

    def module_info(self, path: str, version: str, log_key: str) -> dict:
        env = self.go_env()
        scratch = self.cache / "work" / "_download"
        scratch.mkdir(parents=True, exist_ok=True)
        return tools.go_mod_download(path, version, log=self.log(log_key), env=env, cwd=scratch)

    def go_build(
        self,
        key: str,
        what: str,
        gomod_text: str,
        files: dict[str, str],
        packages: dict[str, str],
        *,
        ldflags: list[str] = (),  # type: ignore[assignment]
        tags: str = "",
        inputs: dict,
    ) -> dict[str, Path]:
        """Build ``packages`` (binary name -> package path) in a wrapper module.

        Returns binary name -> path under ``<cache>/bin``.  Skips the build when
        a stamp for the same inputs exists and the binaries are still there.
        """
        bindir = self.cache / "bin"
        outs = {name: bindir / f"{name}-{inputs['version']}" for name in packages}
        st = self.read_stamp(key)
        if st and st.get("inputs") == inputs and all(p.exists() for p in outs.values()):
            return outs
        env = self.go_env()
        self.check_disk(what)
        log = self.log(key)
        wdir = self.cache / "work" / key
        shutil.rmtree(wdir, ignore_errors=True)
        wdir.mkdir(parents=True)
        (wdir / "go.mod").write_text(gomod_text)
        for name, text in files.items():
            (wdir / name).write_text(text)
        go = tools.require_go()
        t0 = time.monotonic()
        substitutions = self.tidy(wdir, what, log, env)
        t_tidy = time.monotonic() - t0
        sha = {}
        for name, pkg in packages.items():
            tmp = outs[name].with_name(outs[name].name + ".tmp")
            cmd = [go, "build", "-trimpath", "-o", str(tmp)]
            if tags:
                cmd.append(f"-tags={tags}")
            if ldflags:
                cmd.append("-ldflags=" + " ".join(ldflags))
            cmd.append(pkg)
            tools.run(cmd, what=f"{what}: go build {pkg}", log=log, cwd=wdir, env=env, timeout=7200, kind="go")
            tmp.replace(outs[name])
            sha[name] = _sha256(outs[name])
        self.write_stamp(key, {
            "inputs": inputs, "outputs": {n: str(p) for n, p in outs.items()}, "sha256": sha,
            "built_at": _now(), "seconds": round(time.monotonic() - t0, 1),
            "tidy_seconds": round(t_tidy, 1), "go": tools.go_version(env),
            "substitutions": substitutions,
        })
        return outs

    def tidy(self, wdir: Path, what: str, log: Path, env: dict[str, str]) -> list[dict]:
        """``go mod tidy`` in a wrapper, substituting module versions the proxy refuses.

        The Go module proxy reachable from the project's machines serves only
        some versions of some modules.  When tidy fails because one exact
        dependency version is refused (403/404/410), the wrapper gets a
        ``replace`` to the nearest served version of that module (the lowest
        newer one, else the highest older one), the substitution is logged,
        recorded in the stamp and printed, and tidy is retried.  Set
        FLUXCHAOS_NO_SUBSTITUTE=1 to fail instead.
        """
        go = tools.require_go()
        subs: list[dict] = []
        for _ in range(25):
            try:
                tools.run([go, "mod", "tidy"], what=f"{what}: go mod tidy", log=log, cwd=wdir, env=env,
                          timeout=3600, kind="go")
                return subs
            except AssetError as exc:
                text = log.read_text(errors="replace").rsplit("\n$ ", 1)[-1]
                refused = tools.refused_module(text)
                if not refused or os.environ.get("FLUXCHAOS_NO_SUBSTITUTE") or \
                        any(s["module"] == refused[0] for s in subs):
                    raise exc
                mod_path, wanted = refused
                served = tools.served_versions(mod_path, env=env, cwd=self.cache / "work" / "_download", log=log)
                pick = tools.nearest_version(wanted, served)
                if not pick:
                    raise exc
                self.say(f"  {mod_path}@{wanted} is not served by the Go module proxy; "
                         f"substituting {pick} (served: {' '.join(served)})")
                tools.run([go, "mod", "edit", f"-replace={mod_path}={mod_path}@{pick}"],
                          what=f"{what}: go mod edit", log=log, cwd=wdir, env=env, timeout=60, kind="go")
                subs.append({"module": mod_path, "wanted": wanted, "used": pick})
        raise AssetError(f"{what}: too many module substitutions needed (full log: {log})")

    def bin_sha(self, key: str, name: str) -> str:
        st = self.read_stamp(key) or {}
        return (st.get("sha256") or {}).get(name, "")

    # ------------------------------------------------------------------ #
    # Docker image helpers
    # ------------------------------------------------------------------ #

    def build_image(self, key: str, tag: str, dockerfile: str, files: dict[str, Path | str], inputs: dict,
                    what: str, source: str = "offline-build") -> str:
        """Build ``tag`` from a generated Dockerfile unless already current."""
        cur = self.current_image(key, tag, inputs)
        if cur:
            return cur
        t0 = time.monotonic()
        self.check_disk(what)
        ctx = self.cache / "work" / f"{key}.ctx"
        shutil.rmtree(ctx, ignore_errors=True)
        ctx.mkdir(parents=True)
        (ctx / "Dockerfile").write_text(dockerfile)
        for name, src in files.items():
            if isinstance(src, Path):
                shutil.copy2(src, ctx / name)
                os.chmod(ctx / name, 0o755 if os.access(src, os.X_OK) else 0o644)
            else:
                (ctx / name).write_text(src)
        image_id = tools.docker_build(ctx, tag, what=what, log=self.log(key))
        shutil.rmtree(ctx, ignore_errors=True)
        self.record_image(key, tag, image_id, inputs, time.monotonic() - t0, source)
        return image_id

    @staticmethod
    def labels(name: str, version: str, source: str = "offline-build") -> str:
        return (f'LABEL {LABEL}="true" io.fluxchaos.name="{name}" io.fluxchaos.version="{version}" '
                f'io.fluxchaos.source="{source}"\n')

    # ------------------------------------------------------------------ #
    # OS images
    # ------------------------------------------------------------------ #

    @property
    def DEBIAN_TAG(self) -> str:  # noqa: N802
        return f"{self.prefix}/debian:{versions.DEBIAN_SUITE}"

    @property
    def BASE_TAG(self) -> str:  # noqa: N802
        return f"{self.prefix}/base:{versions.DEBIAN_SUITE}"

    @property
    def STRESS_TAG(self) -> str:  # noqa: N802
        return f"{self.prefix}/stress:{versions.DEBIAN_SUITE}"

    def debian(self, online: bool = False) -> str:
        suite = versions.DEBIAN_SUITE
        key = f"debian-{suite}"
        if online:
            inputs = {"suite": suite, "method": f"official debian:{suite}"}
            cur = self.current_image(key, self.DEBIAN_TAG, inputs)
            if cur:
                return cur
            with self.step(f"tagging official debian:{suite} as {self.DEBIAN_TAG}"):
                if not self.official(f"debian:{suite}"):
                    raise AssetError(f"online mode: debian:{suite} is neither present nor pullable; use --mode offline")
                return self.build_image(key, self.DEBIAN_TAG, f"FROM debian:{suite}\n" + self.labels("debian", suite, "online"),
                                        {}, inputs, f"tagging debian:{suite}", "online")
        inputs = {"suite": suite, "method": "debootstrap --variant=minbase", "mirror": versions.DEBIAN_MIRROR}
        cur = self.current_image(key, self.DEBIAN_TAG, inputs)
        if cur:
            return cur
        with self.step(f"building {self.DEBIAN_TAG} (debootstrap {suite})"):
            if os.geteuid() != 0:
                raise AssetError("debootstrap needs root: run the asset build as root (CI and the dev machines are root)")
            deb = shutil.which("debootstrap")
            if not deb:
                raise AssetError("debootstrap not found: `apt-get install debootstrap` (scripts/ensure-docker.sh installs it)")
            docker = tools.require_docker()
            self.check_disk("debootstrap")
            t0 = time.monotonic()
            log = self.log(key)
            root = self.cache / "work" / key / "rootfs"
            if root.exists():
                subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
            root.parent.mkdir(parents=True, exist_ok=True)
            tools.run([deb, "--variant=minbase", suite, str(root), versions.DEBIAN_MIRROR],
                      what=f"debootstrap {suite}", log=log, timeout=3600)
            mirror = versions.DEBIAN_MIRROR.rstrip("/")
            security = mirror.rsplit("/", 1)[0] + "/debian-security" if mirror.endswith("/debian") else None
            lines = [f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"]
            if security:
                lines.append(f"deb {security} {suite}-security main")
            (root / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")
            for p in (root / "var/cache/apt/archives").glob("*.deb"):
                p.unlink()
            shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
            (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
            tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            try:
                imp = subprocess.run(
                    [docker, "import",
                     "--change", f'LABEL {LABEL}="true" io.fluxchaos.name="debian" io.fluxchaos.version="{suite}"',
                     "--change", 'CMD ["/bin/bash"]', "-", self.DEBIAN_TAG],
                    stdin=tar.stdout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=tools.docker_env(),
                )
            finally:
                tar.stdout.close()  # type: ignore[union-attr]
                tar.wait()
            out = imp.stdout.decode("utf-8", "replace")
            with log.open("a") as fh:
                fh.write(f"\n$ tar -c {root} | docker import - {self.DEBIAN_TAG}\n{out}\n")
            if imp.returncode != 0 or tar.returncode != 0:
                raise tools.classify_docker_failure("docker import of the Debian rootfs", out, log)
            subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
            image_id = tools.image_ids([self.DEBIAN_TAG]).get(self.DEBIAN_TAG)
            if not image_id:
                raise AssetError(f"docker import finished but {self.DEBIAN_TAG} is missing (full log: {log})")
            self.record_image(key, self.DEBIAN_TAG, image_id, inputs, time.monotonic() - t0, "offline-build")
        return image_id

    def base(self, debian_id: str) -> str:
        key = f"base-{versions.DEBIAN_SUITE}"
        inputs = {"from": debian_id, "packages": ["ca-certificates"]}
        if self.current_image(key, self.BASE_TAG, inputs):
            return self.current_image(key, self.BASE_TAG, inputs)  # type: ignore[return-value]
        df = (
            f"FROM {self.DEBIAN_TAG}\n"
            "RUN apt-get update \\\n"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \\\n"
            " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb\n"
            + self.labels("base", versions.DEBIAN_SUITE)
        )
        with self.step(f"building {self.BASE_TAG} (+ca-certificates)"):
            return self.build_image(key, self.BASE_TAG, df, {}, inputs, f"building {self.BASE_TAG}")

    def stress(self, debian_id: str) -> str:
        key = f"stress-{versions.DEBIAN_SUITE}"
        pkgs = ["stress-ng", "util-linux", "procps"]
        inputs = {"from": debian_id, "packages": pkgs}
        if self.current_image(key, self.STRESS_TAG, inputs):
            return self.STRESS_TAG
        df = (
            f"FROM {self.DEBIAN_TAG}\n"
            "RUN apt-get update \\\n"
            f" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {' '.join(pkgs)} \\\n"
            " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb\n"
            'CMD ["stress-ng", "--version"]\n'
            + self.labels("stress", versions.DEBIAN_SUITE)
        )
        with self.step(f"building {self.STRESS_TAG} (stress-ng, util-linux, procps)"):
            self.build_image(key, self.STRESS_TAG, df, {}, inputs, f"building {self.STRESS_TAG}")
        return self.STRESS_TAG

    # ------------------------------------------------------------------ #
    # Go programs -> images
    # ------------------------------------------------------------------ #

    def _program_image(self, name: str, version: str, base_id: str, binaries: dict[str, Path], bin_key: str,
                       dockerfile_tail: str, extra_files: dict[str, Path | str] | None = None) -> str:
        tag = f"{self.prefix}/{name}:{version}"
        key = f"image-{name}-{version}"
        inputs = {"from": base_id, "binaries": {n: self.bin_sha(bin_key, n) for n in binaries}}
        if extra_files:
            inputs["files"] = {n: hashlib.sha256(p.read_bytes() if isinstance(p, Path) else p.encode()).hexdigest()
                               for n, p in extra_files.items()}
        if self.current_image(key, tag, inputs):
            return tag
        df = f"FROM {self.BASE_TAG}\n"
        for n in binaries:
            df += f"COPY {n} /usr/local/bin/{n}\n"
        df += dockerfile_tail + self.labels(name, version)
        files: dict[str, Path | str] = {n: p for n, p in binaries.items()}
        files.update(extra_files or {})
        with self.step(f"packaging image {tag}"):
            self.build_image(key, tag, df, files, inputs, f"building image {tag}")
        return tag

    def registry(self, base_id: str, version: str = versions.REGISTRY_VERSION) -> str:
        mod = versions.REGISTRY_MODULE
        key = f"bin-registry-{version}"
        inputs = {"module": mod, "version": version}
        if not self._bin_current(key, inputs, ["registry"]):
            with self.step(f"building registry {version} ({mod}/cmd/registry)"):
                info = self.module_info(mod, version, key)
                up = gomod.parse_gomod(Path(info["GoMod"]).read_text())
                text = gomod.render_wrapper_gomod(
                    "fluxchaos.local/build/registry", up.go or "1.22", {mod: version},
                    gomod.carried_replaces(Path(info["GoMod"]).read_text()), up.godebug)
                rev = (info.get("Origin") or {}).get("Hash", "")
                ldflags = ["-s", "-w", f"-X {mod}/version.version={version}", f"-X {mod}/version.mainpkg={mod}"]
                if rev:
                    ldflags.append(f"-X {mod}/version.revision={rev}")
                self.go_build(key, f"building registry {version}", text,
                              {"tools.go": gomod.render_tools_go([f"{mod}/cmd/registry"])},
                              {"registry": f"{mod}/cmd/registry"}, ldflags=ldflags, inputs=inputs)
        bins = {"registry": self.cache / "bin" / f"registry-{version}"}
        tail = (
            "COPY config.yml /etc/distribution/config.yml\n"
            "RUN mkdir -p /var/lib/registry\n"
            'VOLUME ["/var/lib/registry"]\n'
            "EXPOSE 5000\n"
            'ENTRYPOINT ["registry"]\n'
            'CMD ["serve", "/etc/distribution/config.yml"]\n'
        )
        return self._program_image("registry", version, base_id, bins, key, tail, {"config.yml": REGISTRY_CONFIG})

    def _bin_current(self, key: str, inputs: dict, names: list[str]) -> bool:
        st = self.read_stamp(key)
        return bool(st and st.get("inputs") == inputs
                    and all((self.cache / "bin" / f"{n}-{inputs['version']}").exists() for n in names))

    def irc(self, base_id: str, irc_version: str) -> str:
        mod, api = versions.IRC_MODULE, versions.IRC_API_MODULE
        key = f"bin-image-reflector-controller-{irc_version}"
        inputs = {"module": mod, "version": irc_version}
        official = versions.official_irc_image(irc_version)
        if irc_version not in versions.OFFLINE_BUILDABLE_IRC and not self._bin_current(
                key, inputs, ["image-reflector-controller"]) and tools.image_exists(official):
            # e.g. v0.32.0: its module is not served by the proxy, but the
            # official image was `docker load`ed; use it as is.
            self.say(f"  using the local official image {official} (its module is not offline-buildable here)")
            return official
        if not self._bin_current(key, inputs, ["image-reflector-controller"]):
            with self.step(f"building image-reflector-controller {irc_version} ({mod})"):
                try:
                    info = self.module_info(mod, irc_version, key)
                except AssetError as exc:
                    if "does not serve" not in str(exc):
                        raise
                    raise AssetError(
                        f"image-reflector-controller {irc_version} cannot be built offline: the Go module proxy "
                        f"does not serve {mod}@{irc_version} (403/404); offline-buildable versions here include "
                        f"{', '.join(versions.OFFLINE_BUILDABLE_IRC)}; for {irc_version} use --mode online "
                        f"({versions.official_irc_image(irc_version)}), or `docker load` that image and retry "
                        f"(full log: {self.log(key)})"
                    ) from None
                gm = Path(info["GoMod"]).read_text()
                up = gomod.parse_gomod(gm)
                text = gomod.render_wrapper_gomod(
                    "fluxchaos.local/build/image-reflector-controller", up.go or "1.22",
                    {mod: irc_version, api: irc_version}, gomod.carried_replaces(gm), up.godebug)
                self.go_build(key, f"building image-reflector-controller {irc_version}", text,
                              {"tools.go": gomod.render_tools_go([mod])},
                              {"image-reflector-controller": mod}, inputs=inputs)
        bins = {"image-reflector-controller": self.cache / "bin" / f"image-reflector-controller-{irc_version}"}
        tail = 'USER 65534:65534\nENTRYPOINT ["image-reflector-controller"]\n'
        return self._program_image("image-reflector-controller", irc_version, base_id, bins, key, tail)

    def etcd(self, base_id: str, version: str = versions.ETCD_VERSION) -> str:
        mod = versions.ETCD_MODULE
        key = f"bin-etcd-{version}"
        inputs = {"module": mod, "version": version}
        if not self._bin_current(key, inputs, ["etcd"]):
            with self.step(f"building etcd {version} ({mod})"):
                info = self.module_info(mod, version, key)
                gm = Path(info["GoMod"]).read_text()
                up = gomod.parse_gomod(gm)
                text = gomod.render_wrapper_gomod("fluxchaos.local/build/etcd", up.go or "1.22", {mod: version},
                                                  gomod.carried_replaces(gm), up.godebug)
                rev = (info.get("Origin") or {}).get("Hash", "")
                ldflags = [f"-X go.etcd.io/etcd/api/v3/version.GitSHA={rev[:7] if rev else 'GitNotFound'}"]
                self.go_build(key, f"building etcd {version}", text, {"main.go": gomod.ETCD_MAIN_GO},
                              {"etcd": "fluxchaos.local/build/etcd"}, ldflags=ldflags, inputs=inputs)
        bins = {"etcd": self.cache / "bin" / f"etcd-{version}"}
        return self._program_image("etcd", version, base_id, bins, key, 'EXPOSE 2379 2380\nCMD ["etcd"]\n')

    def kube_apiserver(self, base_id: str, version: str = versions.KUBERNETES_VERSION) -> str:
        mod = versions.KUBERNETES_MODULE
        key = f"bin-kube-apiserver-{version}"
        inputs = {"module": mod, "version": version, "tags": "selinux,notest"}
        if not self._bin_current(key, inputs, ["kube-apiserver"]):
            with self.step(f"building kube-apiserver {version} ({mod}, wrapper with staging replaces)"):
                info = self.module_info(mod, version, key)
                gm = Path(info["GoMod"]).read_text()
                up = gomod.parse_gomod(gm)
                reps = gomod.staging_replaces(gm, version)
                text = gomod.render_wrapper_gomod("fluxchaos.local/build/kube-apiserver", up.go or "1.22",
                                                  {mod: version}, reps, up.godebug)
                build_date = info.get("Time") or _now()
                build_date = re.sub(r"\.\d+", "", build_date)
                rev = (info.get("Origin") or {}).get("Hash", "")
                ldflags = ["-s", "-w"] + gomod.kube_version_ldflags(version, rev, build_date)
                self.go_build(key, f"building kube-apiserver {version}", text,
                              {"tools.go": gomod.render_tools_go([f"{mod}/cmd/kube-apiserver"])},
                              {"kube-apiserver": f"{mod}/cmd/kube-apiserver"},
                              ldflags=ldflags, tags="selinux,notest", inputs=inputs)
        bins = {"kube-apiserver": self.cache / "bin" / f"kube-apiserver-{version}"}
        return self._program_image("kube-apiserver", version, base_id, bins, key,
                                   'EXPOSE 6443\nCMD ["kube-apiserver"]\n')

    # ------------------------------------------------------------------ #
    # Flux manifests (CRDs, RBAC, Deployment) from the module cache
    # ------------------------------------------------------------------ #

    def manifests(self, irc_version: str) -> Path:
        out = self.cache / "irc" / irc_version
        stamp = out / "manifest.json"
        try:
            st = json.loads(stamp.read_text())
            if st.get("schema") == STAMP_SCHEMA and all((out / f).exists() for f in st.get("files", [])) \
                    and any(f.startswith("crds/") for f in st.get("files", [])):
                return out
        except (OSError, json.JSONDecodeError):
            pass
        with self.step(f"collecting Flux manifests for image-reflector-controller {irc_version}"):
            key = f"manifests-{irc_version}"
            tmp = out.with_name(out.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            (tmp / "crds").mkdir(parents=True)
            (tmp / "rbac").mkdir()
            files: list[str] = []
            method = "module"
            try:
                info = self.module_info(versions.IRC_MODULE, irc_version, key)
            except AssetError as exc:
                info = None
                module_error = str(exc)
            if info:
                src = Path(info["Dir"])
                for p in sorted((src / "config" / "crd" / "bases").glob("*.yaml")):
                    shutil.copyfile(p, tmp / "crds" / p.name)
                    files.append(f"crds/{p.name}")
                for p in sorted((src / "config" / "rbac").glob("*.yaml")):
                    if p.name != "kustomization.yaml":
                        shutil.copyfile(p, tmp / "rbac" / p.name)
                        files.append(f"rbac/{p.name}")
                dep = src / "config" / "manager" / "deployment.yaml"
                if dep.exists():
                    shutil.copyfile(dep, tmp / "deployment.yaml")
                    files.append("deployment.yaml")
            if not any(f.startswith("crds/") for f in files):
                method = "controller-gen"
                if info is None:
                    self.say(f"  controller module not available ({module_error}); generating CRDs from its api module")
                files += self.generate_crds(irc_version, tmp / "crds")
            borrowed: dict[str, str] = {}
            if not any(f.startswith("rbac/") for f in files) or "deployment.yaml" not in files:
                # RBAC and the Deployment are not generated from the api module;
                # take them from the nearest version whose module is served (the
                # controller's RBAC needs and Deployment args did not change
                # between v0.32 and v1.2).
                donor = versions.OFFLINE_BUILDABLE_IRC[-1]
                dsrc = Path(self.module_info(versions.IRC_MODULE, donor, key)["Dir"]) / "config"
                if not any(f.startswith("rbac/") for f in files):
                    for p in sorted((dsrc / "rbac").glob("*.yaml")):
                        if p.name != "kustomization.yaml":
                            shutil.copyfile(p, tmp / "rbac" / p.name)
                            files.append(f"rbac/{p.name}")
                    borrowed["rbac"] = donor
                if "deployment.yaml" not in files and (dsrc / "manager" / "deployment.yaml").exists():
                    shutil.copyfile(dsrc / "manager" / "deployment.yaml", tmp / "deployment.yaml")
                    files.append("deployment.yaml")
                    borrowed["deployment.yaml"] = donor
                self.say(f"  RBAC/Deployment for {irc_version} borrowed from {donor}: {', '.join(borrowed)}")
            os.chmod(tmp, 0o755)
            for f in files:
                os.chmod(tmp / f, 0o644)
            (tmp / "manifest.json").write_text(json.dumps({
                "schema": STAMP_SCHEMA, "irc_version": irc_version, "method": method,
                "files": files, "borrowed": borrowed, "created_at": _now(),
            }, indent=2) + "\n")
            shutil.rmtree(out, ignore_errors=True)
            tmp.replace(out)
        return out

    def generate_crds(self, irc_version: str, dest: Path) -> list[str]:
        """controller-gen the CRDs from the IRC api module (for versions whose module lacks them)."""
        env = self.go_env()
        go = tools.require_go()
        key = f"crdgen-{irc_version}"
        log = self.log(key)
        ct_ver = versions.CONTROLLER_TOOLS_VERSION
        gobin = self.cache / "work" / f"controller-tools-{ct_ver}"
        cg = gobin / "controller-gen"
        if not cg.exists():
            tools.run([go, "install", f"{versions.CONTROLLER_TOOLS_MODULE}/cmd/controller-gen@{ct_ver}"],
                      what=f"building controller-gen {ct_ver}", log=log, env={**env, "GOBIN": str(gobin)},
                      timeout=3600, kind="go")
        api = versions.IRC_API_MODULE
        info = self.module_info(api, irc_version, key)
        gm = Path(info["GoMod"]).read_text()
        up = gomod.parse_gomod(gm)
        pkgs = sorted({
            api + ("/" + str(p.parent.relative_to(info["Dir"])) if str(p.parent.relative_to(info["Dir"])) != "." else "")
            for p in Path(info["Dir"]).rglob("*types.go")
        })
        wdir = self.cache / "work" / key
        shutil.rmtree(wdir, ignore_errors=True)
        wdir.mkdir(parents=True)
        (wdir / "go.mod").write_text(gomod.render_wrapper_gomod(
            "fluxchaos.local/build/crdgen", up.go or "1.22", {api: irc_version}, gomod.carried_replaces(gm)))
        (wdir / "tools.go").write_text(gomod.render_tools_go(pkgs))
        tools.run([go, "mod", "tidy"], what="controller-gen wrapper: go mod tidy", log=log, cwd=wdir, env=env,
                  timeout=1800, kind="go")
        tools.run([str(cg), "crd", *[f"paths={p}" for p in pkgs], f"output:crd:dir={dest}"],
                  what=f"controller-gen CRDs for {api}@{irc_version}", log=log, cwd=wdir, env=env,
                  timeout=1800, kind="go")
        files = [f"crds/{p.name}" for p in sorted(dest.glob("*.yaml"))]
        if not files:
            raise AssetError(f"controller-gen produced no CRDs for {api}@{irc_version} (full log: {log})")
        return files

    # ------------------------------------------------------------------ #
    # Online path
    # ------------------------------------------------------------------ #

    def official(self, ref: str) -> bool:
        """Is ``ref`` present locally, or pullable within the timeout?"""
        if tools.image_exists(ref):
            self.say(f"  using local {ref}")
            return True
        if self._network_dead:
            return False
        t = _pull_timeout()
        self.say(f"  pulling {ref} (timeout {t:.0f}s) ...")
        ok, why = tools.docker_pull(ref, t, self.log("pulls"))
        if not ok:
            self._network_dead = f"{ref}: {why}"
            self.say(f"  cannot pull {ref}: {why}")
        return ok

    def kubebuilder_images(self, base_id: str) -> tuple[str, str] | None:
        """Images made from KUBEBUILDER_ASSETS' etcd and kube-apiserver binaries, if set."""
        d = os.environ.get("KUBEBUILDER_ASSETS")
        if not d:
            return None
        etcd, kas = Path(d) / "etcd", Path(d) / "kube-apiserver"
        if not (etcd.is_file() and kas.is_file()):
            self.say(f"  KUBEBUILDER_ASSETS={d} lacks etcd or kube-apiserver; ignoring it")
            return None
        def ver(p: Path, pat: str) -> str:
            try:
                out = subprocess.run([str(p), "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     timeout=30).stdout.decode()
            except (OSError, subprocess.TimeoutExpired):
                return "unknown"
            m = re.search(pat, out)
            return ("v" + m[1].lstrip("v")) if m else "unknown"
        out = []
        for name, path, pat in (("etcd", etcd, r"etcd Version:\s*(\S+)"),
                                ("kube-apiserver", kas, r"Kubernetes\s+(v\S+)")):
            v = ver(path, pat) + "-kubebuilder"
            key = f"bin-{name}-{v}"
            self.write_stamp(key, {"inputs": {"path": str(path)}, "sha256": {name: _sha256(path)}})
            tail = 'EXPOSE 2379 2380\nCMD ["etcd"]\n' if name == "etcd" else 'EXPOSE 6443\nCMD ["kube-apiserver"]\n'
            out.append(self._program_image(name, v, base_id, {name: path}, key, tail))
        self.say(f"  control plane from KUBEBUILDER_ASSETS={d}")
        return out[0], out[1]

    # ------------------------------------------------------------------ #
    # Sets
    # ------------------------------------------------------------------ #

    def set_key(self, irc_version: str, source: str) -> str:
        return f"set-{irc_version}-{source}"

    def warm(self, irc_version: str, flux_version: str | None, sources: tuple[str, ...]) -> Assets | None:
        """A previously completed set whose images all still exist (no work)."""
        for source in sources:
            st = self.read_stamp(self.set_key(irc_version, source))
            if not st:
                continue
            a = st.get("assets") or {}
            ids = st.get("image_ids") or {}
            if ids and (Path(a.get("manifests_dir", "/nonexistent")) / "manifest.json").exists() \
                    and tools.restore_tags(ids):
                a = dict(a, manifests_dir=Path(a["manifests_dir"]), flux_version=flux_version or a.get("flux_version"))
                return Assets(**a)
        return None

    def record_set(self, assets: Assets) -> None:
        refs = [assets.irc_image, assets.etcd_image, assets.apiserver_image, assets.registry_image, assets.stress_image]
        ids = tools.image_ids(refs + [self.DEBIAN_TAG, self.BASE_TAG])  # base tags too, kept consistent
        missing = [r for r in refs if r not in ids]
        if missing:
            raise AssetError(f"images vanished while building: {', '.join(missing)}; is something pruning Docker images?")
        d = asdict(assets)
        d["manifests_dir"] = str(assets.manifests_dir)
        self.write_stamp(self.set_key(assets.irc_version, assets.source), {
            "assets": d, "image_ids": ids, "recorded_at": _now(),
        })

    def offline(self, irc_version: str, flux_version: str | None) -> Assets:
        self.say(f"path: offline-build (Go module proxy + Debian) for image-reflector-controller {irc_version}")
        tools.require_go()
        debian_id = self.debian()
        base_id = self.base(debian_id)
        stress = self.stress(debian_id)
        registry = self.registry(base_id)
        irc = self.irc(base_id, irc_version)
        etcd = self.etcd(base_id)
        kas = self.kube_apiserver(base_id)
        manifests = self.manifests(irc_version)
        a = Assets(irc_version, flux_version, irc, etcd, kas, registry, stress, manifests, "offline-build")
        self.record_set(a)
        return a

    def online(self, irc_version: str, flux_version: str | None, strict: bool) -> Assets | None:
        """Official images; None (auto mode) or AssetError (online mode) if not all obtainable."""
        self.say(f"checking for official images (online path) for image-reflector-controller {irc_version}")
        irc = versions.official_irc_image(irc_version)
        reg = versions.OFFICIAL_REGISTRY_IMAGE
        needed = [irc, reg]
        got = {r: self.official(r) for r in needed}
        cp: tuple[str, str] | None = None
        if all(got.values()):
            etcd, kas = versions.OFFICIAL_ETCD_IMAGE, versions.official_apiserver_image(versions.KUBERNETES_VERSION)
            if self.official(etcd) and self.official(kas):
                cp = (etcd, kas)
        if not all(got.values()) or (cp is None and not os.environ.get("KUBEBUILDER_ASSETS")):
            missing = [r for r, ok in got.items() if not ok]
            why = self._network_dead or f"missing: {', '.join(missing) or 'control-plane images'}"
            if strict:
                raise AssetError(f"online mode: official images are not available ({why}); use --mode offline to build them")
            self.say(f"official images not available ({why}); falling back to the offline build")
            return None
        debian_id = self.debian(online=not self._debian_offline_ok())
        base_id = self.base(debian_id)
        if cp is None:
            cp = self.kubebuilder_images(base_id)
            if cp is None:
                if strict:
                    raise AssetError("online mode: no control-plane images (official or KUBEBUILDER_ASSETS)")
                return None
        stress = self.stress(debian_id)
        manifests = self.manifests(irc_version)
        self.say("path: online (official upstream images)")
        a = Assets(irc_version, flux_version, irc, cp[0], cp[1], reg, stress, manifests, "online")
        self.record_set(a)
        return a

    def _debian_offline_ok(self) -> bool:
        """Reuse an already debootstrapped Debian image rather than pulling one."""
        return tools.image_exists(self.DEBIAN_TAG) or bool(shutil.which("debootstrap") and os.geteuid() == 0)


@contextlib.contextmanager
def cache_lock(cache: Path, progress: Progress) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    fh = (cache / ".lock").open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"[assets] waiting for another build holding {cache / '.lock'} ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def ensure_assets(
    flux_or_irc_version: str = versions.DEFAULT_FLUX_VERSION,
    *,
    mode: str = "auto",
    cache_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> Assets:
    """Make sure every image for one IRC version exists locally; return their names.

    ``mode``: ``auto`` (official images if present or pullable, else build),
    ``offline`` (always build from the Go module proxy + Debian) or
    ``online`` (official images only).  A warm call does no work.
    """
    if mode not in MODES:
        raise AssetError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    irc_version, flux_version = resolve_irc_version(flux_or_irc_version)
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    t0 = time.monotonic()
    tools.require_docker()
    with cache_lock(cache, progress):
        b = Builder(cache, progress)
        order = {"auto": ("offline-build", "online"), "offline": ("offline-build",), "online": ("online",)}[mode]
        # auto prefers whatever set is already complete (no pulls, no builds).
        warm = b.warm(irc_version, flux_version, order)
        if warm:
            progress(f"[assets] ready: image-reflector-controller {irc_version} ({warm.source}, cached) "
                     f"in {time.monotonic() - t0:.2f}s")
            return warm
        result: Assets | None = None
        if mode in ("auto", "online"):
            result = b.online(irc_version, flux_version, strict=(mode == "online"))
        if result is None:
            result = b.offline(irc_version, flux_version)
        progress(f"[assets] ready: image-reflector-controller {irc_version} ({result.source}) "
                 f"in {time.monotonic() - t0:.1f}s")
        return result
