"""A thin adapter over the official ``kubernetes`` client for the rest of the plugin.

The domain modules never import the Kubernetes client; the backends, the observer and
the runner go through :class:`KubeClient`, which offers exactly what fluxchaos needs:

* :meth:`KubeClient.apply_manifest` - server-side apply (field manager ``fluxchaos``)
  of one object, a list, or a ``List`` kind, through the dynamic client;
* ImageRepository / ImagePolicy create (server-side apply), get, list and delete,
  with the API version read from the installed CRD (``v1`` for IRC v1.x,
  ``v1beta2`` for v0.3x);
* the leader-election Lease of image-reflector-controller: get, holder pod, delete;
* TokenRequest for service-account tokens (used by the docker backend);
* bounded waits (``waiting.wait_until``) that fail with one clear line.

Object-level helpers that need no client live in :mod:`.kubeobjects`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from .kubeobjects import (KubeError, LeaseInfo, _iso, _json_object, _short, holder_pod,  # noqa: F401
                          load_manifests)
from .waiting import wait_until

FIELD_MANAGER = "fluxchaos"
IMAGE_GROUP = "image.toolkit.fluxcd.io"
LEASE_NAME = "image-reflector-controller-leader-election"
_VERSION_PREFERENCE = ("v1", "v1beta2", "v1beta1", "v1alpha2", "v1alpha1")


class KubeClient:
    """The plugin's Kubernetes API access (one instance per cluster)."""

    def __init__(
        self,
        kubeconfig: str | Path,
        context: str | None = None,
        *,
        request_timeout: float = 15.0,
        discovery_cache: str | Path | None = None,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.request_timeout = request_timeout
        try:
            self.api_client = k8s_config.new_client_from_config(
                config_file=str(self.kubeconfig), context=context
            )
        except Exception as exc:  # noqa: BLE001
            raise KubeError(f"cannot load kubeconfig {self.kubeconfig}: {_short(exc)}") from exc
        self.core = k8s.CoreV1Api(self.api_client)
        self.coordination = k8s.CoordinationV1Api(self.api_client)
        self.custom = k8s.CustomObjectsApi(self.api_client)
        self.apiext = k8s.ApiextensionsV1Api(self.api_client)
        self.rbac = k8s.RbacAuthorizationV1Api(self.api_client)
        # Never the client's shared default (/tmp/osrcp-<host hash>.json): a new cluster
        # on a reused 127.0.0.1 port would read a stale discovery cache.
        self._own_cache = discovery_cache is None
        self._discovery_cache = Path(discovery_cache) if discovery_cache else Path(
            tempfile.gettempdir(), f"fluxchaos-discovery-{os.getpid()}-{id(self):x}.json"
        )
        self._dynamic: DynamicClient | None = None
        self._image_versions: dict[str, str] = {}

    # -- plumbing -------------------------------------------------------------------

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api_client, cache_file=str(self._discovery_cache))
        return self._dynamic

    def close(self) -> None:
        try:
            self.api_client.close()
        except Exception:  # noqa: BLE001
            pass
        if self._own_cache:
            try:
                self._discovery_cache.unlink()
            except OSError:
                pass

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            # A CRD applied a moment ago: refresh discovery once.
            self.dynamic.resources.invalidate_cache()
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError as exc:
                raise KubeError(f"the API server does not serve {kind} {api_version}") from exc

    def readyz(self) -> bool:
        try:
            self.api_client.call_api(
                *self.api_client.param_serialize("GET", "/readyz", auth_settings=["BearerToken"]),
                _request_timeout=self.request_timeout,
            ).read()
            return True
        except Exception:  # noqa: BLE001
            return False

    # -- apply ------------------------------------------------------------------------

    def apply_manifest(
        self,
        manifest: str | Path | dict | Iterable[dict],
        *,
        server_side: bool = True,
        dry_run: bool = False,
        namespace: str | None = None,
        force_conflicts: bool = True,
    ) -> list[dict]:
        """Apply objects with server-side apply (field manager ``fluxchaos``).

        ``namespace`` fills in namespaced objects that carry none. ``server_side=False``
        falls back to create-or-replace. Returns the objects as the server stored them.
        """
        results: list[dict] = []
        for obj in load_manifests(manifest):
            api_version, kind = obj.get("apiVersion"), obj.get("kind")
            meta = obj.setdefault("metadata", {})
            name = meta.get("name")
            if not (api_version and kind and name):
                raise KubeError(f"cannot apply an object without apiVersion/kind/metadata.name: {obj!r:.200}")
            resource = self._resource(api_version, kind)
            ns = meta.get("namespace") or (namespace if resource.namespaced else None)
            if resource.namespaced:
                if not ns:
                    raise KubeError(f"{kind}/{name} is namespaced but has no namespace")
                meta["namespace"] = ns
            body = {k: v for k, v in obj.items() if k != "status"}
            body["metadata"] = {k: v for k, v in meta.items()
                                if k not in ("resourceVersion", "uid", "managedFields", "creationTimestamp")}
            kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "_request_timeout": self.request_timeout}
            if dry_run:
                kwargs["dry_run"] = "All"
            try:
                if server_side:
                    out = self.dynamic.server_side_apply(
                        resource, body=body, name=name, namespace=ns, force_conflicts=force_conflicts, **kwargs
                    )
                else:
                    try:
                        out = self.dynamic.create(resource, body=body, namespace=ns, **kwargs)
                    except ApiException as exc:
                        if exc.status != 409:
                            raise
                        current = self.dynamic.get(resource, name=name, namespace=ns)
                        body["metadata"]["resourceVersion"] = current.metadata.resourceVersion
                        out = self.dynamic.replace(resource, body=body, name=name, namespace=ns, **kwargs)
            except ApiException as exc:
                raise KubeError(f"apply {kind}/{name}{' in ' + ns if ns else ''} failed: {_short(exc)}") from exc
            results.append(out.to_dict())
        return results

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        resource = self._resource(api_version, kind)
        try:
            self.dynamic.delete(resource, name=name, namespace=namespace)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise KubeError(f"delete {kind}/{name} failed: {_short(exc)}") from exc

    def install_crds(self, files: Iterable[Path], timeout: float = 30.0) -> list[str]:
        """Apply CRD files (server-side) and wait until every CRD is Established."""
        names: list[str] = []
        for path in files:
            for obj in self.apply_manifest(path):
                if obj.get("kind") == "CustomResourceDefinition":
                    names.append(obj["metadata"]["name"])
        self.wait_crds_established(names, timeout=timeout)
        return names

    def wait_crds_established(self, names: Iterable[str], timeout: float = 30.0) -> None:
        pending = set(names)

        def check() -> bool:
            for name in list(pending):
                try:
                    crd = self.apiext.read_custom_resource_definition(name, _request_timeout=self.request_timeout)
                except ApiException as exc:
                    if exc.status == 404:
                        continue
                    raise
                conds = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
                if conds.get("Established") == "True":
                    pending.discard(name)
            return not pending

        wait_until(check, timeout, what=f"CRDs {sorted(pending)} to be Established")
        if self._dynamic is not None:
            self._dynamic.resources.invalidate_cache()

    # -- namespaces and service accounts -----------------------------------------------

    def ensure_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        self.apply_manifest(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}
        )

    def request_token(
        self, namespace: str, service_account: str, *, expiration_seconds: int = 7 * 24 * 3600,
        audiences: list[str] | None = None,
    ) -> str:
        """A bound service-account token via the TokenRequest API."""
        spec = k8s.V1TokenRequestSpec(audiences=audiences or [], expiration_seconds=expiration_seconds)
        try:
            out = self.core.create_namespaced_service_account_token(
                service_account, namespace, k8s.AuthenticationV1TokenRequest(spec=spec),
                _request_timeout=self.request_timeout,
            )
        except ApiException as exc:
            raise KubeError(
                f"TokenRequest for {namespace}/{service_account} failed: {_short(exc)}"
            ) from exc
        token = out.status.token if out.status is not None else None
        if token is None:
            raise KubeError(f"TokenRequest for {namespace}/{service_account} returned no token")
        return token

    # -- image.toolkit.fluxcd.io ---------------------------------------------------------

    def image_api_version(self, plural: str = "imagepolicies") -> str:
        """The storage version of an image.toolkit CRD as installed (v1, v1beta2 ...)."""
        if plural in self._image_versions:
            return self._image_versions[plural]
        try:
            crd = self.apiext.read_custom_resource_definition(
                f"{plural}.{IMAGE_GROUP}", _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                raise KubeError(
                    f"the CRD {plural}.{IMAGE_GROUP} is not installed (install Flux first)"
                ) from exc
            raise KubeError(f"reading CRD {plural}.{IMAGE_GROUP} failed: {_short(exc)}") from exc
        served = [v.name for v in crd.spec.versions if v.served]
        storage = [v.name for v in crd.spec.versions if v.storage and v.served]
        if storage:
            version = storage[0]
        else:
            version = next((v for v in _VERSION_PREFERENCE if v in served), served[0])
        self._image_versions[plural] = version
        return version

    def _apply_image_object(self, kind: str, plural: str, namespace: str, name: str,
                            spec: dict[str, Any], labels: dict[str, str] | None,
                            annotations: dict[str, str] | None) -> dict:
        version = self.image_api_version(plural)
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if labels:
            meta["labels"] = dict(labels)
        if annotations:
            meta["annotations"] = dict(annotations)
        body = {"apiVersion": f"{IMAGE_GROUP}/{version}", "kind": kind, "metadata": meta, "spec": spec}
        return self.apply_manifest(body)[0]

    def create_image_repository(
        self,
        namespace: str,
        name: str,
        image: str,
        *,
        interval: str = "1m",
        insecure: bool = True,
        extra_spec: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
    ) -> dict:
        spec: dict[str, Any] = {"image": image, "interval": interval}
        if insecure:
            spec["insecure"] = True
        spec.update(extra_spec or {})
        return self._apply_image_object("ImageRepository", "imagerepositories", namespace, name, spec, labels, None)

    def create_image_policy(
        self,
        namespace: str,
        name: str,
        repository: str,
        policy: dict[str, Any],
        *,
        extra_spec: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
    ) -> dict:
        spec: dict[str, Any] = {"imageRepositoryRef": {"name": repository}, "policy": policy}
        spec.update(extra_spec or {})
        return self._apply_image_object("ImagePolicy", "imagepolicies", namespace, name, spec, labels, None)

    def request_reconcile(self, kind: str, namespace: str, name: str, token: str | None = None) -> None:
        """Set ``reconcile.fluxcd.io/requestedAt`` (what ``flux reconcile`` does)."""
        plural = {"ImageRepository": "imagerepositories", "ImagePolicy": "imagepolicies"}[kind]
        version = self.image_api_version(plural)
        patch = {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token or str(time.time())}}}
        try:
            self.custom.patch_namespaced_custom_object(IMAGE_GROUP, version, namespace, plural, name, patch)
        except ApiException as exc:
            raise KubeError(f"annotating {kind} {namespace}/{name} failed: {_short(exc)}") from exc

    def _get_image_object(self, plural: str, namespace: str, name: str) -> dict | None:
        version = self.image_api_version(plural)
        try:
            obj = self.custom.get_namespaced_custom_object(
                IMAGE_GROUP, version, namespace, plural, name, _request_timeout=self.request_timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"get {plural} {namespace}/{name} failed: {_short(exc)}") from exc
        return _json_object(obj, f"get {plural} {namespace}/{name}")

    def get_image_repository(self, namespace: str, name: str) -> dict | None:
        return self._get_image_object("imagerepositories", namespace, name)

    def get_image_policy(self, namespace: str, name: str) -> dict | None:
        return self._get_image_object("imagepolicies", namespace, name)

    def list_image_policies(self, namespace: str) -> list[dict]:
        version = self.image_api_version("imagepolicies")
        out = _json_object(self.custom.list_namespaced_custom_object(
            IMAGE_GROUP, version, namespace, "imagepolicies", _request_timeout=self.request_timeout
        ), f"list imagepolicies in {namespace}")
        return list(out.get("items", []))

    def delete_image_object(self, kind: str, namespace: str, name: str) -> bool:
        plural = {"ImageRepository": "imagerepositories", "ImagePolicy": "imagepolicies"}[kind]
        version = self.image_api_version(plural)
        try:
            self.custom.delete_namespaced_custom_object(IMAGE_GROUP, version, namespace, plural, name)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise KubeError(f"delete {kind} {namespace}/{name} failed: {_short(exc)}") from exc

    @staticmethod
    def ready_condition(obj: dict | None) -> dict | None:
        for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return cond
        return None

    @staticmethod
    def latest_tag(policy: dict | None) -> str | None:
        status = (policy or {}).get("status") or {}
        ref = status.get("latestRef")
        if ref:
            return ref.get("tag")
        image = status.get("latestImage")  # v1beta2: "<repo>:<tag>"
        if image and ":" in image.rsplit("/", 1)[-1]:
            return image.rsplit(":", 1)[1]
        return None

    def wait_image_ready(self, kind: str, namespace: str, name: str, timeout: float = 60.0) -> dict:
        """Until the object is Ready *and* carries the status fields its readiness reports.

        Flux's patch helper writes the status conditions and the other status fields in
        separate requests, so Ready=True can be visible a moment before them: an
        ImageRepository's ``lastScanResult``, an ImagePolicy's ``latestRef``
        (``latestImage`` before v1).
        """
        def scanned(repository: dict) -> bool:
            return bool((repository.get("status") or {}).get("lastScanResult"))

        def resolved(policy: dict) -> bool:
            return self.latest_tag(policy) is not None

        kinds: dict[str, tuple[Callable[[str, str], dict | None], Callable[[dict], bool], str]] = {
            "ImageRepository": (self.get_image_repository, scanned, "status.lastScanResult"),
            "ImagePolicy": (self.get_image_policy, resolved, "status.latestRef"),
        }
        if kind not in kinds:
            raise KubeError(f"wait_image_ready: unknown kind {kind!r}; expected one of: {', '.join(kinds)}")
        getter, written, field = kinds[kind]

        def check() -> dict | None:
            obj = getter(namespace, name)
            cond = self.ready_condition(obj)
            if obj is None or not cond or cond.get("status") != "True":
                return None
            return obj if written(obj) else None

        return wait_until(check, timeout, what=f"{kind} {namespace}/{name} to be Ready with {field}")

    # -- leader election --------------------------------------------------------------------

    def get_lease(self, namespace: str, name: str = LEASE_NAME) -> LeaseInfo | None:
        try:
            lease = self.coordination.read_namespaced_lease(name, namespace, _request_timeout=self.request_timeout)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"get Lease {namespace}/{name} failed: {_short(exc)}") from exc
        if lease.metadata is None:
            raise KubeError(f"Lease {namespace}/{name} came back without metadata")
        spec = lease.spec
        identity = spec.holder_identity if spec else None
        return LeaseInfo(
            namespace=namespace,
            name=name,
            holder_identity=identity,
            holder_pod=holder_pod(identity),
            acquire_time=_iso(spec.acquire_time) if spec else None,
            renew_time=_iso(spec.renew_time) if spec else None,
            lease_duration_seconds=spec.lease_duration_seconds if spec else None,
            lease_transitions=spec.lease_transitions if spec else None,
            resource_version=lease.metadata.resource_version,
        )

    def lease_holder(self, namespace: str, name: str = LEASE_NAME) -> str | None:
        lease = self.get_lease(namespace, name)
        return lease.holder_pod if lease else None

    def delete_lease(self, namespace: str, name: str = LEASE_NAME) -> bool:
        try:
            self.coordination.delete_namespaced_lease(name, namespace, _request_timeout=self.request_timeout)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise KubeError(f"delete Lease {namespace}/{name} failed: {_short(exc)}") from exc

    def wait_lease_holder(
        self,
        namespace: str,
        *,
        timeout: float = 60.0,
        not_in: Iterable[str] = (),
        among: Iterable[str] | None = None,
        name: str = LEASE_NAME,
    ) -> LeaseInfo:
        """Wait until the Lease names a holder (optionally not one of ``not_in``)."""
        excluded = set(not_in)
        allowed = set(among) if among is not None else None

        def check() -> LeaseInfo | None:
            lease = self.get_lease(namespace, name)
            if not lease or not lease.holder_pod or lease.holder_pod in excluded:
                return None
            if allowed is not None and lease.holder_pod not in allowed:
                return None
            return lease

        what = f"a holder of Lease {namespace}/{name}"
        if excluded:
            what += f" other than {sorted(excluded)}"
        return wait_until(check, timeout, what=what)
