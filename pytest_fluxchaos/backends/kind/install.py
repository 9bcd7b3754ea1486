"""Installing and removing one variant's image-reflector-controller in its namespace.

CRDs once per cluster, then per namespace: RBAC (:mod:`..install_manifests`, shared
with the docker backend), the variant's extra objects and PersistentVolumeClaims, the
Deployment, and a bounded wait for a Ready pod and a Lease holder. A timeout explains
itself: pod states, the manager's last log lines and the namespace's warning events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ...domain import AUTOMATION, REFLECTOR, BackendError, InstallRequest, WaitTimeout, lease_name, one_line
from ...waiting import wait_until
from ..automation import automation_rbac
from ..install_manifests import crd_files, rbac_objects
from .manifests import claim_names, leader_election_enabled, selector_of
from .pods import CONTAINER, PodView, pod_status

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
IMAGE_GROUP = "image.toolkit.fluxcd.io"


def default_claim(name: str, namespace: str) -> dict[str, Any]:
    """The claim :func:`pytest_fluxchaos.variants.render` makes, for a bare backend user."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


class Installer:
    """Applies and removes variant namespaces through the backend's KubeClient."""

    def __init__(self, kube: Callable[[], Any], pods: PodView, timeout: float) -> None:
        self._kube = kube
        self.pods = pods
        self.timeout = timeout
        self._crds_applied = False
        self._iac_crds_applied = False

    def install_automation(self, request: InstallRequest, manifests_dir: Path, progress: Progress) -> float:
        """IAC beside IRC: its CRDs (GitRepository included) once, RBAC, Deployment, a Ready
        pod and its own Lease; returns the seconds."""
        t0 = time.monotonic()
        ns = request.namespace
        assert request.automation is not None
        deployment = dict(request.automation)
        deployment["metadata"] = dict(deployment.get("metadata") or {}, namespace=ns)
        sa = deployment["spec"]["template"]["spec"].get("serviceAccountName") or "image-automation-controller"
        progress(f"kind: installing image-automation-controller {request.automation_version or '?'} in {ns}")
        kube = self._kube()
        if not self._iac_crds_applied:
            self._apply_crds(manifests_dir)
            self._iac_crds_applied = True
        for obj in automation_rbac(manifests_dir, ns, request.labels, sa):
            kube.apply_manifest(obj)
        selector = selector_of(deployment)
        self.pods.track(ns, selector, AUTOMATION)
        kube.apply_manifest(deployment)
        self.wait_installed(ns, selector, 1, leader_election_enabled(deployment), AUTOMATION)
        elapsed = time.monotonic() - t0
        progress(f"kind: image-automation-controller ready in {ns} after {elapsed:.1f}s")
        return elapsed

    def install(self, request: InstallRequest, manifests_dir: Path, progress: Progress,
                extra_objects: Iterable[dict[str, Any]] = ()) -> float:
        """Apply everything and wait until a pod is Ready (and leads); returns the seconds."""
        t0 = time.monotonic()
        ns = request.namespace
        deployment = dict(request.deployment)
        deployment["metadata"] = dict(deployment.get("metadata") or {}, namespace=ns)
        sa = deployment["spec"]["template"]["spec"].get("serviceAccountName") or "image-reflector-controller"
        replicas = int(deployment["spec"].get("replicas") or 1)
        progress(f"kind: installing image-reflector-controller {request.irc_version} in {ns} "
                 f"({replicas} replica(s))")
        kube = self._kube()
        self.ensure_crds(manifests_dir)
        for obj in rbac_objects(manifests_dir, ns, sa, request.labels):
            kube.apply_manifest(obj)
        extra = [dict(o) for o in extra_objects]
        given = {o["metadata"]["name"] for o in extra if o.get("kind") == "PersistentVolumeClaim"}
        extra += [default_claim(c, ns) for c in claim_names(deployment) if c not in given]
        for obj in extra:
            obj["metadata"] = dict(obj.get("metadata") or {}, namespace=ns)
            kube.apply_manifest(obj)
        selector = selector_of(deployment)
        self.pods.track(ns, selector)
        kube.apply_manifest(deployment)
        self.wait_installed(ns, selector, replicas, leader_election_enabled(deployment))
        elapsed = time.monotonic() - t0
        progress(f"kind: image-reflector-controller ready in {ns} after {elapsed:.1f}s")
        return elapsed

    def ensure_crds(self, manifests_dir: Path) -> None:
        if self._crds_applied:
            return
        self._apply_crds(manifests_dir)
        self._crds_applied = True

    def _apply_crds(self, manifests_dir: Path) -> None:
        kube = self._kube()
        names: list[str] = []
        for f in crd_files(manifests_dir):
            for obj in kube.apply_manifest(f):
                if obj.get("kind") == "CustomResourceDefinition":
                    names.append(obj["metadata"]["name"])
        kube.wait_crds_established(names, timeout=60)

    def wait_installed(self, ns: str, selector: str, replicas: int, leader_election: bool,
                       controller: str = REFLECTOR) -> None:
        deadline = time.monotonic() + self.timeout
        what = "image-automation-controller" if controller == AUTOMATION else "image-reflector-controller"

        def ready() -> bool:
            pods = self.pods.objects(ns, selector)
            return len(pods) >= replicas and any(
                any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or []) for p in pods)

        try:
            wait_until(ready, self.timeout, what=f"a Ready {what} pod in {ns}", interval=1.0)
            if leader_election:
                # IRC's Lease is the client's default: its call stays as it always was
                named = {} if controller == REFLECTOR else {"name": lease_name(controller)}
                self._kube().wait_lease_holder(ns, timeout=max(5.0, deadline - time.monotonic()), **named)
        except WaitTimeout as exc:
            raise BackendError(f"{what} in {ns} not ready: {exc}; "
                               f"{self.diagnose(ns, selector)}") from None

    def diagnose(self, ns: str, selector: str) -> str:
        """Pod states and the manager's last log lines, on one line."""
        parts: list[str] = []
        kube = self._kube()
        try:
            for p in self.pods.objects(ns, selector):
                st = pod_status(p)
                parts.append(f"{st.name}: {st.state}" + (f" ({st.reason})" if st.reason else "")
                             + f", restarts {st.restart_count}")
                if len(parts) == 1:
                    try:
                        logs = kube.core.read_namespaced_pod_log(st.name, ns, container=CONTAINER,
                                                                 tail_lines=5, _request_timeout=10)
                        parts.append("last log lines: " + one_line(logs, 500))
                    except Exception:  # noqa: BLE001
                        pass
            events = kube.core.list_namespaced_event(ns, _request_timeout=10).items
            warnings = [e.message for e in events if e.type == "Warning"][-3:]
            if warnings:
                parts.append("events: " + " | ".join(one_line(w, 200) for w in warnings))
        except Exception as exc:  # noqa: BLE001
            parts.append(f"(no diagnosis: {one_line(exc, 100)})")
        return "; ".join(parts) or "no pods"

    def uninstall(self, namespace: str) -> None:
        self.pods.forget(namespace)
        self.delete_namespace(namespace)

    def delete_namespace(self, namespace: str, wait: float = 60.0) -> None:
        """Drop the image objects' finalizers, this namespace's ClusterRoleBindings, then
        the namespace; wait (bounded) for its pods to go, freeing the node's memory."""
        from kubernetes.client.exceptions import ApiException

        kube = self._kube()
        for plural in ("imagepolicies", "imagerepositories", "imageupdateautomations"):
            try:
                version = kube.image_api_version(plural)
                items = kube.custom.list_namespaced_custom_object(
                    IMAGE_GROUP, version, namespace, plural, _request_timeout=15).get("items", [])
                for item in items:
                    kube.custom.patch_namespaced_custom_object(
                        IMAGE_GROUP, version, namespace, plural, item["metadata"]["name"],
                        {"metadata": {"finalizers": None}})
            except Exception:  # noqa: BLE001 - no CRDs or already gone
                pass
        try:
            for crb in kube.rbac.list_cluster_role_binding(_request_timeout=15).items:
                if crb.metadata.name.endswith(f"-{namespace}") and any(
                        s.namespace == namespace for s in (crb.subjects or [])):
                    kube.rbac.delete_cluster_role_binding(crb.metadata.name, _request_timeout=15)
        except Exception:  # noqa: BLE001
            pass
        try:
            kube.core.delete_namespace(namespace, _request_timeout=15)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("fluxchaos: deleting namespace %s: %s", namespace, exc.reason)
            return

        def pods_gone() -> bool:
            try:
                return not kube.core.list_namespaced_pod(namespace, _request_timeout=10).items
            except Exception:  # noqa: BLE001 - the namespace is gone: nothing left to wait for
                return True

        try:
            wait_until(pods_gone, wait, what=f"the pods of namespace {namespace} to go", interval=1.0)
        except WaitTimeout:
            log.warning("fluxchaos: pods of namespace %s still present after %gs", namespace, wait)
