"""Training speed before/after, as README's Performance section reports it (issue 19).

Alternates whole `glaucli train xception` processes of the default recipe (10 + 10 epochs,
batch 32, light augmentation) in the order before, after, after, before, ... and prints one
JSON line per run (wall time, per-phase and per-epoch seconds, validation AUC, precision)
and the medians per side. "before" is another checkout of glaucli (`--before TREE`, e.g. a
`git worktree add /tmp/before c25e2a2`), run with this interpreter; without it, "before" is
this checkout with `--head-features live --cache none`. ImageNet weights need the internet;
pass a backbone weights file (e.g. saved from `keras.applications.Xception(include_top=False,
weights=None)` after one BatchNorm calibration pass, so its features are not constant).

    python tests/benchmarks/bench_train_speed.py DATA WEIGHTS [--before TREE] [--limit 80] [--pairs 2]
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

HERE = Path(__file__).resolve().parents[2]


def one_run(args, before: bool, seed: int, runs: Path) -> dict:
    tree = Path(args.before) if before and args.before else HERE
    extra = ["--head-features", "live", "--cache", "none"] if before and not args.before else []
    cmd = [sys.executable, "-m", "glaucli", "train", "xception", "--data", args.data, "--image-size", str(args.size),
           "--weights", args.weights, "--limit", str(args.limit), "--seed", str(seed), "--runs-dir", str(runs),
           "--quiet", *extra]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tree,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tree)})
    wall = time.perf_counter() - start
    run = Path(out.stdout.strip().splitlines()[-1])
    meta = json.loads((run / "meta.json").read_text())
    rows = list(csv.DictReader(open(run / "history.csv")))
    per_epoch = {p: statistics.median([float(r["seconds"]) for r in rows if r["phase"] == p] or [0])
                 for p in ("head", "finetune")}
    return {"wall_s": round(wall, 1), "precision": meta["hardware"]["precision"],
            "head_s": meta["durations_s"].get("head"), "finetune_s": meta["durations_s"].get("finetune"),
            "head_epoch_s": per_epoch["head"], "finetune_epoch_s": per_epoch["finetune"],
            "val_auc": meta["metrics"]["validation"]["auc"], "load": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("weights")
    parser.add_argument("--before", help="another glaucli checkout to run as 'before'")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.pairs):  # ABBA: drift on a shared machine hits both sides alike
            for name in (("before", "after") if seed % 2 == 0 else ("after", "before")):
                row = one_run(args, name == "before", seed, Path(tmp) / name)
                results[name].append(row)
                print(json.dumps({"side": name, "seed": seed, **row}), flush=True)
    for name, rows in results.items():
        medians = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "precision"}
        print(json.dumps({"side": name, "median_of": len(rows), "precision": rows[0]["precision"], **medians}))


if __name__ == "__main__":
    main()
