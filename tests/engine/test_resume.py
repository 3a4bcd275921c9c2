"""Interrupt, resume, reproduce: signals, --resume, --recipe seed, --deterministic, class weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from glaucli import events
from glaucli.engine import training as engine
from glaucli.errors import Interrupted
from glaucli.runs import read_meta
from tests.helpers import make_sample


def _weights(path: Path):
    import keras

    return keras.saving.load_model(path, safe_mode=True, compile=False).get_weights()


def _same(a, b, atol=0.0):
    return all(np.allclose(x, y, atol=atol, rtol=0) for x, y in zip(a, b))


def _config(data, runs, **kw):
    base = dict(backbone="basic-cnn", data=data, runs_dir=runs, image_size=32, batch_size=8, epochs=4,
                augment="none", seed=5, deterministic=True)
    return engine.TrainConfig(**{**base, **kw})


def test_deterministic_twice_gives_identical_weights(tmp_path):
    data = make_sample(tmp_path / "d", per_class=12, size=40)
    a = engine.train(_config(data, tmp_path / "runs", epochs=2))
    b = engine.train(_config(data, tmp_path / "runs", epochs=2))
    assert b.run.name == "basic-cnn-2"
    assert _same(_weights(a.run / "last.keras"), _weights(b.run / "last.keras"))


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_resumed_run_matches_uninterrupted(tmp_path):
    data = make_sample(tmp_path / "d", per_class=12, size=40)
    whole = engine.train(_config(data, tmp_path / "runs", name="whole"))

    def stop_after_two(event):
        if isinstance(event, events.EpochEnded) and event.epoch == 2:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(Interrupted) as stopped:
        engine.train(_config(data, tmp_path / "runs", name="cut"), stop_after_two)
    run = tmp_path / "runs" / "train" / "cut"
    assert "glaucli train --resume" in stopped.value.hint
    meta = read_meta(run)
    assert meta["status"] == "interrupted" and meta["epochs_done"] == 2
    assert json.loads((run / "state.json").read_text())["phase_epoch"] == 2
    resumed = engine.resume(run, {})
    assert read_meta(run)["status"] == "complete"
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 4
    assert _same(_weights(whole.run / "last.keras"), _weights(run / "last.keras"), atol=1e-6)
    assert resumed.metrics["auc"] == pytest.approx(whole.metrics["auc"], abs=1e-6)


def test_resume_refuses_unsafe_overrides_and_complete_runs(cli, trained, tmp_path):
    data = make_sample(tmp_path / "d", per_class=6, size=32)

    def stop(event):
        if isinstance(event, events.EpochEnded):
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(Interrupted):
        engine.train(_config(data, tmp_path / "runs", epochs=3), stop)
    run = tmp_path / "runs" / "train" / "basic-cnn"
    assert "resume" in cli("train", "--resume", run, "--lr", "0.5", code=2).stderr
    rows = cli.json("runs", "--runs-dir", tmp_path / "runs")["runs"]
    assert rows[0]["status"] == "interrupted" and rows[0]["resume"].endswith(str(run))
    cli("train", "--resume", run, "--epochs", "4", "--quiet")  # more epochs: allowed
    assert read_meta(run)["args"]["epochs"] == 4 and read_meta(run)["epochs_done"] == 4
    cli("train", "--resume", trained["run"], code=3)


def _spawn(args, env_extra=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "glaucli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _spawn_long_training(tmp_path):
    """A real `glaucli train` that would run for minutes: the target of the signal tests."""
    data = make_sample(tmp_path / "d", per_class=40, size=48)
    runs = tmp_path / "runs"
    proc = _spawn(["train", "basic-cnn", "--data", data, "--runs-dir", runs, "--image-size", "48",
                   "--epochs", "200", "--batch-size", "4", "--seed", "1"])
    return data, runs, proc


def _wait_for(proc, text, timeout=120):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError("never saw " + text + " in:\n" + "".join(seen))


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_sigint_to_real_process_then_resume(cli, tmp_path):
    data, runs, proc = _spawn_long_training(tmp_path)
    _wait_for(proc, "train epoch 1/200")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    run = runs / "train" / "basic-cnn"
    assert f"glaucli train --resume {run}" in err and out == ""
    assert read_meta(run)["status"] == "interrupted"
    result = cli("train", "--resume", run, "--epochs", str(read_meta(run)["epochs_done"] + 1), "--quiet")
    assert result.stdout.strip() == str(run)
    assert read_meta(run)["status"] == "complete"
    cli("predict", data / "test", "--model", run, "--json")


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_second_sigint_exits_at_once_with_complete_files(tmp_path):
    data, runs, proc = _spawn_long_training(tmp_path)
    _wait_for(proc, "train epoch 2/200")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    # 130, or killed by SIGINT when the second signal lands after a clean exit (a shell shows 130).
    assert proc.returncode in (130, -signal.SIGINT)
    run = runs / "train" / "basic-cnn"
    for name in ("best.keras", "last.keras"):
        assert _weights(run / name)  # a complete, loadable file
    assert read_meta(run)["status"] in ("interrupted", "running")


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_recipe_seed_builds_the_original_head_and_schedule(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    run = Path(cli("train", "resnet50", "--recipe", "seed", "--weights", "none", "--data", data,
                   "--image-size", "32", "--epochs", "1", "--quiet").stdout.strip())
    meta = read_meta(run)
    assert meta["recipe"] == "seed" and meta["preprocessing"] == "scale01"
    (phase,) = meta["phases"]
    assert phase["unfreeze"] == "all" and not phase["freeze_batchnorm"] and phase["lr"] == 1e-3
    assert (phase["monitor"], phase["mode"], phase["patience"], phase["min_delta"]) == ("val_loss", "min", 15, 0.001)
    assert (phase["plateau_factor"], phase["plateau_patience"]) == (0.25, 3)
    import keras

    model = keras.saving.load_model(run / "best.keras", safe_mode=True)
    head = [layer for layer in model.layers if layer.name.startswith("head_")]
    assert [(type(layer).__name__, getattr(layer, "rate", None) or getattr(layer, "units", None))
            for layer in head] == [
        ("GlobalAveragePooling2D", None), ("Dropout", 0.5), ("Dense", 64), ("Dropout", 0.5), ("Dense", 1)]
    assert model.get_layer("head_dense").activation.__name__ == "relu"
    assert model.get_layer("pre_scale").scale == pytest.approx(1 / 255)
    assert engine.plan(engine.TrainConfig(recipe="seed"), None, "imagenet")[0].epochs == 50


def test_class_weights_balanced_on_imbalanced_sample(cli, tmp_path):
    assert engine.class_weights([0] * 30 + [1] * 10, "auto") == {0: pytest.approx(40 / 60), 1: 2.0}
    assert engine.class_weights([0, 1], "auto") == {0: 1.0, 1: 1.0}
    assert engine.class_weights([0, 1, 1], "none") is None
    data = make_sample(tmp_path / "d", per_class=12, size=32)
    for extra in sorted((data / "train" / "RG").glob("*.jpg"))[4:]:
        extra.unlink()
    run = Path(cli("train", "basic-cnn", "--data", data, "--image-size", "32", "--epochs", "1",
                   "--quiet").stdout.strip())
    assert read_meta(run)["class_weight"] == {"0": pytest.approx(16 / 24), "1": 2.0}


def test_tensorboard_logs_written(cli, tmp_path):
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    run = Path(cli("train", "basic-cnn", "--data", data, "--image-size", "32", "--epochs", "1",
                   "--tensorboard", "--quiet").stdout.strip())
    assert any((run / "tensorboard").rglob("events.out.tfevents.*"))
