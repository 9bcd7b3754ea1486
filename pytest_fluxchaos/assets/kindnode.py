"""The offline kind node image, assembled the way kind's ``pkg/build/nodeimage`` does.

1. ``<prefix>/kind-base:<kind>-bookworm``: the project's debootstrapped Debian,
   the apt packages kind's ``images/base/Dockerfile`` installs, kind's
   ``images/base/files`` (entrypoint, systemd units, containerd config) copied
   from the kind module at build time, containerd/runc/crictl/CNI built from
   the Go module proxy, ``cri-base.json`` from ``ctr oci spec``, containerd's
   ``restrict_oom_score_adj = true`` and a fixed ptp + host-local CNI conflist.
2. Component images (``<prefix>/kube-*``, coredns, pause, local-path-provisioner),
   saved with ``docker save`` and renamed, in the archive only, to the names
   ``kubeadm config images list`` prints (the host's Docker never carries
   ``registry.k8s.io/...`` tags).
3. A build container from the base gets kubeadm/kubelet/kubectl, ``/kind/version``
   and ``/kind/manifests``; its containerd imports every archive into the
   ``k8s.io`` namespace (pinned); ``docker commit`` with kind's entrypoint.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from . import os_images, tools, versions
from .errors import AssetError
from .kindbins import CNI_PLUGINS, KindBuilder
from .stamps import LABEL

#: kindnetd is not served by the Go module proxy: the node carries a fixed
#: single-node conflist instead (kind's default pod subnet, node CIDR /24).
POD_SUBNET = "10.244.0.0/24"
CNI_CONFLIST_NAME = "10-fluxchaos-ptp.conflist"
CNI_CONFLIST = json.dumps({
    "cniVersion": "1.0.0",
    "name": "fluxchaos-ptp",
    "plugins": [
        {"type": "ptp", "ipMasq": True, "mtu": 1500,
         "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam-state",
                  "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": POD_SUBNET}]]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}, indent=2) + "\n"

#: kind applies /kind/manifests/default-cni.yaml unless the cluster config
#: disables the default CNI; the node's conflist already does the job.
DEFAULT_CNI_PLACEHOLDER = f"""\
# pytest-fluxchaos offline kind node: the pod network is a fixed ptp + host-local
# CNI conflist baked into the node image (/etc/cni/net.d/{CNI_CONFLIST_NAME}, {POD_SUBNET},
# single node), because kindnetd is not buildable offline.  This manifest only
# records that fact.
apiVersion: v1
kind: ConfigMap
metadata:
  name: fluxchaos-cni
  namespace: kube-system
data:
  conflist: /etc/cni/net.d/{CNI_CONFLIST_NAME}
  podSubnet: "{POD_SUBNET}"
"""

BUILD_CONTAINER_PREFIX = "fluxchaos-kindnode-build-"


def storage_manifest(kind_dir: Path, provisioner: str, helper: str) -> str:
    """kind's default-storage.yaml (``defaultStorageManifest`` in its
    pkg/build/nodeimage/const_storage.go), with our provisioner/helper images."""
    src = kind_dir / "pkg" / "build" / "nodeimage" / "const_storage.go"
    try:
        go = src.read_text()
    except OSError as exc:
        raise AssetError(f"cannot read kind's storage manifest from {src}: {exc.strerror}") from None
    consts = dict(re.findall(r'(?m)^const (\w+) = "([^"]*)"', go))
    start = go.find("const defaultStorageManifest =")
    if start < 0:
        raise AssetError(f"{src}: defaultStorageManifest not found (kind changed its layout)")
    subst = {"storageProvisionerImage": provisioner, "storageHelperImage": helper}
    out = []
    # A Go constant expression: `raw string` + name + `raw string` + ...
    tokens = re.compile(r"\s*(?:`([^`]*)`|([A-Za-z_]\w*))\s*(\+)?")
    pos = start + len("const defaultStorageManifest =")
    while True:
        tok = tokens.match(go, pos)
        if not tok:
            raise AssetError(f"{src}: cannot parse defaultStorageManifest")
        if tok[1] is not None:
            out.append(tok[1])
        elif tok[2] in subst:
            out.append(subst[tok[2]])
        elif tok[2] in consts:
            out.append(consts[tok[2]])
        else:
            raise AssetError(f"{src}: unknown name {tok[2]} in defaultStorageManifest")
        pos = tok.end()
        if not tok[3]:
            break
    text = "".join(out).lstrip("\n")
    if provisioner not in text or helper not in text or "kind: StorageClass" not in text:
        raise AssetError(f"{src}: defaultStorageManifest does not look as expected")
    return text


def rename_archive(src: Path, dst: Path, names: list[str]) -> None:
    """Copy a ``docker save`` archive, setting its one image's RepoTags to ``names``."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for member in tin:
            if member.name == "repositories":
                continue
            data = tin.extractfile(member) if member.isfile() else None
            if member.name == "manifest.json":
                mani = json.loads(data.read())  # type: ignore[union-attr]
                if len(mani) != 1:
                    raise AssetError(f"{src}: expected one image in the archive, found {len(mani)}")
                mani[0]["RepoTags"] = names
                raw = json.dumps(mani).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)
            tout.addfile(member, data)


