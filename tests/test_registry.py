"""Tests of the OCI distribution client.

Two layers:
* offline tests against a scripted stdlib HTTP server (retries, pagination links,
  error lines) and of the pure image builder; always run;
* tests against a real registry, marked ``docker``: the registry image the project
  builds itself (``fluxchaos/registry``, distribution v3; the asset set's
  ``registry_image``) run as a container on a published 127.0.0.1 port with deletes
  enabled. Skipped only when Docker does not answer or the images are not built.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest
import requests
import tenacity
from realenv import require_assets

from pytest_fluxchaos.backends.docker.supervisor import LABEL_MANAGED, LABEL_ROLE, LABEL_RUN
from pytest_fluxchaos.registry import (
    MANIFEST_ACCEPT,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    RegistryClient,
    RegistryError,
    RequestRecord,
    image_for_tag,
)

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------
# a real registry: the project's own image (distribution v3) as a Docker container


@tenacity.retry(stop=tenacity.stop_after_delay(30), wait=tenacity.wait_fixed(0.2),
                retry=tenacity.retry_if_result(lambda up: not up), reraise=True)
def _answers(client: RegistryClient) -> bool:
    return client.is_up()


@pytest.fixture
def registry_url() -> Iterator[str]:
    """The asset set's registry image on a published 127.0.0.1 port, deletes enabled.

    Labelled like the backend's containers (``fluxchaos gc`` finds a leftover) and
    removed with its anonymous ``/var/lib/registry`` volume.
    """
    image = require_assets().registry_image  # fluxchaos/registry:v3.1.2 (registry:3 online)
    docker_client = docker.from_env(timeout=30)
    container = docker_client.containers.run(
        image, detach=True, ports={"5000/tcp": ("127.0.0.1", None)},
        environment={"REGISTRY_STORAGE_DELETE_ENABLED": "true"},
        labels={LABEL_MANAGED: "true", LABEL_RUN: f"test-registry-{secrets.token_hex(4)}",
                LABEL_ROLE: "registry"})
    try:
        container.reload()
        port = container.ports["5000/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        with RegistryClient(url, timeout=2) as probe:
            try:
                _answers(probe)
            except tenacity.RetryError:
                container.reload()
                pytest.fail(f"{image} did not answer {url}/v2/ within 30s ({container.status}): "
                            f"{container.logs(tail=5).decode(errors='replace')}")
        yield url
    finally:
        container.remove(force=True, v=True)
        docker_client.close()


@pytest.fixture
def client(registry_url: str) -> Iterator[RegistryClient]:
    with RegistryClient(registry_url) as c:
        yield c


@pytest.mark.docker
def test_ping_push_list_delete(client: RegistryClient) -> None:
    client.ping()
    assert client.is_up()
    assert client.list_tags("app/never-pushed") == []
    d1 = client.push_tag("app/podinfo", "1.0.0")
    d2 = client.push_tag("app/podinfo", "1.1.0")
    assert d1.startswith("sha256:") and d1 != d2
    assert sorted(client.list_tags("app/podinfo")) == ["1.0.0", "1.1.0"]
    assert client.tag_digest("app/podinfo", "1.0.0") == d1
    assert client.delete_tag("app/podinfo", "1.0.0") == d1
    assert client.list_tags("app/podinfo") == ["1.1.0"]
    assert client.tag_digest("app/podinfo", "1.0.0") is None
    # the other tag and its content are intact
    digest, manifest = client.get_manifest("app/podinfo", "1.1.0")
    assert digest == d2 and manifest["mediaType"] == OCI_MANIFEST
    # a re-push after delete brings the tag back with the same digest
    assert client.push_tag("app/podinfo", "1.0.0") == d1
    assert sorted(client.list_tags("app/podinfo")) == ["1.0.0", "1.1.0"]


@pytest.mark.docker
def test_digests_unique_per_repository_and_tag(client: RegistryClient) -> None:
    digests = {
        client.push_tag("a/one", "v1"),
        client.push_tag("a/one", "v2"),
        client.push_tag("a/two", "v1"),
        client.push_tag("a/two", "v2"),
    }
    assert len(digests) == 4
    # deterministic: pushing again is idempotent
    assert client.push_tag("a/one", "v1") in digests
    # a nonce moves the tag to new content
    moved = client.push_tag("a/one", "v1", nonce="retag-1")
    assert moved not in digests
    assert client.tag_digest("a/one", "v1") == moved
    # deleting one tag never takes another with it
    client.delete_tag("a/one", "v1")
    assert client.list_tags("a/one") == ["v2"]
    assert sorted(client.list_tags("a/two")) == ["v1", "v2"]


@pytest.mark.docker
def test_shared_digest_delete_removes_both_tags(client: RegistryClient, registry_url: str) -> None:
    """Why digests must be unique: a registry deletes manifests, not tags."""
    client.push_tag("shared/app", "a")
    _, manifest = client.get_manifest("shared/app", "a")
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    r = requests.put(f"{registry_url}/v2/shared/app/manifests/b", data=body,
                     headers={"Content-Type": OCI_MANIFEST}, timeout=10)
    assert r.status_code == 201
    assert sorted(client.list_tags("shared/app")) == ["a", "b"]
    client.delete_tag("shared/app", "a")
    assert client.list_tags("shared/app") == []


@pytest.mark.docker
def test_pagination_150_tags(registry_url: str) -> None:
    gets: list[RequestRecord] = []

    def hook(rec: RequestRecord) -> None:
        if rec.method == "GET" and "/tags/list" in rec.url:
            gets.append(rec)

    tags = [f"1.0.{i}" for i in range(150)]
    with RegistryClient(registry_url, on_request=hook) as c:
        digests = {c.push_tag("paged/app", t) for t in tags}
        assert len(digests) == 150
        listed = c.list_tags("paged/app")
        assert sorted(listed) == sorted(tags) and len(listed) == 150
    # distribution v3 honours ?n= and links the next page
    probe = requests.get(f"{registry_url}/v2/paged/app/tags/list?n=40", timeout=10)
    assert len(probe.json()["tags"]) == 40
    assert probe.headers["Link"].endswith('rel="next"')
    assert len(gets) == 2, "150 tags at n=100 take two pages (Link header)"
    gets.clear()
    with RegistryClient(registry_url, page_size=40, on_request=hook) as c:
        assert sorted(c.list_tags("paged/app")) == sorted(tags)
        assert len(gets) == 4
    gets.clear()
    with RegistryClient(registry_url, page_size=None, on_request=hook) as c:
        assert sorted(c.list_tags("paged/app")) == sorted(tags)


@pytest.mark.docker
def test_go_containerregistry_listing_semantics(client: RegistryClient, registry_url: str) -> None:
    """What IRC's scan does: GET /v2/<repo>/tags/list, then (digest reflection) HEAD."""
    digest = client.push_tag("ggcr/app", "v1.2.3")
    client.push_tag("ggcr/app", "v1.2.4")
    r = requests.get(f"{registry_url}/v2/ggcr/app/tags/list", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["name"] == "ggcr/app"
    assert sorted(body["tags"]) == ["v1.2.3", "v1.2.4"]
    # remote.Head / remote.Get with ggcr's default Accept list
    h = requests.head(f"{registry_url}/v2/ggcr/app/manifests/v1.2.3",
                      headers={"Accept": MANIFEST_ACCEPT}, timeout=10)
    assert h.status_code == 200
    assert h.headers["Docker-Content-Digest"] == digest
    assert h.headers["Content-Type"] == OCI_MANIFEST
    g = requests.get(f"{registry_url}/v2/ggcr/app/manifests/{digest}",
                     headers={"Accept": MANIFEST_ACCEPT}, timeout=10)
    assert "sha256:" + hashlib.sha256(g.content).hexdigest() == digest
    config = json.loads(client.get_blob("ggcr/app", g.json()["config"]["digest"]))
    assert config["config"]["Labels"]["io.fluxchaos.tag"] == "v1.2.3"
    assert config["rootfs"]["type"] == "layers"


@pytest.mark.docker
def test_delete_missing_tag_is_a_404_error(client: RegistryClient) -> None:
    client.push_tag("missing/app", "v1")
    with pytest.raises(RegistryError, match="tag not found") as info:
        client.delete_tag("missing/app", "nope")
    assert info.value.status == 404 and not info.value.indeterminate


def test_unreachable_registry_is_one_line_and_fast() -> None:
    port = free_port()
    c = RegistryClient(f"http://127.0.0.1:{port}", timeout=2)
    started = time.monotonic()
    for call in (c.ping, lambda: c.push_tag("x/y", "v1"), lambda: c.list_tags("x/y"),
                 lambda: c.delete_tag("x/y", "v1")):
        with pytest.raises(RegistryError) as info:
            call()
        message = str(info.value)
        assert f"registry at http://127.0.0.1:{port} not reachable" in message
        assert "connection refused" in message and "\n" not in message
        assert info.value.indeterminate is False  # refused: certainly not applied
    assert time.monotonic() - started < 10
    assert not c.is_up()


# --------------------------------------------------------------------------------------
# offline: pure image builder


def test_image_is_a_valid_oci_image() -> None:
    image = image_for_tag("team/app", "v1.0.0")
    manifest = json.loads(image["manifest"])
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == OCI_MANIFEST
    config_desc = manifest["config"]
    assert config_desc["mediaType"] == OCI_CONFIG
    assert config_desc["digest"] == "sha256:" + hashlib.sha256(image["config"]).hexdigest()
    assert config_desc["size"] == len(image["config"])
    (layer_desc,) = manifest["layers"]
    assert layer_desc["mediaType"] == OCI_LAYER
    assert layer_desc["digest"] == "sha256:" + hashlib.sha256(image["layer"]).hexdigest()
    raw = gzip.decompress(image["layer"])
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert tar.getnames() == ["fluxchaos.txt"]
    config = json.loads(image["config"])
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    assert config["config"]["Labels"]["io.fluxchaos.repository"] == "team/app"
    assert image_for_tag("team/app", "v1.0.0") == image  # deterministic
    assert image_for_tag("team/app", "v1.0.1")["manifest"] != image["manifest"]
    assert image_for_tag("team/app2", "v1.0.0")["manifest"] != image["manifest"]
    assert image_for_tag("team/app", "v1.0.0", "n")["manifest"] != image["manifest"]
    assert image_for_tag("team/app2", "v1.0.0")["layer"] == image["layer"]


@pytest.mark.parametrize("repo,tag,match", [
    ("Upper/app", "v1", "invalid repository"),
    ("app//x", "v1", "invalid repository"),
    ("app", "-bad", "invalid tag"),
    ("app", "a" * 129, "invalid tag"),
    ("app", "with:colon", "invalid tag"),
])
def test_invalid_names_fail_before_any_request(repo: str, tag: str, match: str) -> None:
    calls: list[RequestRecord] = []
    c = RegistryClient("http://127.0.0.1:9", on_request=calls.append)
    with pytest.raises(RegistryError, match=match):
        c.push_tag(repo, tag)
    assert calls == []


# --------------------------------------------------------------------------------------
# offline: scripted HTTP server


class Script:
    """Scripted responses: ``(method, path-prefix) -> list of (status, headers, body)``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[tuple[int, dict[str, str], bytes]]] = {}
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def add(self, method: str, prefix: str, status: int, headers: dict[str, str] | None = None,
            body: bytes | dict | None = None) -> None:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        self.routes.setdefault((method, prefix), []).append((status, headers or {}, body or b""))

    def answer(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.seen.append((method, path))
            for (m, prefix), queue in self.routes.items():
                if m == method and path.startswith(prefix) and queue:
                    return queue.pop(0) if len(queue) > 1 else queue[0]
        return 404, {}, b'{"errors":[{"code":"UNSCRIPTED","message":"no route"}]}'


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, headers, body = script.answer(self.command, self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def test_transient_5xx_is_retried_then_succeeds(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("GET", "/v2/", 503, body={"errors": [{"code": "UNAVAILABLE", "message": "busy"}]})
    script.add("GET", "/v2/", 200, body={})
    RegistryClient(url).ping()
    assert script.seen.count(("GET", "/v2/")) == 2


def test_persistent_5xx_gives_up_bounded(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("PUT", "/v2/app/manifests/", 500,
               body={"errors": [{"code": "UNKNOWN", "message": "disk full"}]})
    script.add("HEAD", "/v2/app/blobs/", 200, headers={"Docker-Content-Digest": "x"})
    expected = r"push manifest app:v1 failed: HTTP 500 UNKNOWN: disk full"
    with pytest.raises(RegistryError, match=expected) as info:
        RegistryClient(url, attempts=3).push_tag("app", "v1")
    assert info.value.indeterminate is True and info.value.status == 500
    assert sum(1 for m, p in script.seen if m == "PUT") == 3


def test_link_pagination_relative_and_absolute(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("GET", "/v2/app/tags/list?n=2", 200,
               headers={"Link": '</v2/app/tags/list?last=b&n=2>; rel="next"'},
               body={"name": "app", "tags": ["a", "b"]})
    script.add("GET", "/v2/app/tags/list?last=b", 200,
               headers={"Link": f'<{url}/v2/app/tags/list?last=d&n=2>; rel="next"'},
               body={"name": "app", "tags": ["c", "d"]})
    script.add("GET", "/v2/app/tags/list?last=d", 200, body={"name": "app", "tags": ["e"]})
    assert RegistryClient(url, page_size=2).list_tags("app") == ["a", "b", "c", "d", "e"]


def test_null_tags_and_unknown_name(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("GET", "/v2/empty/tags/list", 200, body={"name": "empty", "tags": None})
    script.add("GET", "/v2/gone/tags/list", 404,
               body={"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]})
    c = RegistryClient(url)
    assert c.list_tags("empty") == [] and c.list_tags("gone") == []


def test_delete_disabled_and_auth_hints(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("HEAD", "/v2/app/manifests/v1", 200, headers={"Docker-Content-Digest": "sha256:abc"})
    script.add("DELETE", "/v2/app/manifests/sha256:abc", 405,
               body={"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]})
    script.add("GET", "/v2/", 401, body={"errors": [{"code": "UNAUTHORIZED", "message": "auth"}]})
    c = RegistryClient(url)
    with pytest.raises(RegistryError, match="deletes are disabled") as info:
        c.delete_tag("app", "v1")
    assert info.value.status == 405 and info.value.code == "UNSUPPORTED"
    with pytest.raises(RegistryError, match="requires authentication"):
        c.ping()


def test_lost_delete_answer_counts_as_done(scripted: tuple[str, Script]) -> None:
    """DELETE answered 503 (maybe applied); the retry's HEAD finds the tag gone."""
    url, script = scripted
    script.add("HEAD", "/v2/app/manifests/v1", 200, headers={"Docker-Content-Digest": "sha256:abc"})
    script.add("HEAD", "/v2/app/manifests/v1", 404)
    script.add("DELETE", "/v2/app/manifests/sha256:abc", 503)
    assert RegistryClient(url).delete_tag("app", "v1") == "sha256:abc"


def test_digest_mismatch_is_reported(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("HEAD", "/v2/app/blobs/", 200)
    script.add("PUT", "/v2/app/manifests/v1", 201, headers={"Docker-Content-Digest": "sha256:other"})
    with pytest.raises(RegistryError, match="stored app:v1 as sha256:other"):
        RegistryClient(url).push_tag("app", "v1")


def test_monolithic_upload_flow(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.add("HEAD", "/v2/app/blobs/", 404)
    script.add("POST", "/v2/app/blobs/uploads/", 202,
               headers={"Location": "/v2/app/blobs/uploads/u1?_state=s"})
    script.add("PUT", "/v2/app/blobs/uploads/u1?_state=s&digest=sha256%3A", 201)
    script.add("PUT", "/v2/app/manifests/v1", 201)
    digest = RegistryClient(url).push_tag("app", "v1")
    methods = [m for m, _ in script.seen]
    assert methods == ["HEAD", "POST", "PUT", "HEAD", "POST", "PUT", "PUT"]
    assert digest == "sha256:" + hashlib.sha256(image_for_tag("app", "v1")["manifest"]).hexdigest()
