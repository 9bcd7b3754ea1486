"""The Git server image: Debian's ``git-http-backend`` behind Debian's ``lighttpd``.

Why this server: image-automation-controller clones and pushes with go-git over HTTP, so
the environment needs Git's *smart* HTTP protocol. ``git-http-backend`` is Git's own
implementation of it (the same upload-pack/receive-pack as any Git host), and lighttpd runs
it as a CGI with three built-in modules (alias, cgi, setenv) and a ten-line config. Both
come from Debian's archive through debootstrap, like every other image here: no
third-party binary, no Go build, no network inside a container. Anonymous push is enabled
per repository (``http.receivepack=true``), set when the plugin creates it.

Repositories live in the container's own filesystem under ``/srv/git`` (no Docker VOLUME:
an anonymous volume would outlive a crashed run); a stopped container keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import versions
from .os_images import rootfs_image
from .stamps import LABEL

if TYPE_CHECKING:
    from .build import Builder

PORT = 8080
REPO_ROOT = "/srv/git"
URL_PREFIX = "/git"  # repositories are <server>/git/<name>.git
WWW_DATA = 33  # Debian's fixed uid and gid of www-data (base-passwd)
PACKAGES = ["git", "lighttpd", "ca-certificates"]

LIGHTTPD_CONF = f"""\
server.modules = ("mod_alias", "mod_setenv", "mod_cgi")
server.document-root = "{REPO_ROOT}"
server.port = {PORT}
server.username = "www-data"
server.groupname = "www-data"
alias.url = ("{URL_PREFIX}" => "/usr/lib/git-core/git-http-backend")
$HTTP["url"] =~ "^{URL_PREFIX}" {{
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "{REPO_ROOT}", "GIT_HTTP_EXPORT_ALL" => "")
}}
"""
CONF_PATH = "/etc/lighttpd/fluxchaos-git.conf"


def image_tag(b: Builder) -> str:
    return f"{b.prefix}/git-server:{versions.DEBIAN_SUITE}"


def inputs() -> dict:
    """What the image is made of; a warm asset set must have been built from exactly this."""
    return {"suite": versions.DEBIAN_SUITE, "method": "debootstrap --variant=minbase --include",
            "mirror": versions.DEBIAN_MIRROR, "packages": PACKAGES, "config": LIGHTTPD_CONF}


def git_server(b: Builder) -> str:
    """Build (or find current) the Git server image; returns its tag."""
    key = f"git-server-{versions.DEBIAN_SUITE}"
    tag = image_tag(b)
    wanted = inputs()
    if b.current_image(key, tag, wanted):
        return tag
    with b.step(f"building {tag} (debootstrap +git, lighttpd)"):
        rootfs_image(b, key, tag, wanted, PACKAGES, {CONF_PATH: LIGHTTPD_CONF}, [
            f'LABEL {LABEL}="true" io.fluxchaos.name="git-server" io.fluxchaos.version="{versions.DEBIAN_SUITE}" '
            'io.fluxchaos.source="offline-build"',
            f"EXPOSE {PORT}",
            f'CMD ["lighttpd", "-D", "-f", "{CONF_PATH}"]'], owners={REPO_ROOT: WWW_DATA})
    return tag
