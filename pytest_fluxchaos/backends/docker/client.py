"""The Docker SDK as the backend uses it: labelled containers, one-line errors.

Every container is created through :class:`Containers`, so each carries the run's
labels, is removed *with* its anonymous volumes, and maps Docker's errors to one
actionable :class:`~pytest_fluxchaos.domain.BackendError` line.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ...domain import BackendError, one_line
from ..ports import free_port, port_free

ASSETS_HINT = "run `python -m pytest_fluxchaos.assets build`"


class PortInUse(BackendError):
    pass


def connect_docker(timeout: int = 60) -> Any:
    """A docker SDK client that has answered a ping, or a one-line BackendError."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise BackendError(
            "Docker is not running or not reachable "
            f"({one_line(exc, 160)}); start the Docker engine or set DOCKER_HOST"
        ) from None
    return client


class Containers:
    """Create, inspect and remove the run's containers on one Docker client."""

    def __init__(self, client: Any, labels: dict[str, str]) -> None:
        self.client = client
        self.api = client.api
        self.labels = labels

    def label(self, **extra: str) -> dict[str, str]:
        return {**self.labels, **extra}

    def image_config(self, ref: str) -> dict[str, Any]:
        from docker.errors import ImageNotFound

        try:
            return self.api.inspect_image(ref).get("Config") or {}
        except ImageNotFound:
            raise BackendError(f"image {ref} is missing; {ASSETS_HINT}") from None

    def has_image(self, ref: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            self.api.inspect_image(ref)
            return True
        except ImageNotFound:
            return False

    def command_for(self, image: str, binary: str, args: list[str]) -> dict[str, Any]:
        """Run ``binary args`` whatever the image's ENTRYPOINT is."""
        entry = self.image_config(image).get("Entrypoint") or []
        if entry and os.path.basename(entry[-1]) == binary:
            return {"command": args}
        return {"entrypoint": [binary], "command": args}

    def remove(self, name_or_id: str) -> None:
        """Force-remove a container and its anonymous volumes; gone already is fine."""
        try:
            self.api.remove_container(name_or_id, force=True, v=True)
        except Exception:  # noqa: BLE001 - missing or already being removed
            pass

    def run(self, name: str, image: str, **kwargs: Any) -> Any:
        """Create and start a container; map Docker errors to one-line BackendErrors."""
        from docker.errors import APIError, ImageNotFound

        self.remove(name)
        try:
            return self.client.containers.run(image, name=name, detach=True, **kwargs)
        except ImageNotFound:
            raise BackendError(f"image {image} is missing; {ASSETS_HINT}") from None
        except APIError as exc:
            text = one_line(exc.explanation or exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise PortInUse(text) from None
            raise BackendError(f"cannot start container {name}: {text}") from None

    def run_to_end(self, name: str, image: str, timeout: float, **kwargs: Any) -> tuple[int | None, str]:
        """Run a helper container to its end; (exit code or None on timeout, its log)."""
        try:
            container = self.run(name, image, **kwargs)
            try:
                code = container.wait(timeout=timeout).get("StatusCode")
            except Exception:  # noqa: BLE001 - the wait timed out
                code = None
            return code, self.api.logs(name).decode(errors="replace")
        finally:
            self.remove(name)

    def run_published(self, name: str, image: str, container_port: int, requested: int | None,
                      **kwargs: Any) -> tuple[Any, int]:
        """Run a container publishing ``container_port`` on 127.0.0.1 only."""
        attempts = 1 if requested else 3
        last = ""
        for _ in range(attempts):
            port = requested or free_port()
            if requested and not port_free(port):
                raise BackendError(f"port 127.0.0.1:{port} is in use; free it or choose another port for {name}")
            try:
                container = self.run(name, image, ports={f"{container_port}/tcp": ("127.0.0.1", port)}, **kwargs)
                return container, port
            except PortInUse as exc:
                last = str(exc)
        raise BackendError(f"port in use for {name} ({last}); free a port on 127.0.0.1 and retry")

    def state(self, name: str) -> dict[str, Any]:
        return self.api.inspect_container(name)["State"]

    def logs_tail(self, container: str, lines: int = 5) -> str:
        """The telling last lines of a container's log, joined on one line.

        Error lines (klog ``E``/``F``, ``error``, ``failed``) are preferred over the
        chatter that precedes a crash.
        """
        try:
            raw = self.api.logs(container, tail=60).decode(errors="replace")
        except Exception:  # noqa: BLE001
            return "(no logs)"
        all_lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
        errors = [ln for ln in all_lines
                  if re.match(r"^[EF]\d{4} ", ln) or re.search(r"error|fail|fatal|panic", ln, re.I)]
        chosen = errors[-lines:] if errors else all_lines[-lines:]
        return " | ".join(chosen)[-1500:] or "(no logs)"
