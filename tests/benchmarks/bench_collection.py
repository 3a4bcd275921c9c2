"""Scale of the collection readers: a 100k-entry collection over a few hundred real files.

Builds N symbolic links (distinct names, so no row is a duplicate) to R real sample
images, then times, alternating rounds and reporting medians:
  - a 100k-row manifest CSV (path,label,split, paths relative to the CSV) read by resolve();
  - an AIROGS-style flat folder + CSV of names without extension (the folder is indexed once);
  - the same links as a folder tree (train/validation/test x NRG/RG) walked by resolve();
  - the tf.data pipeline over all entries: time to the first batch (it streams, so this
    does not grow with N).
Times include the fingerprint (one stat per entry). Memory: tracemalloc's peak of Python
allocations while resolving, per entry, in a separate pass.

    python tests/benchmarks/bench_collection.py [--entries 100000] [--real 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path


def build(tmp: Path, entries: int, real: int) -> dict[str, Path]:
    from glaucli.data.sample import write_sample

    src = tmp / "real"
    write_sample(src, per_class=max(2, real // 2 - 2), size=64, seed=0)
    files = [(p, 1 if p.parent.name == "RG" else 0) for p in sorted(src.rglob("*.jpg"))]
    flat, tree = tmp / "flat", tmp / "tree"
    flat.mkdir()
    splits = ["train"] * 8 + ["validation", "test"]
    with open(tmp / "manifest.csv", "w", newline="") as man, open(tmp / "labels.csv", "w", newline="") as lab:
        mw, lw = csv.writer(man), csv.writer(lab)
        mw.writerow(["path", "label", "split"])
        lw.writerow(["challenge_id", "class"])
        for i in range(entries):
            target, label = files[i % len(files)]
            name = f"IMG{i:06d}"
            split, cls = splits[i % 10], ("NRG", "RG")[label]
            os.symlink(target, flat / f"{name}.jpg")
            folder = tree / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            os.symlink(target, folder / f"{name}.jpg")
            mw.writerow([f"flat/{name}.jpg", cls, split])
            lw.writerow([name, cls])
    return {"manifest": tmp / "manifest.csv", "labels": tmp / "labels.csv", "flat": flat, "tree": tree}


def measure(spec) -> tuple[float, int]:
    from glaucli.data.collection import resolve

    start = time.perf_counter()
    found = resolve(spec)
    found.fingerprint()  # what train records in meta.json: one stat per entry
    return time.perf_counter() - start, len(found.entries)


def peak_memory(spec) -> int:
    """Python allocations while resolving (a separate pass: tracing slows everything)."""
    from glaucli.data.collection import resolve

    tracemalloc.start()
    resolve(spec).fingerprint()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def first_batch(spec) -> float:
    from glaucli.data.collection import ALL, resolve
    from glaucli.data.pipeline import make_dataset
    from glaucli.tf import tensorflow

    tensorflow()  # the import is not the pipeline's cost
    pairs = resolve(spec).files(ALL)
    start = time.perf_counter()
    ds = make_dataset(pairs, 64, 32)
    next(iter(ds))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipeline-only", action="store_true", help="Only the tf.data first-batch time.")
    args = parser.parse_args()
    from glaucli.data.collection import DataSpec

    with tempfile.TemporaryDirectory(prefix="glaucli-scale-") as tmp:
        start = time.perf_counter()
        paths = build(Path(tmp), args.entries, args.real)
        print(f"built {args.entries} links over {args.real} real files in {time.perf_counter() - start:.1f} s")
        cases = {"manifest CSV (path,label,split)": DataSpec(paths["manifest"]),
                 "flat folder + CSV, names without extension": DataSpec(paths["flat"], labels=paths["labels"]),
                 "folder tree (splits x classes)": DataSpec(paths["tree"])}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(0 if args.pipeline_only else args.rounds):  # alternate the cases round by round
            for name, spec in cases.items():
                seconds, n = measure(spec)
                assert n == args.entries, (name, n)
                times[name].append(seconds)
        manifest = cases["manifest CSV (path,label,split)"]
        if args.pipeline_only:
            cases = {}
        peaks = {name: peak_memory(spec) for name, spec in cases.items()}
        print("| reading | median s | rounds | peak Python memory | per entry |")
        print("|---|---|---|---|---|")
        for name in cases:
            print(f"| {name} | {statistics.median(times[name]):.2f} | "
                  f"{', '.join(f'{t:.2f}' for t in times[name])} | {peaks[name] / 2**20:.0f} MiB | "
                  f"{peaks[name] / args.entries:.0f} B |")
        print(f"tf.data pipeline over all {args.entries} entries, first batch of 32: "
              f"{first_batch(manifest):.2f} s")


if __name__ == "__main__":
    main()
