"""The ``kind`` backend: Flux's image-reflector-controller on a real kind cluster.

Public API::

    from pytest_fluxchaos.backends.kind import KindBackend, KindOptions

    backend = KindBackend(assets, KindOptions(cluster_name="fluxchaos"))
    backend.provision(print)          # preflight + guard, cluster, registry, images
    backend.install_flux(InstallRequest(...), print)
    ...
    backend.teardown()

Normally used through ``--fluxchaos-backend=kind`` (``backends/kind_environment.py``).
"""

from .backend import KindBackend
from .guard import ClusterPlan, ForeignClusterError, plan_cluster
from .options import KIND_VERSION, NODE_IMAGE, NODE_IMAGE_DIGEST, KindOptions
from .provision import read_owner_marker

__all__ = [
    "KIND_VERSION",
    "NODE_IMAGE",
    "NODE_IMAGE_DIGEST",
    "ClusterPlan",
    "ForeignClusterError",
    "KindBackend",
    "KindOptions",
    "plan_cluster",
    "read_owner_marker",
]
