"""Deployment -> "pod" containers: the kubelet's job, done in pure Python.

Nothing here talks to Docker; :func:`translate_deployment` turns an ``apps/v1``
Deployment into a :class:`PodTemplate`, and :meth:`PodTemplate.container_config`
renders the ``docker.containers.create`` keyword arguments of one pod, the way a
kubelet would run it:

* same image, ``command`` -> entrypoint, ``args`` -> cmd;
* env evaluated per pod: literal values, ``$(VAR)`` expansion, ``fieldRef``
  (``metadata.namespace``/``name``/``uid``, ``spec.serviceAccountName`` ...),
  ``resourceFieldRef`` (``limits.memory`` -> bytes, e.g. ``GOMEMLIMIT``) with divisor;
  plus the ``KUBERNETES_SERVICE_*`` variables pointing at the apiserver;
* user/group from ``runAsUser``/``runAsGroup`` (container, then pod, then the image's
  ``USER``), ``fsGroup``/``supplementalGroups`` as extra groups, read-only root
  filesystem, dropped capabilities, ``no-new-privileges``;
* memory limit with memory+swap = limit (no swap), CPU limit as a CFS quota and
  CPU request as shares;
* volumes: ``emptyDir`` -> a Docker volume per pod, ``persistentVolumeClaim`` -> one
  Docker volume per claim shared by every pod that mounts it;
* the pod's hostname is the pod name, so ``os.Hostname()`` (the Lease
  ``holderIdentity`` prefix) names the pod.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ...domain import BackendError
from .quantities import cpu_millis, host_memory_bytes, memory_bytes, parse_quantity, pod_template_hash

SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


# ----------------------------------------------------------------------------------
# The translated template
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeMount:
    volume: str  # pod volume name
    mount_path: str
    read_only: bool = False
    kind: str = "emptyDir"  # emptyDir | pvc
    claim: str | None = None  # for kind == "pvc"


@dataclass(frozen=True)
class HTTPProbe:
    path: str
    port: int
    scheme: str = "HTTP"
    period: float = 10.0
    failure_threshold: int = 3
    initial_delay: float = 0.0


@dataclass
class PodTemplate:
    """One controller pod's container, ready to be instantiated per pod."""

    namespace: str
    deployment_name: str
    replicas: int
    template_hash: str
    container_name: str
    image: str
    command: list[str] | None
    args: list[str] | None
    env: list[dict[str, Any]]  # the container's env entries, evaluated per pod
    service_account: str
    automount_token: bool
    run_as_user: int | None
    run_as_group: int | None
    fs_group: int | None
    supplemental_groups: list[int]
    read_only_root: bool
    no_new_privileges: bool
    privileged: bool
    cap_drop: list[str]
    cap_add: list[str]
    working_dir: str | None
    limits: dict[str, str]
    requests: dict[str, str]
    mounts: list[VolumeMount]
    ports: dict[str, int]  # name -> containerPort
    readiness: HTTPProbe | None
    liveness: HTTPProbe | None
    grace_period: float
    pod_labels: dict[str, str] = field(default_factory=dict)

    # -- derived ------------------------------------------------------------------

    @property
    def memory_limit(self) -> int | None:
        v = self.limits.get("memory")
        return memory_bytes(v) if v is not None else None

    @property
    def cpu_limit_millis(self) -> int | None:
        v = self.limits.get("cpu")
        return cpu_millis(v) if v is not None else None

    @property
    def pvc_claims(self) -> list[str]:
        return sorted({m.claim for m in self.mounts if m.kind == "pvc" and m.claim})

    @property
    def empty_dirs(self) -> list[str]:
        return sorted({m.volume for m in self.mounts if m.kind == "emptyDir"})

    def volume_owner(self, image_user: str | None = None) -> tuple[int, int]:
        """(uid, gid) that must own a fresh volume so the controller can write it."""
        uid, gid = self.user_ids(image_user)
        return uid, (self.fs_group if self.fs_group is not None else gid)

    def user_ids(self, image_user: str | None = None) -> tuple[int, int]:
        """The numeric uid/gid the container runs as (the image's USER as fallback)."""
        img_uid: int | None = None
        img_gid: int | None = None
        if image_user:
            u, _, g = image_user.partition(":")
            img_uid = int(u) if u.isdigit() else None
            img_gid = int(g) if g.isdigit() else None
        uid = self.run_as_user if self.run_as_user is not None else img_uid
        if uid is None:
            # runAsNonRoot with a root (or named) image user would be refused by a
            # kubelet; the Flux images run as 65534 (nobody), so use that.
            uid = 65534
        gid = self.run_as_group if self.run_as_group is not None else img_gid
        if gid is None:
            gid = uid
        return uid, gid

    def evaluate_env(
        self,
        pod_name: str,
        pod_uid: str,
        *,
        apiserver_host: str,
        apiserver_port: int,
        pod_ip: str = "",
        node_name: str = "fluxchaos-docker",
    ) -> dict[str, str]:
        """The container's environment as the kubelet would compute it."""
        env: dict[str, str] = {
            "KUBERNETES_SERVICE_HOST": apiserver_host,
            "KUBERNETES_SERVICE_PORT": str(apiserver_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(apiserver_port),
            "KUBERNETES_PORT": f"tcp://{apiserver_host}:{apiserver_port}",
            f"KUBERNETES_PORT_{apiserver_port}_TCP": f"tcp://{apiserver_host}:{apiserver_port}",
            f"KUBERNETES_PORT_{apiserver_port}_TCP_PROTO": "tcp",
            f"KUBERNETES_PORT_{apiserver_port}_TCP_PORT": str(apiserver_port),
            f"KUBERNETES_PORT_{apiserver_port}_TCP_ADDR": apiserver_host,
        }
        fields = {
            "metadata.name": pod_name,
            "metadata.namespace": self.namespace,
            "metadata.uid": pod_uid,
            "spec.nodeName": node_name,
            "spec.serviceAccountName": self.service_account,
            "status.podIP": pod_ip,
            "status.podIPs": pod_ip,
            "status.hostIP": "127.0.0.1",
            "status.hostIPs": "127.0.0.1",
        }
        for label, value in self.pod_labels.items():
            fields[f"metadata.labels['{label}']"] = value
        for entry in self.env:
            name = entry["name"]
            if "value" in entry:
                env[name] = _expand(str(entry.get("value") or ""), env)
                continue
            source = entry.get("valueFrom") or {}
            if not source:
                env[name] = ""
            elif "fieldRef" in source:
                path = source["fieldRef"].get("fieldPath", "")
                if path not in fields:
                    raise BackendError(
                        f"env {name}: fieldRef {path!r} is not supported by the docker backend"
                    )
                env[name] = fields[path]
            elif "resourceFieldRef" in source:
                env[name] = self._resource_field(source["resourceFieldRef"], name)
            else:
                kind = next(iter(source))
                optional = (source.get(kind) or {}).get("optional")
                if optional:
                    continue
                raise BackendError(
                    f"env {name}: valueFrom.{kind} is not supported by the docker backend "
                    f"(use a literal value in the variant's patch)"
                )
        return env

    def _resource_field(self, ref: dict[str, Any], env_name: str) -> str:
        resource = ref.get("resource", "")
        divisor = parse_quantity(ref.get("divisor", "1") or "1")
        kind, _, what = resource.partition(".")
        source = self.limits if kind == "limits" else self.requests if kind == "requests" else None
        if source is None or what not in ("memory", "cpu", "ephemeral-storage"):
            raise BackendError(f"env {env_name}: resourceFieldRef {resource!r} is not supported")
        raw = source.get(what)
        if raw is None and kind == "requests":
            raw = self.limits.get(what)  # a request defaults to the limit
        if raw is None:
            # No limit: the kubelet reports node allocatable; use the host's figures.
            raw = "2" if what == "cpu" else str(host_memory_bytes())
        value = parse_quantity(raw) / divisor
        # Kubelet rounds up and prints an integer (at least 1 for cpu).
        out = math.ceil(value)
        if what == "cpu":
            out = max(out, 1)
        return str(out)

    def container_config(
        self,
        *,
        pod_name: str,
        pod_uid: str,
        container_name: str,
        image: str,
        image_user: str | None,
        apiserver_host: str,
        apiserver_port: int,
        network: str,
        volume_names: dict[str, str],
        sa_dir: str | None,
        labels: dict[str, str],
    ) -> dict[str, Any]:
        """Keyword arguments for ``docker.containers.create`` of one pod's container.

        ``volume_names`` maps pod volume names to Docker volume names; ``sa_dir`` is the
        host directory holding the in-cluster credentials (token, ca.crt, namespace).
        """
        uid, gid = self.user_ids(image_user)
        groups: list[int] = []
        if self.fs_group is not None:
            groups.append(self.fs_group)
        groups += [g for g in self.supplemental_groups if g not in groups]
        mounts: dict[str, dict[str, str]] = {}
        for m in self.mounts:
            vol = volume_names[m.volume]
            mounts[vol] = {"bind": m.mount_path, "mode": "ro" if m.read_only else "rw"}
        if self.automount_token and sa_dir is not None:
            mounts[sa_dir] = {"bind": SA_MOUNT_PATH, "mode": "ro"}
        config: dict[str, Any] = {
            "image": image,
            "name": container_name,
            "hostname": pod_name,
            "environment": self.evaluate_env(
                pod_name, pod_uid, apiserver_host=apiserver_host, apiserver_port=apiserver_port
            ),
            "user": f"{uid}:{gid}",
            "read_only": self.read_only_root,
            "labels": dict(labels),
            "network": network,
            "volumes": mounts,
            "detach": True,
            "restart_policy": {"Name": "no"},
            "init": False,
        }
        if self.command is not None:
            config["entrypoint"] = list(self.command)
            config["command"] = list(self.args or [])
        elif self.args is not None:
            config["command"] = list(self.args)
        if groups:
            config["group_add"] = [str(g) for g in groups]
        mem = self.memory_limit
        if mem is not None:
            config["mem_limit"] = mem
            config["memswap_limit"] = mem  # memory+swap == memory: no swap, like a kubelet
        cpu = self.cpu_limit_millis
        if cpu is not None:
            config["nano_cpus"] = cpu * 1_000_000
        req_cpu = self.requests.get("cpu")
        if req_cpu is not None:
            config["cpu_shares"] = max(2, cpu_millis(req_cpu) * 1024 // 1000)
        if self.cap_drop:
            config["cap_drop"] = list(self.cap_drop)
        if self.cap_add:
            config["cap_add"] = list(self.cap_add)
        if self.no_new_privileges:
            config["security_opt"] = ["no-new-privileges"]
        if self.privileged:
            config["privileged"] = True
        if self.working_dir:
            config["working_dir"] = self.working_dir
        return config


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion (``$$`` escapes, unknown refs stay as written)."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR_REF.sub(repl, value)


def _probe(spec: dict[str, Any] | None, ports: dict[str, int]) -> HTTPProbe | None:
    if not spec or "httpGet" not in spec:
        return None
    get = spec["httpGet"]
    port = get.get("port")
    if isinstance(port, str) and not port.isdigit():
        if port not in ports:
            raise BackendError(f"probe port {port!r} names no container port")
        port = ports[port]
    return HTTPProbe(
        path=get.get("path", "/"),
        port=int(port),
        scheme=get.get("scheme", "HTTP"),
        period=float(spec.get("periodSeconds", 10)),
        failure_threshold=int(spec.get("failureThreshold", 3)),
        initial_delay=float(spec.get("initialDelaySeconds", 0)),
    )


def translate_deployment(
    deployment: dict[str, Any], namespace: str, container: str | None = None
) -> PodTemplate:
    """Read an apps/v1 Deployment (already patched by the variant) into a PodTemplate."""
    if deployment.get("kind") not in (None, "Deployment"):
        raise BackendError(f"expected a Deployment, got kind {deployment.get('kind')!r}")
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    tmpl = spec.get("template") or {}
    pod_spec = tmpl.get("spec") or {}
    containers = pod_spec.get("containers") or []
    if not containers:
        raise BackendError("the Deployment has no containers")
    if container is None:
        c = next((c for c in containers if c.get("name") == "manager"), containers[0])
    else:
        c = next((c for c in containers if c.get("name") == container), None)
        if c is None:
            raise BackendError(f"the Deployment has no container named {container!r}")
    if pod_spec.get("initContainers"):
        raise BackendError("initContainers are not supported by the docker backend")

    pod_sc = pod_spec.get("securityContext") or {}
    sc = c.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    resources = c.get("resources") or {}
    ports = {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}

    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    mounts: list[VolumeMount] = []
    for vm in c.get("volumeMounts") or []:
        vol = volumes.get(vm["name"])
        if vol is None:
            raise BackendError(f"volumeMount {vm['name']!r} names no volume of the pod")
        if vm.get("subPath") or vm.get("subPathExpr"):
            raise BackendError(f"volumeMount {vm['name']!r}: subPath is not supported by the docker backend")
        if "emptyDir" in vol:
            kind, claim = "emptyDir", None
        elif "persistentVolumeClaim" in vol:
            kind, claim = "pvc", vol["persistentVolumeClaim"]["claimName"]
        else:
            other = next((k for k in vol if k != "name"), "?")
            raise BackendError(
                f"volume {vm['name']!r} of type {other} is not supported by the docker backend "
                "(emptyDir and persistentVolumeClaim are)"
            )
        mounts.append(
            VolumeMount(
                volume=vm["name"],
                mount_path=vm["mountPath"],
                read_only=bool(vm.get("readOnly", False)),
                kind=kind,
                claim=claim,
            )
        )

    def pick(key: str) -> Any:
        return sc.get(key, pod_sc.get(key))

    template_for_hash = copy.deepcopy(tmpl)
    labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
    replicas = spec.get("replicas", 1)
    return PodTemplate(
        namespace=namespace,
        deployment_name=meta.get("name") or "image-reflector-controller",
        replicas=int(1 if replicas is None else replicas),
        template_hash=pod_template_hash(template_for_hash),
        container_name=c.get("name", "manager"),
        image=c.get("image", ""),
        command=list(c["command"]) if c.get("command") else None,
        args=[str(a) for a in c["args"]] if c.get("args") is not None else None,
        env=list(c.get("env") or []),
        service_account=pod_spec.get("serviceAccountName")
        or pod_spec.get("serviceAccount")
        or "default",
        automount_token=pod_spec.get("automountServiceAccountToken", True) is not False,
        run_as_user=pick("runAsUser"),
        run_as_group=pick("runAsGroup"),
        fs_group=pod_sc.get("fsGroup"),
        supplemental_groups=list(pod_sc.get("supplementalGroups") or []),
        read_only_root=bool(sc.get("readOnlyRootFilesystem", False)),
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False,
        privileged=bool(sc.get("privileged", False)),
        cap_drop=[str(x) for x in caps.get("drop") or []],
        cap_add=[str(x) for x in caps.get("add") or []],
        working_dir=c.get("workingDir"),
        limits={k: str(v) for k, v in (resources.get("limits") or {}).items()},
        requests={k: str(v) for k, v in (resources.get("requests") or {}).items()},
        mounts=mounts,
        ports=ports,
        readiness=_probe(c.get("readinessProbe"), ports),
        liveness=_probe(c.get("livenessProbe"), ports),
        grace_period=float(pod_spec.get("terminationGracePeriodSeconds", 30)),
        pod_labels=labels,
    )
