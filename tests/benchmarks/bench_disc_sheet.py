"""Contact sheet of the optic disc locator on real photographs, to check by eye (issue 28).

Draws N odir-dev photos (a fixed random draw) with the located disc circled (green:
confidence >= 0.2, blue: below) and its confidence, writes a PNG and prints the time per
photo. Count by eye how many circles sit on the disc; README says how many were looked at.

    python tests/benchmarks/bench_disc_sheet.py [--n 48] [--start 0] [--out /tmp/disc-sheet.png]

Needs ../shared/data/odir-dev (skips with a reason without it).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "odir-dev"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/odir-dev")
TILE, COLUMNS = 160, 8


def main(argv=None) -> int:
    from PIL import Image, ImageDraw

    from glaucli.data.disc import locate_disc
    from glaucli.data.images import load_image

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="/tmp/disc-sheet.png")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: needs {DATA}", file=sys.stderr)
        return 0
    with open(DATA / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    order = np.random.default_rng(args.seed).permutation(len(rows))[args.start:args.start + args.n]
    sheet = Image.new("RGB", (COLUMNS * TILE, -(-len(order) // COLUMNS) * TILE))
    draw, times = ImageDraw.Draw(sheet), []
    locate_disc(np.zeros((64, 64, 3), np.uint8))  # warm-up: scipy's first import is not timed
    for k, i in enumerate(order):
        image = load_image(DATA / "images" / rows[i]["file"])
        t0 = time.perf_counter()
        disc = locate_disc(image)
        times.append(time.perf_counter() - t0)
        s = TILE / max(image.shape[:2])
        ox, oy = (k % COLUMNS) * TILE, (k // COLUMNS) * TILE
        sheet.paste(Image.fromarray(image).resize((round(image.shape[1] * s), round(image.shape[0] * s))), (ox, oy))
        x, y, r = disc.x * s + ox, disc.y * s + oy, disc.radius * s
        colour = (0, 255, 0) if disc.confidence >= 0.2 else (0, 160, 255)
        draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=2)
        draw.text((ox + 3, oy + 3), f"{k} {disc.confidence:.2f}", fill=(255, 255, 255))
    sheet.save(args.out)
    print(f"{args.out}: {len(order)} photos, locate_disc median {1000 * np.median(times):.0f} ms "
          f"(max {1000 * max(times):.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
