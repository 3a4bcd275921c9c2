"""glaucli demo and glaucli bench, end to end on tiny settings."""

from __future__ import annotations

import json

from glaucli.runs import read_meta


def test_demo_runs_every_step_and_reruns(cli, tmp_path):
    target = tmp_path / "demo"
    result = cli("demo", "--dir", target, "--epochs", "2")
    for text in ("Confusion matrix", "Prediction", "Where everything is", "glaucli download"):
        assert text in result.stdout, text
    assert (target / "runs" / "train" / "basic-cnn" / "eval" / "test" / "metrics.json").is_file()
    assert len(list((target / "gradcam").glob("*_gradcam.png"))) == 1
    assert len(list((target / "gradcam").glob("*_heatmap.png"))) == 1
    page = target / "runs" / "train" / "basic-cnn" / "report.html"
    assert page.is_file() and "report: open it in a browser" in result.stdout
    assert "synthetic data" in page.read_text()  # the sample set is flagged as not real photographs
    assert "Reusing the evaluation" in result.stderr  # the page is built from the demo's own evaluation
    assert (target / ".gitignore").read_text().splitlines()[-1] == "*"  # not an untracked surprise
    assert f"glaucli runs --runs-dir {target / 'runs'}" in result.stdout  # the exact flags to find it
    assert "basic-cnn" in cli("runs", "--runs-dir", target / "runs").stdout
    again = cli("demo", "--dir", target, "--epochs", "2")
    assert "Reusing" in again.stderr and (target / "runs" / "train" / "basic-cnn-2").is_dir()
    # Reproducible: the same seed gives the same model, threshold and verdicts.
    first, second = (read_meta(target / "runs" / "train" / name) for name in ("basic-cnn", "basic-cnn-2"))
    assert first["weights_sha256"] == second["weights_sha256"]
    assert first["threshold"] == second["threshold"]
    def prediction(out):  # the table's own lines (the next table's centred title follows it)
        return [line.rstrip() for line in out.split("Prediction")[1].split("Where")[0].strip().splitlines()]

    assert len(prediction(result.stdout)) >= 4 and prediction(result.stdout) == prediction(again.stdout)


def test_bench_json(cli):
    doc = json.loads(cli("bench", "basic-cnn", "--image-size", "32", "--batch-size", "8", "--steps", "2",
                         "--json").stdout)
    (row,) = doc["results"]
    assert row["backbone"] == "basic-cnn" and row["image_size"] == 32
    for key in ("pipeline_img_s", "train_pipeline_img_s", "train_memory_img_s", "inference_img_s",
                "latency_ms", "peak_rss_mb"):
        assert row[key] > 0, key
    assert row["pipeline_to_memory_ratio"] == round(row["train_pipeline_img_s"] / row["train_memory_img_s"], 3)
    for key in ("finetune_glaucli_img_s", "finetune_keras_img_s", "tflite_img_s", "onnx_img_s"):
        assert row[key] > 0, key
    assert row["finetune_ratio"] == round(row["finetune_glaucli_img_s"] / row["finetune_keras_img_s"], 3)
    assert row["tflite_max_abs_diff"] < 1e-4 and row["onnx_max_abs_diff"] < 1e-4  # the same model
    cli("bench", "not-a-backbone", code=2)
    cli("bench", "basic-cnn", "--formats", "coreml", code=2)
