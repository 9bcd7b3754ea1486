"""Render the timeline figures of a fluxchaos ``report.html`` to PNG files (cairosvg).

The report embeds each figure as inline SVG; this writes them out one by one, e.g. to
check a report by eye or to refresh the README picture::

    pip install cairosvg
    python scripts/report_png.py out/report.html --out /tmp/figures [--item ha-emptydir] [--width 1800]

Prints the PNG paths, one per figure: ``<item anchor>-<n>.png``. ``--item`` keeps the
figures of the items whose anchor contains the text.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def figures(html: str) -> list[tuple[str, str]]:
    """(item anchor, svg) per figure, in page order."""
    out = []
    sections = re.split(r'(?=<section class="[^"]*" id=")', html)
    for section in sections:
        m = re.match(r'<section class="[^"]*" id="([^"]+)"', section)
        if not m:
            continue
        out += [(m.group(1), svg) for svg in re.findall(r"<svg\b.*?</svg>", section, re.S)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--item", default="", help="only items whose anchor contains this")
    parser.add_argument("--width", type=int, default=1800, help="PNG width in pixels")
    args = parser.parse_args(argv)
    try:
        import cairosvg
    except ImportError:
        print("needs cairosvg: pip install cairosvg", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    count: dict[str, int] = {}
    for anchor, svg in figures(args.report.read_text(encoding="utf-8")):
        if args.item not in anchor:
            continue
        count[anchor] = count.get(anchor, 0) + 1
        path = args.out / f"{anchor}-{count[anchor]}.png"
        cairosvg.svg2png(bytestring=svg.encode(), write_to=str(path), output_width=args.width,
                         background_color="white")
        print(path)
    if not count:
        print("no figure found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
