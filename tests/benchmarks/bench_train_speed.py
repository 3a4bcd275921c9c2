"""Training speed before/after issue 19, as README's Performance section reports it.

Alternates whole `glaucli train` processes of the default xception recipe: "before" is the
old path (`--head-features live --cache none --mixed-precision off`), "after" the defaults
(cached head features, decoded-image cache, bfloat16 where the CPU has it). Prints one JSON
line per run (wall time, seconds per head/fine-tuning epoch, validation AUC, precision) and
the medians per variant. ImageNet weights need the internet; pass a backbone weights file
(e.g. saved from `keras.applications.Xception(include_top=False, weights=None)`).

    python tests/benchmarks/bench_train_speed.py DATA WEIGHTS [--size 224] [--limit 120]
        [--epochs 4] [--finetune-epochs 1] [--pairs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"before": ["--head-features", "live", "--cache", "none", "--mixed-precision", "off"], "after": []}


def one_run(args, extra: list[str], seed: int, runs: Path) -> dict:
    cmd = [sys.executable, "-m", "glaucli", "train", "xception", "--data", args.data, "--image-size", str(args.size),
           "--weights", args.weights, "--limit", str(args.limit), "--epochs", str(args.epochs),
           "--finetune-epochs", str(args.finetune_epochs), "--batch-size", "16", "--seed", str(seed),
           "--runs-dir", str(runs), "--quiet", *extra]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    wall = time.perf_counter() - start
    run = Path(out.stdout.strip())
    meta = json.loads((run / "meta.json").read_text())
    rows = list(csv.DictReader(open(run / "history.csv")))
    epochs = {phase: sum(r["phase"] == phase for r in rows) for phase in ("head", "finetune")}
    return {"wall_s": round(wall, 1), "precision": meta["hardware"]["precision"],
            # the head phase's total (feature extraction included) per head epoch
            "head_s_per_epoch": round(meta["durations_s"].get("head", 0) / max(1, epochs["head"]), 1),
            "finetune_s_per_epoch": round(meta["durations_s"].get("finetune", 0) / max(1, epochs["finetune"]), 1),
            "val_auc": meta["metrics"]["validation"]["auc"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("weights")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.pairs):  # alternated: drift on a shared machine hits both sides
            for name, extra in VARIANTS.items():
                row = one_run(args, extra, seed, Path(tmp) / "runs")
                results[name].append(row)
                print(json.dumps({"variant": name, "seed": seed, **row}), flush=True)
    for name, rows in results.items():
        medians = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "precision"}
        print(json.dumps({"variant": name, "median_of": len(rows), "precision": rows[0]["precision"], **medians}))


if __name__ == "__main__":
    main()
