"""The ``docker`` backend: the real image-reflector-controller against a real
kube-apiserver + etcd and a real OCI registry, all as Docker containers.

Public API::

    from pytest_fluxchaos.backends.docker import DockerBackend, BackoffPolicy, gc

    backend = DockerBackend(assets)          # or DockerBackend(flux_version="2.9.4")
    backend.provision(print)
    backend.install_flux(InstallRequest(...), print)
    ...
    backend.teardown()

    gc(all_runs=True)                        # `fluxchaos gc`: leftovers of crashed runs
"""

from .backend import DockerBackend
from .client import connect_docker
from .pods import kubelet_oom_score_adj
from .backoff import BackoffPolicy
from .cleanup import gc
from .podspec import PodTemplate, translate_deployment
from .labels import LABEL_MANAGED, LABEL_RUN

__all__ = [
    "LABEL_MANAGED",
    "LABEL_RUN",
    "BackoffPolicy",
    "DockerBackend",
    "PodTemplate",
    "connect_docker",
    "gc",
    "kubelet_oom_score_adj",
    "translate_deployment",
]
