"""Observers: watch ImagePolicy / ImageRepository / Lease / Event and container states,
and record every change into the :class:`~pytest_fluxchaos.history.History`.

Typical use (the caller builds the ApiClient from the environment's kubeconfig)::

    api = kubernetes.config.new_client_from_config(str(kubeconfig))
    observer = Observer(api, [namespace], history, api_version="v1",
                        pods_fn=backend.pods).start(sync_timeout=10)
    ...
    errors = observer.stop()   # list of one-line errors (empty when all went well)

What is recorded (see trackers.py): ``PolicySpec`` on each metadata.generation (first
sight included), ``PolicyLatest`` when the resolved tag (or its digest) changes -- a
first sight without a tag is not recorded, a cleared tag is recorded as ``tag=None`` --
``PolicyReady``/``RepositoryReady`` when Ready's status or reason changes,
``RepositoryScan`` when lastScanResult's revision or scanTime changes, ``LeaseHolder``
when the leader Lease's holderIdentity changes (first sight and deletion included),
``PodState`` when a container's id/state/restart count/reason/exit code changes or the
pod disappears, Warning Events about ImagePolicies/ImageRepositories as ``KubeEvent``
(first sight and each repetition) and every other Kubernetes Event as ``Note``
(``data["observer"] == "Event"``).
"""

from .fake import FakeSource
from .latency import LatencyProbe, LatencySample, percentile, summarize
from .observer import Observer, ObserverError, ObserverFailure
from .parse import (IMAGE_GROUP, LEASE_NAME, lease_holder, parse_time, policy_latest, ready_state,
                    split_image_ref, status_write_time)
from .source import (EVENTS, KubeSource, Resource, WatchExpired, WatchSource, image_policies,
                     image_repositories, leader_lease)

__all__ = [
    "EVENTS", "IMAGE_GROUP", "LEASE_NAME", "FakeSource", "KubeSource", "LatencyProbe",
    "LatencySample", "Observer", "ObserverError", "ObserverFailure", "Resource", "WatchExpired",
    "WatchSource", "image_policies", "image_repositories", "leader_lease", "lease_holder",
    "parse_time", "percentile", "policy_latest", "ready_state", "split_image_ref",
    "status_write_time", "summarize",
]
