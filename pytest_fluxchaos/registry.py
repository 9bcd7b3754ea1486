"""A small OCI distribution client: push a tag, list tags, delete a tag.

The chaos runs need exactly three registry operations, done the way a real client
does them so that the controller under test sees a real registry:

* ``push_tag`` uploads a tiny but valid OCI image (an OCI image manifest, a config
  blob and one constant layer). The config carries the repository and the tag, so
  **every repository:tag gets its own manifest digest**. That matters for deletes: a
  registry deletes *manifests* (by digest), and every tag pointing at a deleted
  manifest vanishes with it; unique digests make ``delete_tag`` remove one tag only.
  The content is deterministic, so a retried or repeated push is idempotent.
* ``list_tags`` follows the ``Link`` header pagination of ``GET /v2/<name>/tags/list``
  (what go-containerregistry's ``remote.List`` -- and so the image-reflector-controller
  -- does).
* ``delete_tag`` resolves the tag's digest with ``HEAD`` on the manifest (OCI Accept
  header) and deletes the manifest by digest, as the distribution spec requires.

Failures are :class:`RegistryError` with one actionable line. Transient failures
(connection errors, timeouts, 5xx, 429) are retried a bounded number of times with
tenacity. ``RegistryError.indeterminate`` tells whether the operation may have taken
effect anyway (Jepsen's ``info`` outcome) or certainly did not (``fail``).

Only ``requests`` is used; no Docker or Kubernetes client (the generator, part of the
domain, may use this module).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from .oci_image import MANIFEST_ACCEPT, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, _sha256, image_for_tag

__all__ = [
    "OCI_MANIFEST",
    "OCI_CONFIG",
    "OCI_LAYER",
    "MANIFEST_ACCEPT",
    "RegistryClient",
    "RegistryError",
    "RequestRecord",
    "image_for_tag",
]

log = logging.getLogger(__name__)

# distribution spec grammar (name components joined by '/', tag max 128 chars)
_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")

_CHUNK_RE = re.compile(r"<([^>]*)>\s*;\s*rel=\"?next\"?")


class RegistryError(Exception):
    """A registry operation failed; ``str()`` is one actionable line.

    ``status`` is the HTTP status (None for network errors), ``code`` the first OCI
    error code of the body (e.g. ``MANIFEST_UNKNOWN``), ``indeterminate`` is True when
    the operation may still have taken effect (timeout, reset after sending, 5xx).
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 indeterminate: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.indeterminate = indeterminate


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP exchange, passed to the optional ``on_request`` hook."""

    method: str
    url: str
    status: int | None
    elapsed: float
    error: str | None = None
    attempt: int = 1


class _Transient(Exception):
    """Internal: a failure worth retrying; carries the RegistryError to raise at the end."""

    def __init__(self, error: RegistryError) -> None:
        super().__init__(str(error))
        self.error = error


def _with_query(url: str, **params: str) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def _error_code(resp: requests.Response) -> tuple[str | None, str]:
    """First OCI error code and message of a response body, if any."""
    try:
        body = resp.json()
        first = (body.get("errors") or [{}])[0]
        return first.get("code"), str(first.get("message") or "")
    except (ValueError, AttributeError, IndexError, TypeError):
        text = (resp.text or "").strip().splitlines()
        return None, text[0][:200] if text else ""


class RegistryClient:
    """Client for one OCI distribution registry over HTTP(S), no authentication.

    ``base_url`` is e.g. ``http://127.0.0.1:5000``. ``timeout`` bounds every HTTP
    request (connect and read); ``attempts`` and ``retry_deadline`` bound the retries
    of one operation (the default gives up after at most ~3 attempts / 10 s).
    ``on_request`` is called after every HTTP exchange with a :class:`RequestRecord`.
    Thread-safe: each thread gets its own ``requests.Session``.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0, attempts: int = 3,
                 retry_deadline: float = 10.0, page_size: int | None = 100,
                 on_request: Callable[[RequestRecord], None] | None = None) -> None:
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.retry_deadline = retry_deadline
        self.page_size = page_size
        self.on_request = on_request
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "pytest-fluxchaos"
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _url(self, path: str) -> str:
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def _retrying(self) -> Retrying:
        def _log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.debug("registry retry %d after: %s", state.attempt_number, exc)

        return Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.retry_deadline),
            wait=wait_exponential(multiplier=0.15, min=0.1, max=2.0),
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            before_sleep=_log_retry,
            reraise=True,
        )

    def _run(self, operation: Callable[[], Any]) -> Any:
        """Run an operation with bounded retries; surface one RegistryError."""
        try:
            for attempt in self._retrying():
                with attempt:
                    self._local.attempt = attempt.retry_state.attempt_number
                    return operation()
        except _Transient as exc:
            raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, method: str, url: str, *, ok: tuple[int, ...], what: str,
                 **kwargs: Any) -> requests.Response:
        """One HTTP exchange. Raises _Transient (retryable) or RegistryError (final).

        A status in ``ok`` is returned; 404 is returned too when listed in ``ok``.
        """
        url = url if "://" in url else self._url(url)
        kwargs.setdefault("timeout", self.timeout)
        started = time.monotonic()
        resp: requests.Response | None = None
        error: str | None = None
        try:
            resp = self._session.request(method, url, **kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            error = f"connect timeout: {exc}"
            raise _Transient(RegistryError(
                f"registry at {self.base_url} not reachable (connect timed out after "
                f"{self.timeout:g}s) during {what}")) from exc
        except requests.exceptions.Timeout as exc:
            error = f"timeout: {exc}"
            raise _Transient(RegistryError(
                f"registry at {self.base_url} did not answer within {self.timeout:g}s "
                f"during {what}", indeterminate=method not in ("GET", "HEAD"))) from exc
        except requests.exceptions.ConnectionError as exc:
            error = f"connection error: {exc}"
            refused = "refused" in str(exc).lower() or "Failed to establish" in str(exc)
            reason = "connection refused" if refused else "connection failed"
            raise _Transient(RegistryError(
                f"registry at {self.base_url} not reachable ({reason}) during {what}",
                indeterminate=not refused and method not in ("GET", "HEAD"))) from exc
        except requests.exceptions.RequestException as exc:
            error = f"request error: {exc}"
            raise RegistryError(f"registry at {self.base_url}: {what} failed: {exc}") from exc
        finally:
            self._notify(method, url, resp.status_code if resp is not None else None,
                         time.monotonic() - started, error)
        if resp.status_code in ok:
            return resp
        code, message = _error_code(resp)
        detail = f"HTTP {resp.status_code}" + (f" {code}" if code else "") + (
            f": {message}" if message else "")
        hint = ""
        if resp.status_code == 401:
            hint = " (the registry requires authentication, which this client does not do)"
        elif resp.status_code == 405 and method == "DELETE":
            hint = (" (deletes are disabled on the registry: set storage.delete.enabled: true,"
                    " or REGISTRY_STORAGE_DELETE_ENABLED=true)")
        error_obj = RegistryError(
            f"registry at {self.base_url}: {what} failed: {detail}{hint}",
            status=resp.status_code, code=code,
            indeterminate=resp.status_code >= 500 and method not in ("GET", "HEAD"))
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Transient(error_obj)
        raise error_obj

    def _notify(self, method: str, url: str, status: int | None, elapsed: float,
                error: str | None) -> None:
        if self.on_request is None:
            return
        try:
            self.on_request(RequestRecord(method, url, status, round(elapsed, 6), error,
                                          getattr(self._local, "attempt", 1)))
        except Exception:  # a logging hook must never break an operation
            log.exception("registry on_request hook failed")

    @staticmethod
    def _check_name(repository: str) -> None:
        if not _NAME_RE.match(repository):
            raise RegistryError(
                f"invalid repository name {repository!r}: lowercase alphanumerics "
                "separated by '.', '_', '__', '-' or '/'")

    @staticmethod
    def _check_tag(tag: str) -> None:
        if not _TAG_RE.match(tag):
            raise RegistryError(
                f"invalid tag {tag!r}: 1-128 chars of [A-Za-z0-9_.-], not starting with '.' or '-'")

    # -- API ----------------------------------------------------------------------

    def ping(self) -> None:
        """Check that ``GET /v2/`` answers 200; raises RegistryError otherwise."""
        self._run(lambda: self._request("GET", "/v2/", ok=(200,), what="ping (GET /v2/)"))

    def is_up(self) -> bool:
        """ping() as a boolean (single attempt, no retries)."""
        try:
            self._request("GET", "/v2/", ok=(200,), what="ping", timeout=min(self.timeout, 2.0))
            return True
        except (RegistryError, _Transient):
            return False

    def push_tag(self, repository: str, tag: str, *, nonce: str | None = None) -> str:
        """Push a tiny OCI image as ``repository:tag``; returns its manifest digest.

        The digest is unique to (repository, tag, nonce) and deterministic, so pushing
        the same tag again is idempotent; pass a different ``nonce`` to move a tag to
        new content (a "re-tag", for digest reflection scenarios).
        """
        self._check_name(repository)
        self._check_tag(tag)
        image = image_for_tag(repository, tag, nonce)
        digest = _sha256(image["manifest"])

        def operation() -> str:
            self._ensure_blob(repository, image["layer"])
            self._ensure_blob(repository, image["config"])
            resp = self._request(
                "PUT", f"/v2/{repository}/manifests/{quote(tag, safe='')}", ok=(200, 201),
                what=f"push manifest {repository}:{tag}", data=image["manifest"],
                headers={"Content-Type": OCI_MANIFEST})
            returned = resp.headers.get("Docker-Content-Digest")
            if returned and returned != digest:
                raise RegistryError(
                    f"registry at {self.base_url} stored {repository}:{tag} as {returned}, "
                    f"expected {digest} (does it rewrite OCI manifests?)")
            return digest

        return self._run(operation)

    def _ensure_blob(self, repository: str, blob: bytes) -> None:
        """HEAD the blob; if missing, monolithic upload: POST an upload, PUT the bytes."""
        digest = _sha256(blob)
        head = self._request("HEAD", f"/v2/{repository}/blobs/{digest}", ok=(200, 404),
                             what=f"check blob {digest[:19]} in {repository}")
        if head.status_code == 200:
            return
        start = self._request("POST", f"/v2/{repository}/blobs/uploads/", ok=(202,),
                              what=f"start blob upload in {repository}")
        location = start.headers.get("Location")
        if not location:
            raise RegistryError(
                f"registry at {self.base_url}: blob upload in {repository} returned no Location")
        self._request("PUT", _with_query(urljoin(self.base_url + "/", location), digest=digest),
                      ok=(201, 204), what=f"upload blob {digest[:19]} to {repository}",
                      data=blob, headers={"Content-Type": "application/octet-stream",
                                          "Content-Length": str(len(blob))})

    def list_tags(self, repository: str) -> list[str]:
        """All tags of ``repository`` (following Link pagination); [] if it is unknown."""
        self._check_name(repository)

        def operation() -> list[str]:
            tags: list[str] = []
            url: str | None = f"/v2/{repository}/tags/list"
            if self.page_size:
                url = f"/v2/{repository}/tags/list?n={self.page_size}"
            seen: set[str] = set()
            while url:
                if url in seen or len(seen) > 100_000:
                    raise RegistryError(
                        f"registry at {self.base_url}: tag pagination of {repository} loops at {url}")
                seen.add(url)
                resp = self._request("GET", url, ok=(200, 404), what=f"list tags of {repository}")
                if resp.status_code == 404:
                    code, message = _error_code(resp)
                    if code in ("NAME_UNKNOWN", None) and not tags:
                        return []
                    raise RegistryError(
                        f"registry at {self.base_url}: list tags of {repository} failed: "
                        f"HTTP 404 {code}: {message}", status=404, code=code)
                try:
                    page = resp.json().get("tags") or []
                except ValueError as exc:
                    raise RegistryError(
                        f"registry at {self.base_url}: tag list of {repository} is not JSON") from exc
                tags.extend(page)
                url = self._next_link(resp)
                if url and not page:
                    break
            return tags

        return self._run(operation)

    def _next_link(self, resp: requests.Response) -> str | None:
        link = resp.headers.get("Link")
        if not link:
            return None
        match = _CHUNK_RE.search(link)
        if not match:
            return None
        return urljoin(resp.url, match.group(1))

    def tag_digest(self, repository: str, tag: str) -> str | None:
        """The manifest digest ``repository:tag`` points at (HEAD), or None if absent."""
        self._check_name(repository)
        self._check_tag(tag)

        def operation() -> str | None:
            resp = self._request("HEAD", f"/v2/{repository}/manifests/{quote(tag, safe='')}",
                                 ok=(200, 404), what=f"resolve {repository}:{tag}",
                                 headers={"Accept": MANIFEST_ACCEPT})
            if resp.status_code == 404:
                return None
            digest = resp.headers.get("Docker-Content-Digest")
            if not digest:
                raise RegistryError(
                    f"registry at {self.base_url}: HEAD {repository}:{tag} returned no "
                    "Docker-Content-Digest header")
            return digest

        return self._run(operation)

    def delete_tag(self, repository: str, tag: str) -> str:
        """Delete ``repository:tag`` by deleting its manifest; returns the deleted digest.

        Raises RegistryError with ``status == 404`` if the tag does not exist. If a
        DELETE was sent but its answer was lost and the retry finds the tag gone, the
        delete counts as done.
        """
        self._check_name(repository)
        self._check_tag(tag)
        state: dict[str, str] = {}

        def operation() -> str:
            resp = self._request("HEAD", f"/v2/{repository}/manifests/{quote(tag, safe='')}",
                                 ok=(200, 404), what=f"resolve {repository}:{tag}",
                                 headers={"Accept": MANIFEST_ACCEPT})
            if resp.status_code == 404:
                if "sent" in state:
                    return state["sent"]
                raise RegistryError(
                    f"registry at {self.base_url}: cannot delete {repository}:{tag}: tag not found",
                    status=404, code="MANIFEST_UNKNOWN")
            digest = resp.headers.get("Docker-Content-Digest")
            if not digest:
                raise RegistryError(
                    f"registry at {self.base_url}: HEAD {repository}:{tag} returned no "
                    "Docker-Content-Digest header; cannot delete by digest")
            state["sent"] = digest
            self._request("DELETE", f"/v2/{repository}/manifests/{digest}", ok=(200, 202),
                          what=f"delete {repository}:{tag} ({digest[:19]})")
            return digest

        return self._run(operation)

    def get_manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
        """GET a manifest by tag or digest; returns (digest, parsed manifest)."""
        self._check_name(repository)

        def operation() -> tuple[str, dict[str, Any]]:
            resp = self._request("GET", f"/v2/{repository}/manifests/{quote(reference, safe=':')}",
                                 ok=(200,), what=f"get manifest {repository}:{reference}",
                                 headers={"Accept": MANIFEST_ACCEPT})
            return resp.headers.get("Docker-Content-Digest") or _sha256(resp.content), resp.json()

        return self._run(operation)

    def get_blob(self, repository: str, digest: str) -> bytes:
        """GET a blob (e.g. an image config) by digest."""
        self._check_name(repository)
        return self._run(lambda: self._request(
            "GET", f"/v2/{repository}/blobs/{digest}", ok=(200,),
            what=f"get blob {digest[:19]} of {repository}").content)
