"""``python -m pytest_fluxchaos.htmlreport ARTIFACTS_DIR [-o report.html] [--item DIR ...]``

Prints the path of the report written; also the engine of ``fluxchaos report`` and of
the report a pytest session writes at its end (run in a child process there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser(prog: str = "python -m pytest_fluxchaos.htmlreport") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Render the self-contained HTML report of a fluxchaos run "
                               "from its artifacts directory (every */verdict.json below it).")
    parser.add_argument("artifacts", type=Path, help="artifacts directory (--fluxchaos-artifacts)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output file (default: ARTIFACTS/report.html)")
    parser.add_argument("--item", type=Path, action="append", default=None, metavar="DIR",
                        help="only this item directory (repeatable; default: every "
                             "*/verdict.json under ARTIFACTS)")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m pytest_fluxchaos.htmlreport") -> int:
    """Exit status 0 (path printed), 2 (no such directory, matplotlib missing)."""
    args = build_parser(prog).parse_args(argv)
    from . import render_report

    try:
        out = render_report(args.artifacts, args.output, only=args.item)
    except FileNotFoundError as exc:
        print(f"fluxchaos report: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # matplotlib missing
        print(f"fluxchaos report: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
