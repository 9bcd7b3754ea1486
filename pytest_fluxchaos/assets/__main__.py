"""``python -m pytest_fluxchaos.assets build|status``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from . import tools
from .build import MODES, default_cache_dir, ensure_assets
from .errors import AssetError
from .versions import DEFAULT_FLUX_VERSION, FLUX_TO_IRC


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def cmd_build_kind(args: argparse.Namespace) -> int:
    from .kind import ensure_kind

    t0 = time.monotonic()
    k = ensure_kind(args.mode, cache_dir=args.cache, progress=print)
    if args.json:
        print(json.dumps({**asdict(k), "kind_bin": str(k.kind_bin),
                          "manifest": str(k.manifest) if k.manifest else None}, indent=2))
    else:
        print(f"[assets] kind {k.kind_bin}")
        print(f"[assets] node image {k.node_image} (Kubernetes {k.kubernetes_version}, {k.source})")
        if k.manifest:
            print(f"[assets] manifest {k.manifest}")
    print(f"[assets] total {time.monotonic() - t0:.1f}s")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    if args.kind:
        return cmd_build_kind(args)
    wanted = list(args.flux_version or []) + list(args.irc_version or [])
    if not wanted:
        wanted = [DEFAULT_FLUX_VERSION]
    t0 = time.monotonic()
    results = []
    for v in wanted:
        a = ensure_assets(v, mode=args.mode, cache_dir=args.cache, progress=print)
        results.append(a)
    total = time.monotonic() - t0
    if args.json:
        print(json.dumps([{**asdict(a), "manifests_dir": str(a.manifests_dir),
                            "iac_manifests_dir": str(a.iac_manifests_dir) if a.iac_manifests_dir else None}
                           for a in results], indent=2))
    else:
        for a in results:
            print(f"[assets] {a.irc_version} (flux {a.flux_version or '?'}, {a.source}):")
            for field in ("irc_image", "iac_image", "etcd_image", "apiserver_image", "registry_image",
                          "stress_image", "git_image", "proxy_image", "manifests_dir", "iac_manifests_dir"):
                print(f"[assets]   {field:17} {getattr(a, field)}")
            cs = a.controller_set()
            if cs:
                print(f"[assets]   {'controllers':17} {cs.summary()}")
                for c in cs.controllers:
                    for sub in c.substitutions:
                        print(f"[assets]   {'substitution':17} {c.name} {c.version}: {sub['module']} "
                              f"{sub['wanted']} -> {sub['used']}")
    print(f"[assets] total {total:.1f}s")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cache = Path(args.cache).expanduser() if args.cache else default_cache_dir()
    if not (cache / "stamps").is_dir():
        print(f"[assets] nothing cached in {cache}")
        return 0
    stamps = []
    for p in sorted((cache / "stamps").glob("*.json")):
        try:
            stamps.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    images = [s for s in stamps if s.get("image")]
    present: dict[str, str] = {}
    try:
        tools.require_docker()
        present = tools.image_ids([s["image"] for s in images])
    except AssetError as exc:
        print(f"[assets] (cannot check Docker: {exc})")
    sizes: dict[str, int] = {}
    if present:
        out = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", *present],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tools.docker_env(),
        ).stdout.decode()
        for line in out.splitlines():
            i, _, s = line.partition(" ")
            if s.isdigit():
                sizes[i] = int(s)
    ready_lines = []
    print(f"[assets] cache {cache}")
    for s in images:
        ok = present.get(s["image"]) == s.get("image_id")
        size = _human(sizes.get(s.get("image_id", ""), 0)) if ok else "-"
        state = "ready" if ok else "MISSING"
        print(f"[assets]   {state:7} {s['image']:48} {size:>10}  built {s.get('built_at', '?')} "
              f"in {s.get('seconds', '?')}s ({s.get('source', '?')})")
        if ok:
            ready_lines.append(f"{s['image']} {s['image_id']} {s.get('source', '?')}")
    for s in stamps:
        if s.get("outputs"):
            for name, path in s["outputs"].items():
                exists = Path(path).exists()
                print(f"[assets]   {'binary' if exists else 'MISSING':7} {name:48} "
                      f"{_human(Path(path).stat().st_size) if exists else '-':>10}  go build {s.get('seconds', '?')}s "
                      f"(tidy {s.get('tidy_seconds', '?')}s, {s.get('go', '?')})")
                for sub in s.get("substitutions") or []:
                    print(f"[assets]   {'':7} {'':48} {'':>10}  substituted {sub['module']} "
                          f"{sub['wanted']} -> {sub['used']}")
    for d in sorted((cache / "irc").glob("*/manifest.json")) + sorted((cache / "iac").glob("*/manifest.json")):
        m = json.loads(d.read_text())
        print(f"[assets]   manifests {d.parent} ({len(m.get('files', []))} files, {m.get('method')})")
    for s in stamps:
        if s.get("kind_assets"):
            k = s["kind_assets"]
            print(f"[assets]   kind set {k['node_image']} + {Path(k['kind_bin']).name} ({k['source']}) "
                  f"recorded {s.get('recorded_at')}")
        if s.get("assets"):
            a = s["assets"]
            print(f"[assets]   set {a['irc_version']} ({a['source']}) recorded {s.get('recorded_at')}")
    print(f"[assets] cache disk usage: {_human(tools.dir_size(cache))}")
    if args.ready_file:
        Path(args.ready_file).write_text("".join(line + "\n" for line in ready_lines))
        print(f"[assets] wrote {len(ready_lines)} ready images to {args.ready_file}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_fluxchaos.assets",
                                description="Build or inspect the chaos-test container images.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build/obtain the images for one or more versions")
    b.add_argument("--flux-version", action="append",
                   help=f"a Flux release (e.g. {DEFAULT_FLUX_VERSION}; known: {min(FLUX_TO_IRC)}..{max(FLUX_TO_IRC)}) "
                        "or an IRC version; repeatable")
    b.add_argument("--irc-version", action="append", help="an image-reflector-controller version (e.g. v1.2.4); repeatable")
    b.add_argument("--mode", choices=MODES, default="auto")
    b.add_argument("--cache", type=Path, default=None, help="cache dir (default $FLUXCHAOS_CACHE or ~/.cache/fluxchaos)")
    b.add_argument("--json", action="store_true", help="print the resulting Assets as JSON")
    b.add_argument("--kind", action="store_true",
                   help="build the kind CLI and an offline kind node image instead (see docs/kind-offline.md)")
    b.set_defaults(func=cmd_build)
    s = sub.add_parser("status", help="show what is cached")
    s.add_argument("--cache", type=Path, default=None)
    s.add_argument("--ready-file", type=Path, default=None, help="also write one line per ready image to this file")
    s.set_defaults(func=cmd_status)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except AssetError as exc:
        print(f"[assets] error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[assets] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
