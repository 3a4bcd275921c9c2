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


def test_sidecar_is_written_atomically(trained, tmp_path, monkeypatch):
    """A failure while writing the .meta.json (disk full) leaves the previous one whole."""
    from glaucli.engine.export import export
    from glaucli.runs import resolve_run

    run = resolve_run(trained["run"], tmp_path)
    first = export(run, "tflite", tmp_path / "m.tflite")
    before = Path(first["meta"]).read_text()
    real = Path.write_text

    def disk_full(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError):
        export(run, "tflite", tmp_path / "m.tflite")
    monkeypatch.undo()
    assert Path(first["meta"]).read_text() == before
    assert not list(tmp_path.glob(".*tmp*"))


def test_missing_dataset_is_said_not_silent(cli, trained, tmp_path):
    """A run whose dataset moved is still exported (on random images), with a warning naming it."""
    import shutil

    run = tmp_path / "moved-run"
    shutil.copytree(trained["run"], run, ignore=shutil.ignore_patterns("export", "eval"))
    meta = json.loads((run / "meta.json").read_text())
    gone = tmp_path / "gone"
    meta["data"]["path"] = str(gone)
    meta["data"]["spec"]["path"] = str(gone)
    (run / "meta.json").write_text(json.dumps(meta))
    result = cli("export", run, "-f", "tflite", "-o", tmp_path / "m.tflite", "--json")
    assert json.loads(result.stdout)["checked_on"] == "8 random images"
    err = " ".join(result.stderr.split())
    assert "Warning" in err and str(gone) in err and "random images" in err
