"""The image ``push_tag`` uploads: a tiny, valid, deterministic OCI image per repository:tag.

The config carries the repository and the tag, so every repository:tag has its own
manifest digest: a registry deletes manifests (by digest), and every tag pointing at a
deleted manifest vanishes with it, so unique digests make a tag deletion remove one tag.
Pure: no I/O, the same bytes on every machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))

def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _build_layer() -> tuple[bytes, str]:
    """A constant, deterministic tar.gz with one small file; returns (blob, diff_id)."""
    payload = b"fluxchaos test image\n"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("fluxchaos.txt")
        info.size = len(payload)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=9, mtime=0), _sha256(tar_bytes)


_LAYER, _LAYER_DIFF_ID = _build_layer()


def image_for_tag(repository: str, tag: str, nonce: str | None = None) -> dict[str, bytes]:
    """The blobs and manifest ``push_tag`` uploads (deterministic; pure).

    Returns ``{"config": ..., "layer": ..., "manifest": ...}`` as bytes. The config
    holds the repository, the tag and the optional nonce, hence a digest unique to
    them; the layer is shared by all images.
    """
    labels = {"io.fluxchaos.repository": repository, "io.fluxchaos.tag": tag}
    if nonce is not None:
        labels["io.fluxchaos.nonce"] = nonce
    config = _canonical_json({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [_LAYER_DIFF_ID]},
    })
    manifest = _canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": _sha256(_LAYER), "size": len(_LAYER)}],
    })
    return {"config": config, "layer": _LAYER, "manifest": manifest}
