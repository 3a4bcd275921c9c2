"""glaucli train end to end on the sample set, with the real basic CNN."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from glaucli.runs import read_meta


def test_run_folder_complete(trained):
    run = trained["run"]
    for name in ("best.keras", "last.keras", "meta.json", "history.csv", "curves.png"):
        assert (run / name).is_file(), name
    meta = read_meta(run)
    assert meta["schema"] == 1 and meta["status"] == "complete"
    assert meta["classes"] == ["NRG", "RG"] and meta["backbone"] == "basic-cnn"
    assert meta["image_size"] == 48 and meta["gradcam_layer"] == "pool3"
    assert 0 <= meta["threshold"] <= 1 and meta["data"]["fingerprint"]
    assert meta["args"]["epochs"] == 12 and meta["versions"]["keras"].startswith("3.")
    assert "not a diagnostic device" in meta["note"]
    with open(run / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))


def test_basic_cnn_learns_the_sample_set(trained):
    assert read_meta(trained["run"])["metrics"]["validation"]["auc"] >= 0.9


def test_best_model_loads_safely_and_takes_raw_rgb(trained):
    import keras

    from glaucli.data.images import load_image

    model = keras.saving.load_model(trained["run"] / "best.keras", safe_mode=True)
    assert getattr(model, "optimizer", None) is None  # best.keras carries no optimizer state
    image = load_image(next((trained["data"] / "test" / "RG").glob("*.jpg")), 48)
    p = model.predict(image[None].astype("float32"), verbose=0)
    assert p.shape == (1, 1) and 0 <= p[0, 0] <= 1
    last = keras.saving.load_model(trained["run"] / "last.keras", safe_mode=True)
    assert last.optimizer is not None and last.optimizer.iterations.numpy() > 0


def test_training_and_prediction_pixels_are_identical(trained):
    """No train/serve skew: the tf.data pipeline and predict's loader give the same array."""
    from glaucli.data.images import load_image
    from glaucli.data.pipeline import make_dataset

    path = next((trained["data"] / "test" / "NRG").glob("*.jpg"))
    (batch, _), = make_dataset([(path, 0)], 48, 1).take(1)
    np.testing.assert_array_equal(batch.numpy()[0], load_image(path, 48).astype("float32"))


def test_second_run_does_not_overwrite(cli, sample_set, tmp_path):
    args = ["train", "basic-cnn", "--data", sample_set, "--image-size", "32", "--epochs", "1", "--quiet"]
    first = cli(*args).stdout.strip()
    second = json.loads(cli(*args, "--json").stdout)
    assert first.endswith("train/basic-cnn") and second["run"].endswith("train/basic-cnn-2")
    assert second["schema"] == 1 and "auc" in second["metrics"]


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_weights_file_and_wrong_backbone(cli, sample_set, tmp_path):
    import keras

    good = tmp_path / "mnv3.weights.h5"
    keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(good)
    wrong = tmp_path / "resnet.weights.h5"
    keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(wrong)
    common = ["--data", sample_set, "--image-size", "32", "--epochs", "1", "--finetune-epochs", "1", "--quiet"]
    run = cli("train", "mobilenet-v3-small", "--weights", good, *common).stdout.strip()
    assert [p["name"] for p in read_meta(__import__("pathlib").Path(run))["phases"]] == ["head", "finetune"]
    result = cli("train", "mobilenet-v3-small", "--weights", wrong, *common, code=3)
    assert "does not hold mobilenet-v3-small weights" in result.stderr and "Traceback" not in result.output
    cli("train", "mobilenet-v3-small", "--weights", tmp_path / "missing.h5", *common, code=3)


def test_offline_imagenet_is_one_clean_line(cli, sample_set, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("KERAS_HOME", str(sample_set.parent / "keras-home"))
    result = cli("train", "mobilenet-v3-small", "--data", sample_set, "--image-size", "32", code=3)
    assert "cannot download the ImageNet weights" in result.stderr and "--weights" in result.stderr
    assert result.stdout == ""  # Keras prints its download line on stdout: kept off glaucli's data
    assert not (sample_set.parent / "runs").exists()


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--batch-size", "0"], ["--augment", "wild"],
                                  ["--unfreeze", "lots"], ["--lr", "-1"]])
def test_bad_flags_exit_2(cli, sample_set, args):
    cli("train", "mobilenet-v3-small", "--data", sample_set, "--weights", "none", "--image-size", "32",
        *args, code=2)


def test_unknown_backbone_exit_2_with_suggestion(cli, sample_set):
    assert "resnet50" in cli("train", "resnet-50", "--data", sample_set, code=2).stderr


def test_no_dataset_exit_3(cli):
    assert "glaucli download" in cli("train", "basic-cnn", code=3).stderr


def test_runs_lists_runs(cli, trained):
    rows = cli.json("runs", "--runs-dir", trained["runs"])["runs"]
    assert rows[0]["backbone"] == "basic-cnn" and rows[0]["status"] == "complete"
    assert rows[0]["val_auc"] >= 0.9
    assert cli.json("backbones")["backbones"][0]["name"] == "xception"


def test_cli_option_defaults_are_the_config_defaults():
    """One source for defaults: every `glaucli train` option that is a TrainConfig field
    defaults to that field's default (they used to be two copies that could drift)."""
    import dataclasses
    import inspect

    from glaucli.cli.train import train
    from glaucli.engine.training import TrainConfig

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    params = inspect.signature(train).parameters
    shared = [name for name in params if name in defaults]
    assert len(shared) >= 30
    assert {name: params[name].default for name in shared} == {name: defaults[name] for name in shared}
