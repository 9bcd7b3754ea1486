"""The ``fluxchaos`` command: maintenance outside a pytest run.

``fluxchaos gc`` removes containers, networks and volumes left by crashed runs (by the
plugin's labels); ``fluxchaos assets ...`` is ``python -m pytest_fluxchaos.assets``;
``fluxchaos faults`` prints the fault table the suites, the nemesis and the docs share.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="fluxchaos", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gc_parser = sub.add_parser("gc", help="remove everything the plugin left behind")
    gc_parser.add_argument("--run", help="only this run id (default: every run)")
    sub.add_parser("faults", help="list the fault kinds: how each is injected and confirmed")
    sub.add_parser("assets", help="build or inspect the asset cache (see --help)",
                   add_help=False)
    sub.add_parser("report", help="render the HTML report of an artifacts directory (see --help)",
                   add_help=False)
    if argv[:1] == ["report"]:
        from .htmlreport.__main__ import main as report_main
        return report_main(argv[1:], prog="fluxchaos report")
    if argv[:1] == ["assets"]:
        from .assets.__main__ import main as assets_main
        return assets_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "faults":
        from .faults import FAULTS
        for fault in FAULTS.values():
            extras = [w for w, on in (("duration", fault.needs_duration), ("keep-down", fault.keeps_down)) if on]
            print(f"{fault.name}  (targets: {', '.join(sorted(fault.targets))}"
                  + (f"; {', '.join(extras)}" if extras else "") + ")")
            print(f"    how: {fault.how}")
            print(f"    confirmed by: {fault.confirmed_by}")
        return 0
    if args.command == "gc":
        from .domain import BackendError
        from .backends.docker.cleanup import gc
        try:
            removed = gc(all_runs=args.run is None, run_id=args.run)
        except BackendError as exc:
            print(f"fluxchaos gc: {exc}", file=sys.stderr)
            return 2
        for kind, names in removed.items():
            for name in names:
                print(f"removed {kind[:-1] if kind.endswith('s') else kind} {name}")
        print(f"fluxchaos gc: {sum(len(v) for v in removed.values())} objects removed")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