class NodeImageBuilder(KindBuilder):
    """Component images, the kind base image and the node image."""

    def tag(self, name: str, version: str) -> str:
        return f"{self.prefix}/{name}:{version}"

    # -- component images ------------------------------------------------- #

    def component_images(self, base_id: str, debian_id: str, k8s: dict[str, Path]) -> dict[str, str]:
        """Local images by component name (kube-apiserver, ..., etcd, coredns, pause)."""
        kv = versions.KUBERNETES_VERSION
        imgs = {"kube-apiserver": self.kube_apiserver(base_id), "etcd": self.etcd(base_id)}
        for name in ("kube-controller-manager", "kube-scheduler"):
            imgs[name] = self._program_image(name, kv, base_id, {name: k8s[name]}, f"bin-kubernetes-{kv}",
                                             f'CMD ["{name}"]\n')
        imgs["kube-proxy"] = self._kube_proxy(debian_id, k8s["kube-proxy"])
        cd = self.coredns()
        imgs["coredns"] = self._program_image("coredns", versions.COREDNS_VERSION, base_id, {"coredns": cd},
                                              f"bin-coredns-{versions.COREDNS_VERSION}",
                                              'EXPOSE 53 53/udp\nENTRYPOINT ["coredns"]\n')
        imgs["pause"] = self._pause(self.pause())
        lp = self.local_path_provisioner()
        imgs["local-path-provisioner"] = self._program_image(
            "local-path-provisioner", versions.LOCAL_PATH_VERSION, base_id, {"local-path-provisioner": lp},
            f"bin-local-path-provisioner-{versions.LOCAL_PATH_VERSION}", 'CMD ["local-path-provisioner"]\n')
        imgs["local-path-helper"] = self.DEBIAN_TAG  # needs sh, mkdir, rm
        return imgs

    def _kube_proxy(self, debian_id: str, binary: Path) -> str:
        v = versions.KUBERNETES_VERSION
        tag, key = self.tag("kube-proxy", v), f"image-kube-proxy-{v}"
        pkgs = ["iptables", "nftables", "conntrack", "ipset", "kmod"]
        os_tag = self.os_layer("kube-proxy-os", pkgs)
        inputs = {"from": tools.image_ids([os_tag]).get(os_tag), "packages": pkgs,
                  "binaries": {"kube-proxy": self.bin_sha(f"bin-kubernetes-{v}", "kube-proxy")}}
        df = (f"FROM {os_tag}\n"
              "COPY kube-proxy /usr/local/bin/kube-proxy\n"
              'CMD ["kube-proxy"]\n' + self.labels("kube-proxy", v))
        if not self.current_image(key, tag, inputs):
            with self.step(f"packaging image {tag} (+iptables, nftables, conntrack)"):
                self.build_image(key, tag, df, {"kube-proxy": binary}, inputs, f"building image {tag}")
        return tag

    def os_layer(self, name: str, pkgs: list[str]) -> str:
        """Debian with ``pkgs`` installed by debootstrap on the host (no apt in a build
        container: a daemon without a bridge network cannot reach a mirror); its tag."""
        suite = versions.DEBIAN_SUITE
        tag, key = f"{self.prefix}/{name}:{suite}", f"{name}-{suite}"
        inputs = {"suite": suite, "method": "debootstrap --variant=minbase --include",
                  "mirror": versions.DEBIAN_MIRROR, "packages": pkgs}
        cur = self.current_image(key, tag, inputs)
        if cur:
            return tag
        with self.step(f"building {tag} (debootstrap +{', '.join(pkgs)})"):
            os_images.rootfs_image(self, key, tag, inputs, pkgs, {}, [
                f'LABEL {LABEL}="true" io.fluxchaos.name="{name}" io.fluxchaos.version="{suite}"',
                'CMD ["/bin/bash"]'])
        return tag

    def _pause(self, binary: Path) -> str:
        v = versions.PAUSE_VERSION
        tag, key = self.tag("pause", v), f"image-pause-{v}"
        inputs = {"binaries": {"pause": self.bin_sha(f"bin-pause-{v}", "pause")}}
        df = "FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT [\"/pause\"]\n" + self.labels("pause", v)
        if not self.current_image(key, tag, inputs):
            with self.step(f"packaging image {tag} (FROM scratch)"):
                self.build_image(key, tag, df, {"pause": binary}, inputs, f"building image {tag}")
        return tag

    # -- kind's base image ------------------------------------------------ #

    def kind_base_dockerfile(self, os_tag: str) -> str:
        """kind's images/base/Dockerfile for Docker's classic builder (no --chmod, no stages);
        its packages come with ``os_tag`` (debootstrap on the host), not from apt."""
        kv = versions.KIND_VERSION
        return (
            f"FROM {os_tag}\n"
            # kind's images/base/Dockerfile, base stage (its clean-install's cleanup)
            "RUN rm -rf /var/cache/debconf/* /var/lib/apt/lists/* /var/log/* /tmp/* /var/tmp/* /usr/share/doc/* \\\n"
            "    /usr/share/man/* \\\n"
            ' && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\\n'
            " && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\\n"
            "    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\\n"
            "    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\\n"
            ' && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\\n'
            ' && ln -sf "$(which systemd)" /sbin/init\n'
            "COPY files/ /\n"
            "RUN chmod 755 /kind/bin \\\n"
            " && sed -i 's/^\\( *restrict_oom_score_adj\\) = false/\\1 = true/' /etc/containerd/config.toml \\\n"
            " && grep -q '^ *restrict_oom_score_adj = true' /etc/containerd/config.toml \\\n"
            " && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\\n"
            " && systemctl mask systemd-binfmt.service \\\n"
            " && mkdir -p /etc/kubernetes/manifests /opt/cni/bin /etc/cni/net.d\n"
            "COPY containerd ctr containerd-shim-runc-v2 crictl /usr/local/bin/\n"
            "COPY runc /usr/local/sbin/runc\n"
            "COPY cni/ /opt/cni/bin/\n"
            f"COPY {CNI_CONFLIST_NAME} /etc/cni/net.d/{CNI_CONFLIST_NAME}\n"
            "RUN ctr oci spec \\\n"
            "  | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + "
            "{\"path\": \"/kind/bin/mount-product-files.sh\"}' \\\n"
            "  | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\\n"
            " && containerd --version && runc --version && crictl --version\n"
            "ENV container=docker\n"
            "STOPSIGNAL SIGRTMIN+3\n"
            'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\n'
            + self.labels("kind-base", kv)
        )

    def kind_base(self, debian_id: str, kind_dir: Path) -> str:
        kv = versions.KIND_VERSION
        tag, key = self.tag("kind-base", f"{kv}-{versions.DEBIAN_SUITE}"), f"image-kind-base-{kv}"
        cd = self.containerd()
        runc = self.runc()
        crictl = self.crictl()
        cni = self.cni()
        files_dir = kind_dir / "images" / "base" / "files"
        if not (files_dir / "usr" / "local" / "bin" / "entrypoint").exists():
            raise AssetError(f"kind's images/base/files is missing from the kind module ({files_dir})")
        tree_sha = hashlib.sha256()
        for p in sorted(files_dir.rglob("*")):
            if p.is_file():
                tree_sha.update(str(p.relative_to(files_dir)).encode() + b"\0" + p.read_bytes())
        binaries = {**cd, "runc": runc, "crictl": crictl, **{f"cni-{n}": p for n, p in cni.items()}}
        os_tag = self.os_layer("kind-os", list(versions.KIND_BASE_PACKAGES))
        inputs = {"from": tools.image_ids([os_tag]).get(os_tag), "kind": kv, "files": tree_sha.hexdigest(),
                  "packages": list(versions.KIND_BASE_PACKAGES), "conflist": CNI_CONFLIST,
                  "binaries": {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in binaries.items()}}
        if self.current_image(key, tag, inputs):
            return tag
        df = self.kind_base_dockerfile(os_tag)
        with self.step(f"building {tag} (kind {kv} images/base on {os_tag})"):
            t0 = time.monotonic()
            self.check_disk("kind base image")
            ctx = self.cache / "work" / f"{key}.ctx"
            shutil.rmtree(ctx, ignore_errors=True)
            ctx.mkdir(parents=True)
            # The classic builder has no COPY --chmod: set modes in the context.
            shutil.copytree(files_dir, ctx / "files")
            for p in (ctx / "files").rglob("*"):
                rel = p.relative_to(ctx / "files").parts
                exe = p.is_dir() or rel[:3] == ("usr", "local", "bin") or rel[:2] == ("kind", "bin")
                os.chmod(p, 0o755 if exe else 0o644)
            os.chmod(ctx / "files", 0o755)
            (ctx / "cni").mkdir()
            for name in (*cd, "runc", "crictl"):
                shutil.copyfile(binaries[name], ctx / name)
                os.chmod(ctx / name, 0o755)
            for n, p in cni.items():
                shutil.copyfile(p, ctx / "cni" / n)
                os.chmod(ctx / "cni" / n, 0o755)
            (ctx / CNI_CONFLIST_NAME).write_text(CNI_CONFLIST)
            (ctx / "Dockerfile").write_text(df)
            image_id = tools.docker_build(ctx, tag, what=f"building {tag}", log=self.log(key))
            shutil.rmtree(ctx, ignore_errors=True)
            self.record_image(key, tag, image_id, inputs, time.monotonic() - t0, "offline-build")
        return tag

    # -- the node image --------------------------------------------------- #

    def kubeadm_images(self, kubeadm: Path) -> dict[str, str]:
        """Component name -> the image name kubeadm wants (``kubeadm config images list``)."""
        out = tools.run([str(kubeadm), "config", "images", "list", "--kubernetes-version",
                         versions.KUBERNETES_VERSION], what="kubeadm config images list",
                        log=self.log("kind-node"), timeout=120)
        names = {}
        for ref in out.split():
            if "/" in ref and ":" in ref:
                names[ref.rsplit("/", 1)[-1].split(":", 1)[0]] = ref
        missing = {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd",
                   "coredns", "pause"} - set(names)
        if missing:
            raise AssetError(f"kubeadm config images list did not name {', '.join(sorted(missing))}: "
                             f"{out.strip()[:200]}")
        return names

    def node_image(self) -> tuple[str, dict]:
        """Build ``<prefix>/kind-node:<k8s>``; returns (tag, manifest dict)."""
        kv = versions.KUBERNETES_VERSION
        tag, key = self.tag("kind-node", kv), f"image-kind-node-{kv}"
        debian_id = self.debian()
        base_id = self.base(debian_id)
        kind_dir = self.kind_module_dir()
        k8s = self.kubernetes()
        base_tag = self.kind_base(debian_id, kind_dir)
        comps = self.component_images(base_id, debian_id, k8s)
        wanted = self.kubeadm_images(k8s["kubeadm"])
        pause_names = [wanted["pause"]]
        sandbox = self.sandbox_image(base_tag)
        if sandbox not in pause_names:
            pause_names.append(sandbox)
        provisioner = "docker.io/" + comps["local-path-provisioner"]
        helper = "docker.io/" + comps["local-path-helper"]
        archive_names = {c: [wanted[c]] for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler",
                                                  "kube-proxy", "etcd", "coredns")}
        archive_names["pause"] = pause_names
        archive_names["local-path-provisioner"] = [provisioner]
        archive_names["local-path-helper"] = [helper]
        storage = storage_manifest(kind_dir, provisioner, helper)
        ids = tools.image_ids([base_tag, *comps.values()])
        inputs = {
            "base": ids.get(base_tag), "images": {c: ids.get(r) for c, r in comps.items()},
            "names": archive_names, "storage": hashlib.sha256(storage.encode()).hexdigest(),
            "cni": DEFAULT_CNI_PLACEHOLDER,
            "binaries": {n: self.bin_sha(f"bin-kubernetes-{kv}", n) for n in ("kubeadm", "kubelet", "kubectl")},
        }
        manifest = {"image": tag, "kubernetes": kv, "kind": versions.KIND_VERSION, "base_image": base_tag,
                    "images": {c: {"local": comps[c], "in_node": archive_names[c]} for c in comps},
                    "sandbox_image": sandbox, "cni": {"conflist": CNI_CONFLIST_NAME, "pod_subnet": POD_SUBNET}}
        if self.current_image(key, tag, inputs):
            return tag, manifest
        with self.step(f"assembling {tag} (kubeadm/kubelet/kubectl, {len(comps)} images into containerd)"):
            t0 = time.monotonic()
            image_id = self._assemble(tag, base_tag, k8s, comps, archive_names, storage)
            self.record_image(key, tag, image_id, inputs, time.monotonic() - t0, "offline-build")
        return tag, manifest

    def sandbox_image(self, base_tag: str) -> str:
        """The ``sandbox_image`` of kind's containerd config (kind preloads it)."""
        files = self.kind_module_dir() / "images" / "base" / "files" / "etc" / "containerd" / "config.toml"
        m = re.search(r'sandbox_image\s*=\s*"([^"]+)"', files.read_text())
        if not m:
            raise AssetError(f"no sandbox_image in {files}")
        return m[1]

    def _docker(self, *args: str, what: str, timeout: float = 600, stdin=None) -> str:
        docker = tools.require_docker()
        log = self.log("kind-node")
        with log.open("a") as fh:
            fh.write(f"\n$ docker {' '.join(args)}\n")
        try:
            p = subprocess.run([docker, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=tools.docker_env(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssetError(f"{what}: timed out after {timeout:.0f}s (log: {log})") from None
        out = p.stdout.decode("utf-8", "replace")
        with log.open("a") as fh:
            fh.write(out + f"[exit {p.returncode}]\n")
        if p.returncode != 0:
            raise tools.classify_docker_failure(what, out, log)
        return out

    def _assemble(self, tag: str, base_tag: str, k8s: dict[str, Path], comps: dict[str, str],
                  names: dict[str, list[str]], storage: str) -> str:
        self.check_disk("kind node image")
        work = self.cache / "work" / "kind-node"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        # Files for the node, as one tar stream for `docker cp -`.
        payload = work / "payload.tar"
        with tarfile.open(payload, "w") as tar:
            def add(path: str, data: bytes, mode: int) -> None:
                ti = tarfile.TarInfo(path)
                ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = len(data), mode, 0, 0, int(time.time())
                tar.addfile(ti, io.BytesIO(data))
            for n in ("kubeadm", "kubelet", "kubectl"):
                add(f"usr/bin/{n}", k8s[n].read_bytes(), 0o755)
            add("kind/version", (versions.KUBERNETES_VERSION + "\n").encode(), 0o644)
            add("kind/manifests/default-cni.yaml", DEFAULT_CNI_PLACEHOLDER.encode(), 0o644)
            add("kind/manifests/default-storage.yaml", storage.encode(), 0o644)
        archives = {}
        for comp, ref in comps.items():
            raw, out = work / f"{comp}.docker.tar", work / f"{comp}.tar"
            self._docker("save", "-o", str(raw), ref, what=f"docker save {ref}")
            rename_archive(raw, out, names[comp])
            raw.unlink()
            archives[comp] = out
        name = f"{BUILD_CONTAINER_PREFIX}{os.getpid()}"
        self._docker("rm", "-f", name, what="removing a stale build container")
        self._docker("run", "-d", "--privileged", "--name", name, "--entrypoint", "sleep", base_tag, "infinity",
                     what="starting the node build container")
        try:
            with payload.open("rb") as fh:
                self._docker("cp", "-", f"{name}:/", stdin=fh, what="copying kubeadm/kubelet/kubectl and /kind")
            self._docker("exec", "-d", name, "sh", "-c",
                         "echo $$ > /run/fluxchaos-containerd.pid; exec containerd >/run/fluxchaos-containerd.log 2>&1",
                         what="starting containerd in the build container")
            deadline = time.monotonic() + 60
            while True:  # containerd answers within a second or two
                try:
                    self._docker("exec", name, "ctr", "version", what="waiting for containerd", timeout=20)
                    break
                except AssetError:
                    if time.monotonic() > deadline:
                        raise AssetError("containerd did not start in the node build container within 60s "
                                         f"(log: {self.log('kind-node')})") from None
                    time.sleep(0.5)
            for comp, path in archives.items():
                with path.open("rb") as fh:
                    self._docker("exec", "-i", name, "ctr", "--namespace=k8s.io", "images", "import",
                                 "--all-platforms", "--no-unpack", "--digests",
                                 "--label=io.cri-containerd.pinned=pinned", "-",
                                 stdin=fh, what=f"importing {comp} into the node's containerd")
            listed = self._docker("exec", name, "ctr", "--namespace=k8s.io", "images", "ls", "-q",
                                  what="listing the node's images")
            absent = [n for ns in names.values() for n in ns
                      if n not in listed.split() and ("docker.io/" + n) not in listed.split()]
            if absent:
                raise AssetError(f"images missing from the node's containerd after import: {', '.join(absent)}")
            self._docker("exec", name, "sh", "-c",
                         "pid=$(cat /run/fluxchaos-containerd.pid); kill $pid; "
                         "for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; "
                         "rm -rf /run/containerd /run/fluxchaos-containerd.* /tmp/* /var/tmp/*",
                         what="stopping containerd in the build container")
            self._docker(
                "commit",
                "--change", 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
                "--change", "CMD []",
                "--change", "ENV container=docker",  # STOPSIGNAL is not a commit change: the base's is kept
                "--change", f'LABEL io.fluxchaos.asset="true" io.fluxchaos.name="kind-node" '
                            f'io.fluxchaos.version="{versions.KUBERNETES_VERSION}" '
                            f'io.fluxchaos.source="offline-build" io.fluxchaos.kind="{versions.KIND_VERSION}"',
                name, tag, what=f"docker commit {tag}")
        finally:
            subprocess.run([tools.require_docker(), "rm", "-f", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=tools.docker_env(), timeout=120)
            shutil.rmtree(work, ignore_errors=True)
        image_id = tools.image_ids([tag]).get(tag)
        if not image_id:
            raise AssetError(f"docker commit finished but {tag} is missing (log: {self.log('kind-node')})")
        return image_id


__all__ = ["CNI_PLUGINS", "NodeImageBuilder", "rename_archive", "storage_manifest"]
