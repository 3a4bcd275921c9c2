"""glaucli export: every format round-trips and matches the Keras model within tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.parametrize("fmt,flags,tolerance", [("saved-model", [], 1e-4), ("tflite", [], 1e-4),
                                                 ("tflite", ["--float16"], 1e-2), ("onnx", [], 1e-4)])
def test_formats_round_trip(cli, trained, tmp_path, fmt, flags, tolerance):
    out = tmp_path / f"model-{fmt}{'.tflite' if fmt == 'tflite' else '.onnx' if fmt == 'onnx' else ''}"
    doc = cli.json("export", trained["run"], "--format", fmt, "--output", out, *flags)
    assert doc["schema"] == 1 and doc["path"] == str(out) and out.exists()
    assert doc["max_abs_diff"] <= tolerance and doc["size_bytes"] > 0
    assert doc["checked_on"].endswith("validation images")
    meta = json.loads(Path(doc["meta"]).read_text())
    assert meta["image_size"] == 48 and meta["classes"] == ["NRG", "RG"] and "diagnostic" in meta["note"]
    assert not list(tmp_path.glob(".*tmp*"))


def test_float16_is_smaller(cli, trained, tmp_path):
    full = cli.json("export", trained["run"], "-f", "tflite", "-o", tmp_path / "a.tflite")
    half = cli.json("export", trained["run"], "-f", "tflite", "--float16", "-o", tmp_path / "b.tflite")
    assert half["size_bytes"] < 0.6 * full["size_bytes"]


def test_ensemble_exports(cli, trained, tmp_path):
    ens = cli("ensemble", "vote", trained["run"], trained["run"], "--runs-dir", tmp_path / "runs",
              "--quiet").stdout.strip()
    doc = cli.json("export", ens, "-f", "tflite", "-o", tmp_path / "vote.tflite")
    assert doc["max_abs_diff"] <= 1e-4


def test_errors(cli, trained, tmp_path, monkeypatch):
    assert "saved-model, tflite, onnx" in cli("export", trained["run"], "-f", "coreml", code=2).stderr
    cli("export", trained["run"], "-f", "onnx", "--float16", code=2)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    assert "glaucli[export]" in cli("export", trained["run"], "-f", "onnx", code=3).stderr
