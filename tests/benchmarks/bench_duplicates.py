"""Near-duplicates on real photographs: false flags and recall.

- False flags: `glaucli data --verify`'s near-duplicate search (the same DuplicateFinder) over
  every image of ../shared/data/odir-dev and eyeq-dev, which hold no known copies: groups and
  images flagged, and the share of the set (goal: at most 0.5 %).
- Recall: generated copies (tests/copies.py: re-encoded, resized, slightly cropped, brightness
  or contrast shifted) of --originals real photos (odir-dev's and the CC0 fixture
  tests/fixtures/retina.jpg), each hidden among the whole set: the share found in the
  original's group.
Skips with a message when ../shared/data is missing (a fresh clone has none).

    python tests/benchmarks/bench_duplicates.py [--originals 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def finder_over(files, extra=()):
    from glaucli.data.duplicates import DuplicateFinder, thumbnail
    from glaucli.data.images import load_image
    from glaucli.safety import file_sha256

    finder = DuplicateFinder()
    for path in files:
        finder.add(path, "all", file_sha256(path), thumbnail(load_image(path)))
    for name, pixels in extra:
        finder.add(Path(name), "all", name, thumbnail(pixels))
    return finder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--originals", type=int, default=20, help="real photos to copy for the recall figure")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is missing (real development sets; see DESIGN.md)")
        return
    import numpy as np

    from glaucli.data.images import load_image
    from tests.copies import copies

    print("| set | images | near groups | images flagged | share | seconds |")
    print("|---|---|---|---|---|---|")
    odir = sorted((SHARED / "odir-dev" / "images").iterdir())
    for name in ("odir-dev", "eyeq-dev"):
        files = sorted((SHARED / name / "images").iterdir())
        start = time.perf_counter()
        groups = finder_over(files).near_groups()
        flagged = sum(len(g) for g in groups)
        print(f"| {name} | {len(files)} | {len(groups)} | {flagged} | {flagged / len(files):.1%} | "
              f"{time.perf_counter() - start:.0f} |")
        for group in groups:
            print("|  | " + " = ".join(Path(p).name for p, _ in group) + " | | | | |")

    rng = np.random.default_rng(0)
    originals = [odir[i] for i in rng.choice(len(odir), args.originals, replace=False)]
    originals.append(ROOT / "tests" / "fixtures" / "retina.jpg")
    found, total, missed = {}, {}, []
    start = time.perf_counter()
    for original in originals:
        made = copies(load_image(original))
        groups = finder_over(odir + ([original] if original not in odir else []),
                             [(f"copy:{kind}", pixels) for kind, pixels in made.items()]).near_groups()
        group = next((g for g in groups if str(original) in {p for p, _ in g}), [])
        members = {p for p, _ in group}
        for kind in made:
            total[kind] = total.get(kind, 0) + 1
            hit = f"copy:{kind}" in members
            found[kind] = found.get(kind, 0) + hit
            if not hit:
                missed.append(f"{original.name} {kind}")
    print(f"\nRecall on generated copies of {len(originals)} real photos, each among the "
          f"{len(odir)} odir-dev photos ({time.perf_counter() - start:.0f} s):\n")
    print("| copy | found |")
    print("|---|---|")
    for kind in total:
        print(f"| {kind} | {found[kind]}/{total[kind]} |")
    print(f"| all | {sum(found.values())}/{sum(total.values())} ({sum(found.values()) / sum(total.values()):.1%}) |")
    if missed:
        print("\nmissed: " + "; ".join(missed))


if __name__ == "__main__":
    main()
