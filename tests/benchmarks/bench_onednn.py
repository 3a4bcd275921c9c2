"""oneDNN on against off on this CPU: training and inference speed, and whether results agree
(issue 35). README's Performance section quotes it with the CPU it ran on.

Alternates whole processes with TF_ENABLE_ONEDNN_OPTS=0 and =1 (off, on, on, off, ...). Each
builds Xception at 160 px (ImageNet weights from a file when given, else random), makes the
top 40 layers trainable (BatchNorm frozen, as glaucli fine-tunes), times `train_on_batch` and
`predict` on batches of 32 after a warm-up, and saves its predictions and its weights after
training on fixed inputs. The parent prints one JSON line per process, the medians per side
and the largest difference between the two sides' predictions and trained weights.

    python tests/benchmarks/bench_onednn.py [--weights FILE] [--pairs 2] [--steps 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, sys, time
import numpy as np
import keras
from tensorflow.python.util import _pywrap_util_port as port

weights, steps, out = sys.argv[1] or None, int(sys.argv[2]), sys.argv[3]
keras.utils.set_random_seed(0)
base = keras.applications.Xception(include_top=False, weights=None, input_shape=(160, 160, 3), pooling="avg")
if weights:
    base.load_weights(weights)
for layer in base.layers[:-40]:
    layer.trainable = False
for layer in base.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.trainable = False
model = keras.Sequential([base, keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(1e-4), "binary_crossentropy")
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (32, 160, 160, 3)).astype("float32")
y = (rng.uniform(size=(32, 1)) > 0.5).astype("float32")
model.predict(x, verbose=0)
before = model.predict(x, verbose=0)
model.train_on_batch(x, y)  # warm-up: tracing, first allocation
start = time.perf_counter()
for _ in range(steps):
    model.train_on_batch(x, y)
train = steps * 32 / (time.perf_counter() - start)
start = time.perf_counter()
for _ in range(steps):
    model.predict_on_batch(x)
predict = steps * 32 / (time.perf_counter() - start)
np.save(out + "-before.npy", before)
np.save(out + "-after.npy", model.predict(x, verbose=0))
print(json.dumps({"onednn": bool(port.IsMklEnabled()), "train_img_s": round(train, 2),
                  "predict_img_s": round(predict, 2)}))
"""


def cpu() -> dict:
    from glaucli.tf import ONEDNN_DEFAULT_FLAGS, cpu_flags

    name = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                platform.processor())
    flags = cpu_flags()
    shown = sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ONEDNN_DEFAULT_FLAGS or f == "avx2")
    return {"cpu": name, "cores": os.cpu_count(), "flags": shown}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default="")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(cpu()))
    order = [s for i in range(args.pairs) for s in (("0", "1") if i % 2 == 0 else ("1", "0"))]
    rows: dict[str, list[dict]] = {"0": [], "1": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, setting in enumerate(order):
            out = f"{tmp}/{setting}-{i}"
            env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3"}
            done = subprocess.run([sys.executable, "-c", CHILD, args.weights, str(args.steps), out],
                                  capture_output=True, text=True, env=env, check=True)
            row = {"TF_ENABLE_ONEDNN_OPTS": setting, **json.loads(done.stdout.splitlines()[-1]),
                   "load": round(os.getloadavg()[0], 2)}
            rows[setting].append({**row, "out": out})
            print(json.dumps(row), flush=True)
        import numpy as np

        off, on = rows["0"][0]["out"], rows["1"][0]["out"]
        for stage in ("before", "after"):
            a, b = np.load(f"{off}-{stage}.npy"), np.load(f"{on}-{stage}.npy")
            print(json.dumps({"predictions": f"{stage} training", "max_abs_diff_off_vs_on": float(np.abs(a - b).max())}))
    for setting, side in rows.items():
        print(json.dumps({"TF_ENABLE_ONEDNN_OPTS": setting,
                          "median_train_img_s": statistics.median(r["train_img_s"] for r in side),
                          "median_predict_img_s": statistics.median(r["predict_img_s"] for r in side)}))


if __name__ == "__main__":
    main()
