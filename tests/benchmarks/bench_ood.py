"""What the fundus and distribution checks add to predict, and how well they separate.

Trains a tiny basic-cnn on the sample set (or takes --run RUN with its dataset), then:
- predict throughput over a folder with and without the checks (the same in-process
  `score_paths` the CLI uses), alternated rounds, medians;
- the fundus check's own time per image;
- the false-flag rate on unseen in-distribution images (fresh sample images and the
  test split) and the share of generated non-fundus pictures flagged.

    python tests/benchmarks/bench_ood.py [--run RUN] [--size 96] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fundus_images import FUNDUS_LOOKALIKES, non_fundus, write


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", help="an existing run (default: train a tiny one)")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from glaucli.data.fundus import check_fundus
    from glaucli.data.images import load_image
    from glaucli.data.layout import Dataset, find_tree
    from glaucli.data.sample import write_sample
    from glaucli.engine.ood import Guard
    from glaucli.engine.scoring import load_model, score_paths
    from glaucli.engine.training import TrainConfig, train
    from glaucli.runs import resolve_run

    tmp = Path(tempfile.mkdtemp(prefix="bench-ood-"))
    if args.run:
        run = resolve_run(args.run, tmp)
    else:
        data = tmp / "sample"
        write_sample(data, per_class=100, size=128, seed=3)
        result = train(TrainConfig(backbone="basic-cnn", data=data, image_size=args.size, epochs=12,
                                   batch_size=16, seed=0, runs_dir=tmp / "runs"))
        run = resolve_run(str(result.run), tmp)
    model = load_model(run.model_path)
    guard = Guard(model, run)
    dataset = Dataset(find_tree(Path(run.meta["data"]["path"])))
    test = [p for p, _ in dataset.require("test")]
    fresh = tmp / "fresh"
    write_sample(fresh, per_class=250, size=128, seed=99)
    unseen = sorted((fresh / "train").rglob("*.jpg"))
    folder = (unseen * 2)[:400]

    def throughput(with_guard: bool) -> float:
        start = time.perf_counter()
        n = sum(1 for _ in score_paths(model, folder, 32, guard=guard if with_guard else None))
        return n / (time.perf_counter() - start)

    throughput(True), throughput(False)  # warm-up: tracing, file cache
    plain, checked = [], []
    for _ in range(args.rounds):
        plain.append(throughput(False))
        checked.append(throughput(True))
    image = load_image(unseen[0], int(model.inputs[0].shape[1]))
    start = time.perf_counter()
    for _ in range(200):
        check_fundus(image)
    fundus_ms = (time.perf_counter() - start) / 200 * 1000

    def flagged(paths) -> list[bool]:
        return [s.ood["flag"] for s in score_paths(model, paths, 32, guard=guard)]

    strangers = write(non_fundus(128, 0), tmp / "strangers") + write(non_fundus(128, 1), tmp / "strangers2", "b")
    lookalikes = [p for p in strangers if any(n.replace(" ", "_") in p.name for n in FUNDUS_LOOKALIKES)]
    in_dist = flagged(unseen + test)
    print(f"run: {run.path} ({run.meta.get('backbone')}, {model.inputs[0].shape[1]} px), cut-off {guard.cutoff:.4g}")
    print(f"predict, {len(folder)} images, medians of {args.rounds} alternated rounds: "
          f"{statistics.median(plain):.0f} img/s without the checks, {statistics.median(checked):.0f} img/s with "
          f"({statistics.median(plain) / statistics.median(checked):.2f}x the time)")
    print(f"fundus check alone: {fundus_ms:.2f} ms per image")
    print(f"in-distribution flagged: {sum(in_dist)} of {len(in_dist)} ({sum(in_dist) / len(in_dist):.1%}; "
          f"{len(unseen)} unseen sample images + the {len(test)}-image test split)")
    out = flagged(strangers)
    print(f"non-fundus flagged: {sum(out)} of {len(out)} ({sum(out) / len(out):.0%}); the fundus look-alikes "
          f"({len(lookalikes)}) by the distribution check: {sum(flagged(lookalikes))}")


if __name__ == "__main__":
    main()
