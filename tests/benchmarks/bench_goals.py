"""Measures glaucli's performance goals on this machine and prints a markdown table.

Goals (issue: demo and bench): --help <= 3x `import typer, rich`; pipeline-fed training
>= 0.95x in-memory; glaucli's fine-tuning loop >= 0.95x a bare Keras fit (issue 19); one-image predict <= 1.1x a bare load-and-predict script; folder
throughput >= 0.9x model.predict on preloaded arrays; training peak memory within 10 %
when the dataset grows 10x.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
GLAUCLI = [PY, "-m", "glaucli"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def timed(cmd: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rows = []
    help_s = timed(GLAUCLI + ["--help"])
    base_s = timed([PY, "-c", "import typer, rich"])
    rows.append(("`glaucli --help` / `import typer, rich`", f"{help_s:.3f} s / {base_s:.3f} s", help_s / base_s, "<= 3"))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(GLAUCLI + ["sample", str(tmp / "small"), "--per-class", "40", "--size", "128", "-q"], check=True, env=ENV)
        subprocess.run(GLAUCLI + ["sample", str(tmp / "large"), "--per-class", "400", "--size", "128", "-q"], check=True, env=ENV)
        run = subprocess.run(GLAUCLI + ["train", "basic-cnn", "--data", str(tmp / "small"), "--runs-dir", str(tmp / "runs"),
                                        "--epochs", "2", "-q"], check=True, capture_output=True, text=True, env=ENV).stdout.strip()
        image = str(sorted((tmp / "small" / "test" / "RG").glob("*.jpg"))[0])
        bare = (f"import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'\nimport keras, numpy as np\nfrom PIL import Image\n"
                f"m = keras.saving.load_model('{run}/best.keras', safe_mode=True)\n"
                f"x = np.asarray(Image.open('{image}').convert('RGB').resize((128, 128)), dtype='float32')[None]\n"
                f"print(float(m.predict(x, verbose=0)[0, 0]))")
        predict_s = timed(GLAUCLI + ["predict", image, "--model", run, "--json"], repeat=3)
        bare_s = timed([PY, "-c", bare], repeat=3)
        rows.append(("one-image `glaucli predict` / bare script", f"{predict_s:.2f} s / {bare_s:.2f} s", predict_s / bare_s, "<= 1.1"))

        folder = (f"import time, numpy as np\nfrom pathlib import Path\n"
                  f"from glaucli.engine.scoring import load_model, score_paths\nfrom glaucli.data.images import load_image\n"
                  f"m = load_model(Path('{run}') / 'best.keras')\npaths = sorted(Path('{tmp}/large/train').rglob('*.jpg'))\n"
                  f"list(score_paths(m, paths[:64]))\nt = time.perf_counter(); list(score_paths(m, paths)); a = time.perf_counter() - t\n"
                  f"x = np.stack([load_image(p, 128) for p in paths]).astype('float32'); m.predict(x[:64], verbose=0)\n"
                  f"t = time.perf_counter(); m.predict(x, batch_size=32, verbose=0); b = time.perf_counter() - t\n"
                  f"print(len(paths) / a, len(paths) / b)")
        out = subprocess.run([PY, "-c", folder], check=True, capture_output=True, text=True, env=ENV).stdout.split()
        ours, ref = float(out[-2]), float(out[-1])
        rows.append(("folder predict img/s / `model.predict` on arrays", f"{ours:.0f} / {ref:.0f}", ours / ref, ">= 0.9"))

        bench = json.loads(subprocess.run(GLAUCLI + ["bench", "basic-cnn", "--image-size", "128", "--steps", "24", "--json", "-q"],
                                          check=True, capture_output=True, text=True, env=ENV).stdout)["results"][0]
        rows.append(("training img/s pipeline / in-memory (basic-cnn 128 px)",
                     f"{bench['train_pipeline_img_s']} / {bench['train_memory_img_s']}", bench["pipeline_to_memory_ratio"], ">= 0.95"))
        rows.append(("fine-tuning img/s glaucli loop / bare Keras fit (basic-cnn 128 px)",
                     f"{bench['finetune_glaucli_img_s']} / {bench['finetune_keras_img_s']}", bench["finetune_ratio"], ">= 0.95"))
        for fmt in ("tflite", "onnx"):
            if bench.get(f"{fmt}_img_s"):
                rows.append((f"inference img/s {fmt} / Keras (basic-cnn 128 px)",
                             f"{bench[f'{fmt}_img_s']} / {bench['inference_img_s']}",
                             bench[f"{fmt}_img_s"] / bench["inference_img_s"], "-"))

        peak = {}
        for size in ("small", "large"):
            code = (f"import resource\nfrom glaucli.engine.training import TrainConfig, train\n"
                    f"train(TrainConfig(backbone='basic-cnn', data='{tmp}/{size}', runs_dir='{tmp}/runs-{size}', epochs=1))\n"
                    f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
            peak[size] = float(subprocess.run([PY, "-c", code], check=True, capture_output=True, text=True, env=ENV).stdout.split()[-1])
        rows.append(("training peak RSS, 10x the data", f"{peak['small']:.0f} MB -> {peak['large']:.0f} MB",
                     peak["large"] / peak["small"], "<= 1.10"))

    print("| measure | values | ratio | goal |\n|---|---|---|---|")
    for name, values, ratio, goal in rows:
        print(f"| {name} | {values} | {ratio:.2f} | {goal} |")


if __name__ == "__main__":
    main()
