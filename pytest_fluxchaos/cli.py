"""The ``fluxchaos`` command: maintenance outside a pytest run.

``fluxchaos gc`` removes containers, networks and volumes left by crashed runs (by the
plugin's labels); ``fluxchaos assets ...`` is ``python -m pytest_fluxchaos.assets``;
``fluxchaos faults`` prints the fault table the suites, the nemesis and the docs share;
``fluxchaos explore SUITE`` runs the suite's ``explore:`` section through pytest (the same
item ``pytest -p fluxchaos SUITE`` collects), so both paths share every option.
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
    sub.add_parser("explore", help="generate, run and shrink schedules from a suite's explore: section "
                                   "(see --help)", add_help=False)
    if argv[:1] == ["explore"]:
        return explore_main(argv[1:])
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


def explore_main(argv: list[str]) -> int:
    """``fluxchaos explore SUITE [options] [-- pytest options]``: a front for pytest."""
    parser = argparse.ArgumentParser(prog="fluxchaos explore",
                                     description="Run a suite's explore: section: generate schedules, "
                                                 "run them, shrink what fails (a pytest run underneath).")
    parser.add_argument("suite", help="a suite YAML file with an explore: section")
    parser.add_argument("--seed", help="replay this exploration (printed by every run)")
    parser.add_argument("--budget", help="time budget (e.g. 45m)")
    parser.add_argument("--schedules", help="number of schedules (0: only the time budget)")
    parser.add_argument("--parallel", help="schedules at once, each in its own namespace")
    parser.add_argument("--shrink-runs", help="runs each finding's shrinking may spend (0: do not shrink)")
    parser.add_argument("--until-found", action="store_true",
                        help="stop once every expect-findings checker has a finding")
    parser.add_argument("--backend", help="kind (default) or docker")
    parser.add_argument("--artifacts", help="directory for runs, findings and exploration.json")
    parser.add_argument("-n", "--workers", help="pytest-xdist workers: each explores a slice of the seed space")
    parser.add_argument("pytest_args", nargs="*", help="more pytest options, after --")
    args = parser.parse_args(argv)
    from pathlib import Path

    if not Path(args.suite).is_file():
        print(f"fluxchaos explore: {args.suite}: no such suite file", file=sys.stderr)
        return 4
    import pytest

    options = {"seed": args.seed, "explore-budget": args.budget, "explore-schedules": args.schedules,
               "explore-parallel": args.parallel, "explore-shrink-runs": args.shrink_runs,
               "backend": args.backend, "artifacts": args.artifacts}
    command = [args.suite, "-m", "fluxchaos_explore", "-p", "fluxchaos"]
    command += [f"--fluxchaos-{name}={value}" for name, value in options.items() if value is not None]
    if args.until_found:
        command.append("--fluxchaos-explore-until-found")
    if args.workers:
        command += ["-n", args.workers]
    return int(pytest.main(command + list(args.pytest_args)))


if __name__ == "__main__":
    sys.exit(main())
