"""Pure helpers to read upstream go.mod files and write wrapper modules.

A *wrapper module* is a throw-away main module under the cache that requires
an upstream program's module at an exact version, so that ``go build`` can
build the program by package path even when the upstream go.mod has
``replace`` directives (which the go command refuses for ``go install
pkg@version`` and ignores in dependencies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Replace:
    old_path: str
    old_version: str | None
    new_path: str
    new_version: str | None

    @property
    def is_local(self) -> bool:
        """A replacement by a directory (``./x``, ``../x`` or an absolute path)."""
        return self.new_version is None and (
            self.new_path.startswith(("./", "../", "/")) or self.new_path in (".", "..")
        )


@dataclass
class GoMod:
    module: str = ""
    go: str | None = None
    toolchain: str | None = None
    godebug: list[str] = field(default_factory=list)
    require: dict[str, str] = field(default_factory=dict)
    replace: list[Replace] = field(default_factory=list)
    exclude: list[tuple[str, str]] = field(default_factory=list)


def _strip_comment(line: str) -> str:
    # go.mod only has // comments and module paths never contain "//".
    i = line.find("//")
    return (line[:i] if i >= 0 else line).strip()


def _unquote(tok: str) -> str:
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "\"`":
        return tok[1:-1]
    return tok


def _parse_replace(spec: str) -> Replace | None:
    if "=>" not in spec:
        return None
    left, right = (s.split() for s in spec.split("=>", 1))
    if not left or not right:
        return None
    return Replace(
        old_path=_unquote(left[0]),
        old_version=left[1] if len(left) > 1 else None,
        new_path=_unquote(right[0]),
        new_version=right[1] if len(right) > 1 else None,
    )


def parse_gomod(text: str) -> GoMod:
    """Parse the parts of a go.mod that the wrapper generator needs."""
    mod = GoMod()
    block: str | None = None
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        if block is not None:
            if line == ")":
                block = None
                continue
            verb, rest = block, line
        else:
            parts = line.split(None, 1)
            verb = parts[0]
            rest = parts[1].strip() if len(parts) > 1 else ""
            if rest == "(":
                block = verb
                continue
        if verb == "module":
            mod.module = _unquote(rest)
        elif verb == "go":
            mod.go = rest
        elif verb == "toolchain":
            mod.toolchain = rest
        elif verb == "godebug":
            mod.godebug.append(rest)
        elif verb == "require":
            toks = rest.split()
            if len(toks) >= 2:
                mod.require[_unquote(toks[0])] = toks[1]
        elif verb == "replace":
            r = _parse_replace(rest)
            if r:
                mod.replace.append(r)
        elif verb == "exclude":
            toks = rest.split()
            if len(toks) >= 2:
                mod.exclude.append((_unquote(toks[0]), toks[1]))
    return mod


_K8S_VERSION = re.compile(r"^v1\.(\d+)\.(\d+)((?:-[0-9A-Za-z.-]+)?)$")


def staging_version(kubernetes_version: str) -> str:
    """k8s.io/kubernetes v1.X.Y -> the staging modules' tag v0.X.Y."""
    m = _K8S_VERSION.match(kubernetes_version)
    if not m:
        raise ValueError(f"not a Kubernetes v1.x.y version: {kubernetes_version!r}")
    return f"v0.{m[1]}.{m[2]}{m[3]}"


def staging_replaces(kubernetes_gomod: str, kubernetes_version: str) -> list[Replace]:
    """Derive the wrapper's replace lines from k8s.io/kubernetes's own go.mod.

    Every ``k8s.io/X => ./staging/src/k8s.io/X`` becomes
    ``k8s.io/X => k8s.io/X v0.<minor>.<patch>``.  Any other *versioned*
    replace of the upstream go.mod (a pinned fork) is carried over as is,
    since replace directives of dependencies are ignored by the go command.
    """
    mod = parse_gomod(kubernetes_gomod)
    sv = staging_version(kubernetes_version)
    out: list[Replace] = []
    for r in mod.replace:
        if r.is_local:
            if "staging/" in r.new_path:
                out.append(Replace(r.old_path, None, r.old_path, sv))
        else:
            out.append(r)
    return out


def carried_replaces(upstream_gomod: str) -> list[Replace]:
    """The non-local (module => module version) replaces of an upstream go.mod."""
    return [r for r in parse_gomod(upstream_gomod).replace if not r.is_local]


def _fmt_replace(r: Replace) -> str:
    old = r.old_path + (f" {r.old_version}" if r.old_version else "")
    new = r.new_path + (f" {r.new_version}" if r.new_version else "")
    return f"{old} => {new}"


def render_wrapper_gomod(
    module: str,
    go_version: str,
    require: dict[str, str],
    replace: list[Replace] = (),  # type: ignore[assignment]
    godebug: list[str] = (),  # type: ignore[assignment]
) -> str:
    """Text of a wrapper go.mod (deterministic order)."""
    lines = [
        "// Generated by pytest_fluxchaos.assets: a throw-away wrapper module.",
        f"module {module}",
        "",
        f"go {go_version}",
        "",
    ]
    for d in godebug:
        lines.append(f"godebug {d}")
    if godebug:
        lines.append("")
    if require:
        lines.append("require (")
        lines += [f"\t{p} {v}" for p, v in sorted(require.items())]
        lines += [")", ""]
    if replace:
        lines.append("replace (")
        lines += ["\t" + _fmt_replace(r) for r in sorted(replace, key=lambda r: r.old_path)]
        lines += [")", ""]
    return "\n".join(lines)


def render_tools_go(packages: list[str]) -> str:
    """A tools.go that pins main packages of dependencies for ``go mod tidy``."""
    imports = "\n".join(f'\t_ "{p}"' for p in packages)
    return (
        "//go:build tools\n\n"
        "// Generated by pytest_fluxchaos.assets. Keeps the programs built from\n"
        "// this wrapper module in its module graph.\n"
        "package tools\n\n"
        f"import (\n{imports}\n)\n"
    )


ETCD_MAIN_GO = """\
// Generated by pytest_fluxchaos.assets: the etcd server entry point.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
"""


def max_go_version(*versions: str | None) -> str:
    """The highest of some go-line versions ("1.24.0", "1.26")."""
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3])

    vs = [v for v in versions if v]
    return max(vs, key=key) if vs else "1.22"


def kube_version_ldflags(kubernetes_version: str, git_commit: str, build_date: str) -> list[str]:
    """The ``-X`` flags kube::version::ldflags sets, for both version packages."""
    m = _K8S_VERSION.match(kubernetes_version)
    if not m:
        raise ValueError(f"not a Kubernetes v1.x.y version: {kubernetes_version!r}")
    values = {
        "gitVersion": kubernetes_version,
        "gitMajor": "1",
        "gitMinor": m[1],
        "gitCommit": git_commit,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for k, v in values.items():
            flags.append(f"-X '{pkg}.{k}={v}'")
    return flags
