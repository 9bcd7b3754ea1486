"""Removing what the docker backend created: by label, idempotently, interrupt-safe.

Every container, network and volume carries ``io.fluxchaos.managed=true`` and
``io.fluxchaos.run=<run-id>``. :func:`remove_labelled` deletes everything matching a
label (containers first, then networks, then volumes), keeps going past individual
errors and past a KeyboardInterrupt (re-raised once the sweep is complete), and
returns what it removed. :func:`gc` is the ``fluxchaos gc`` entry point for leftovers
of crashed runs.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .labels import LABEL_MANAGED, LABEL_RUN

log = logging.getLogger(__name__)


def _is_missing(exc: BaseException) -> bool:
    text = str(exc)
    return "404" in text or "No such" in text or "not found" in text.lower()


def remove_labelled(docker: Any, label: str, *, attempts: int = 3) -> dict[str, list[str]]:
    """Remove all containers, networks and volumes carrying ``label`` (``k=v``)."""
    removed: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}
    errors: list[str] = []
    interrupted: BaseException | None = None
    api = docker.api

    def rm_container(cid: str) -> None:
        try:
            api.remove_container(cid, force=True, v=True)
            removed["containers"].append(cid[:12])
        except Exception as exc:  # noqa: BLE001
            if not _is_missing(exc):
                errors.append(f"container {cid[:12]}: {exc}")

    for attempt in range(attempts):
        errors.clear()
        try:
            ids = [c["Id"] for c in api.containers(all=True, filters={"label": label})]
            if ids:
                try:
                    with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
                        list(pool.map(rm_container, ids))
                except RuntimeError:
                    # At interpreter exit (atexit after SIGTERM) no new threads: one by one.
                    for cid in ids:
                        rm_container(cid)
            for net in api.networks(filters={"label": label}):
                try:
                    api.remove_network(net["Id"])
                    removed["networks"].append(net["Name"])
                except Exception as exc:  # noqa: BLE001
                    if not _is_missing(exc):
                        errors.append(f"network {net['Name']}: {exc}")
            vols = (api.volumes(filters={"label": label}) or {}).get("Volumes") or []
            for vol in vols:
                try:
                    api.remove_volume(vol["Name"], force=True)
                    removed["volumes"].append(vol["Name"])
                except Exception as exc:  # noqa: BLE001
                    if not _is_missing(exc):
                        errors.append(f"volume {vol['Name']}: {exc}")
        except KeyboardInterrupt as exc:
            # Finish the sweep first; a second Ctrl-C during the retry still lands here.
            interrupted = exc
            continue
        if not errors:
            break
        time.sleep(0.5 * (attempt + 1))
    if errors:
        log.warning("fluxchaos cleanup left: %s", "; ".join(errors))
    if interrupted is not None:
        raise interrupted
    return removed


def gc(all_runs: bool = True, run_id: str | None = None, docker: Any = None) -> dict[str, list[str]]:
    """Remove leftovers of fluxchaos docker runs (all runs, or one ``run_id``).

    Returns ``{"containers": [...], "networks": [...], "volumes": [...]}``.
    """
    from .client import connect_docker

    if run_id is None and not all_runs:
        raise ValueError("gc() needs all_runs=True or a run_id")
    client = docker or connect_docker()
    label = f"{LABEL_RUN}={run_id}" if run_id else f"{LABEL_MANAGED}=true"
    try:
        return remove_labelled(client, label)
    finally:
        if docker is None:
            client.close()
