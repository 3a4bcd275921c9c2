"""The checks on real photographs: ../shared/data (see its README), never in the suite.

Prints, for the fundus check (data/fundus.py):
- false refusals per real set of gradable photographs (odir-dev all, eyeq-dev good+usable,
  eyeq-dev good), split by reason code;
- the share of real non-fundus pictures refused (scikit-image's sample pictures, minus its two
  fundus images) and of the generated ones (tests/fundus_images.py);
- the quality grade's AUC for good vs reject on eyeq-dev and the confusion at the default
  cut-off;
- the time per image;
- with --synthetic-run RUN, what a run trained on generated images does with odir-dev.
Each section is a small function; main() calls them in turn, so more can be added.

    python tests/benchmarks/bench_real_photos.py [--shared ../shared] [--size 299] [--skimage DIR]
        [--synthetic-run RUN]

Images go through the one loader at --size (what predict hands the check: padded to a
square, resized), so the figures are those of predict at that image size.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

ROOT = Path(__file__).resolve().parents[2]
SKIMAGE_FUNDUS = {"retina.jpg", "microaneurysms.png"}  # scikit-image's own fundus pictures


def find_shared(given: str | None) -> Path | None:
    for cand in ([Path(given)] if given else []) + [ROOT.parent / "shared", ROOT / ".." / "shared", Path("/work/shared")]:
        if (cand / "data").is_dir():
            return cand / "data"
    return None


def find_skimage(given: str | None) -> Path | None:
    cands = [Path(given)] if given else []
    try:
        import skimage  # noqa: F401 - only where it is installed

        cands.append(Path(skimage.__file__).parent / "data")
    except ImportError:
        pass
    cands.append(Path("/tmp/skdata/skimage/data"))
    return next((c for c in cands if (c / "astronaut.png").is_file()), None)


def check_files(paths, size: int) -> list:
    from glaucli.data.fundus import check_fundus
    from glaucli.data.images import load_image

    return [check_fundus(load_image(p, size)) for p in paths]


def reason_of(check) -> str:
    """The reason code (older checks had none: every failure counted as not a fundus)."""
    return "pass" if check.ok else (getattr(check, "reason", None) or "not_fundus")


def refusals(name: str, checks: list) -> dict:
    n = len(checks)
    codes = [reason_of(c) for c in checks]
    row = {"set": name, "n": n, "not_fundus": codes.count("not_fundus"), "poor_quality": codes.count("poor_quality")}
    row["refused"] = n - codes.count("pass")
    return row


def real_sets(data: Path) -> dict[str, list[Path]]:
    odir = sorted((data / "odir-dev" / "images").glob("*.jpg"))
    rows = list(csv.DictReader((data / "eyeq-dev" / "quality.csv").open()))
    img = data / "eyeq-dev" / "images"
    by = {g: [img / r["file"] for r in rows if r["grade"] == g] for g in ("good", "usable", "reject")}
    return {"odir-dev (all)": odir, "eyeq-dev good+usable": by["good"] + by["usable"],
            "eyeq-dev good": by["good"], "eyeq-dev reject": by["reject"]}


def section_false_refusals(sets: dict, checks: dict) -> None:
    print("\n## Fundus check: real photographs refused\n")
    print("| set | n | refused | not_fundus | poor_quality |\n|---|---|---|---|---|")
    for name in sets:
        r = refusals(name, checks[name])
        print(f"| {name} | {r['n']} | {r['refused']} ({r['refused'] / r['n']:.1%}) | "
              f"{r['not_fundus']} ({r['not_fundus'] / r['n']:.1%}) | {r['poor_quality']} |")
    for name in sets:
        bad = [(p.name, c.reasons) for p, c in zip(sets[name], checks[name]) if reason_of(c) == "not_fundus"]
        if bad and "reject" not in name:
            print(f"\n{name}, not_fundus: " + "; ".join(f"{n}: {', '.join(r)}" for n, r in bad[:12]))


def section_non_fundus(skimage: Path | None, size: int) -> None:
    import numpy as np

    from glaucli.data.fundus import check_fundus
    from tests.fundus_images import non_fundus

    print("\n## Non-fundus pictures refused\n")
    if skimage is None:
        print("scikit-image's sample pictures not found (--skimage DIR): skipped")
    else:
        paths = sorted(p for p in skimage.iterdir() if p.suffix in (".png", ".jpg") and p.name not in SKIMAGE_FUNDUS)
        checks = check_files(paths, size)
        passed = [p.name for p, c in zip(paths, checks) if c.ok]
        print(f"scikit-image pictures: {len(paths) - len(passed)} of {len(paths)} refused "
              f"({1 - len(passed) / len(paths):.1%}); passed: {', '.join(passed) or 'none'}")
        fundus = [p for p in sorted(skimage.iterdir()) if p.name in SKIMAGE_FUNDUS]
        for p, c in zip(fundus, check_files(fundus, size)):
            print(f"  (fundus) {p.name}: {reason_of(c)} {c.reasons}")
    gen = {f"{k} ({s})": v for s in (0, 1) for k, v in non_fundus(size, seed=s).items()}
    passed = [k for k, v in gen.items() if check_fundus(np.asarray(v)).ok]
    print(f"generated pictures: {len(gen) - len(passed)} of {len(gen)} refused "
          f"({1 - len(passed) / len(gen):.1%}); passed: {', '.join(passed) or 'none'}")


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a positive scores higher than a negative), ties half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / max(1, len(pos) * len(neg))


def grade_of(check) -> float:
    """The quality grade; 0 where the check refused before grading (a blank or black frame)."""
    return float(check.measures.get("quality") or 0.0)


def pick_cutoff(good: list[float], gradable: list[float]) -> float:
    """The rule behind the default: the highest cut-off (0.01 steps) that refuses at most 1 %
    of the gradable photos (good + usable: issue 27's bound for refusing gradable photos)."""
    cut = 0.0
    for step in range(1, 100):
        c = step / 100
        if sum(g < c for g in gradable) <= 0.01 * len(gradable):
            cut = c
    return cut


def section_quality(checks: dict) -> None:
    from glaucli.data import fundus

    print("\n## Quality grade on eyeq-dev (good vs reject; contrast-enhanced photos)\n")
    good, reject = checks["eyeq-dev good"], checks["eyeq-dev reject"]
    if not hasattr(fundus, "MIN_QUALITY_PROCESSED"):
        print("this fundus check has no quality grade")
        return
    g, r = [grade_of(c) for c in good], [grade_of(c) for c in reject]
    print(f"AUC good vs reject: {auc(g, r):.3f} (n = {len(g)} good, {len(r)} reject; not graded = 0)")
    u = [grade_of(c) for c in checks["eyeq-dev good+usable"]]
    print(f"highest cut-off refusing <= 1 % of good+usable: {pick_cutoff(g, u):.2f} "
          f"(default for colour-processed photos: {fundus.MIN_QUALITY_PROCESSED}, natural colour: {fundus.MIN_QUALITY})")
    print("\n| cut-off | good refused | good+usable refused | reject caught |\n|---|---|---|---|")
    for cut in (0.18, 0.20, 0.22, 0.24, 0.26, 0.28, 0.30):
        share = lambda xs: sum(x < cut for x in xs) / len(xs)  # noqa: E731
        print(f"| {cut:.2f} | {share(g):.1%} | {share(u):.1%} | {share(r):.1%} |")
    print("\nat the default cut-off (rows: EyeQ grade; columns: the check's answer)\n")
    print("| grade | n | pass | poor_quality | not_fundus |\n|---|---|---|---|---|")
    usable = checks["eyeq-dev good+usable"][len(good):]
    for name, cs in (("good", good), ("usable", usable), ("reject", reject)):
        codes = [reason_of(c) for c in cs]
        print(f"| {name} | {len(cs)} | {codes.count('pass')} | {codes.count('poor_quality')} | {codes.count('not_fundus')} |")


def section_natural_cutoff(checks: dict, size: int) -> None:
    """No graded natural-colour set here: the natural cut-off sits between what must pass
    (odir-dev, the generated fundus images) and the CC0 retina blurred by 3 % of its width."""
    import numpy as np

    from glaucli.data import fundus
    from tests.fundus_images import fundus_variants, retina_ungradable

    print(f"\n## Quality cut-off for natural colour ({fundus.MIN_QUALITY})\n")
    odir = sorted(grade_of(c) for c in checks["odir-dev (all)"] if not c.measures.get("colour_processed"))
    gen = [grade_of(fundus.check_fundus(np.asarray(v))) for s in (0, 1, 2) for v in fundus_variants(size, s).values()]
    blurred = {k: grade_of(fundus.check_fundus(v)) for k, v in retina_ungradable(size).items() if k.startswith("blurred (")}
    print(f"odir-dev in natural colour (n = {len(odir)}): lowest {odir[0]:.3f}, 1st percentile "
          f"{odir[len(odir) // 100]:.3f}, median {odir[len(odir) // 2]:.3f}")
    print(f"generated fundus images (n = {len(gen)}): lowest {min(gen):.3f}")
    print("CC0 retina " + ", ".join(f"{k}: {v:.3f}" for k, v in blurred.items()))


def section_speed(paths: list[Path], size: int) -> None:
    from glaucli.data.fundus import check_fundus
    from glaucli.data.images import load_image

    images = [load_image(p, size) for p in paths[:100]]
    start = time.perf_counter()
    for im in images:
        check_fundus(im)
    per = (time.perf_counter() - start) / len(images)
    print(f"\n## Speed\n\ncheck_fundus: {per * 1000:.2f} ms per {size} px image (mean of {len(images)})")


def section_synthetic_run(data: Path, run_arg: str | None) -> None:
    """A run trained on `glaucli sample` images (`glaucli demo` makes one) on odir-dev: what it
    withholds and why, and whether every verdict it gives says it comes from a synthetic model."""
    if not run_arg:
        print("\n## A synthetic run on real photographs\n\nskipped: give --synthetic-run RUN (e.g. glaucli demo's)")
        return
    from collections import Counter

    from glaucli.contract import SYNTHETIC_MARK
    from glaucli.engine.predict import predict
    from glaucli.runs import resolve_run

    labels = {row["file"]: int(row["label"]) for row in csv.DictReader(open(data / "odir-dev" / "labels.csv"))}
    paths = sorted((data / "odir-dev" / "images").glob("*.jpg"))
    answers = list(predict(paths, resolve_run(run_arg, Path("."))))
    withheld = Counter(a.ood["reason"] for a in answers if a.label is None)
    given = [a for a in answers if a.label is not None]
    marked = sum(a.verdict.endswith(SYNTHETIC_MARK) for a in given)
    glaucoma = sum(labels[a.path.name] for a in given)
    print(f"\n## A synthetic run on real photographs ({run_arg})\n")
    print(f"odir-dev: {len(given)} of {len(answers)} given a verdict ({glaucoma} of them glaucoma eyes), "
          f"{marked} of those {len(given)} verdicts marked as a synthetic model's; withheld: {dict(withheld)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", help="the shared folder (default: ../shared next to the repository)")
    parser.add_argument("--skimage", help="scikit-image's data folder (astronaut.png, retina.jpg, ...)")
    parser.add_argument("--size", type=int, default=299, help="the loader's image size (default 299)")
    parser.add_argument("--synthetic-run", help="a run trained on glaucli sample images, e.g. glaucli demo's")
    args = parser.parse_args()
    data = find_shared(args.shared)
    if data is None:
        print("skipped: ../shared/data not found (real development photographs; see DESIGN.md)")
        return
    sets = real_sets(data)
    checks = {name: check_files(paths, args.size) for name, paths in sets.items()}
    print(f"# Real photographs, loader size {args.size} px")
    section_false_refusals({k: v for k, v in sets.items() if "reject" not in k}, checks)
    section_non_fundus(find_skimage(args.skimage), args.size)
    section_quality(checks)
    section_natural_cutoff(checks, args.size)
    section_speed(sets["odir-dev (all)"], args.size)
    section_synthetic_run(data, args.synthetic_run)


if __name__ == "__main__":
    main()
