"""Ensembles: concat, mean, vote, stack as runs that evaluate, predict and compare treat like any other."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from glaucli.runs import read_meta, write_meta


def _constant_run(root: Path, name: str, p: float, threshold: float, data: Path, size: int = 32) -> Path:
    """A run whose model answers P(RG) = p for every image: members with known verdicts."""
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    logit = keras.layers.Dense(1, kernel_initializer="zeros",
                               bias_initializer=keras.initializers.Constant(math.log(p / (1 - p))),
                               name="head_logits")(x)
    out = keras.layers.Activation("sigmoid", name="probability")(logit)
    run = root / "train" / name
    run.mkdir(parents=True)
    keras.Model(inputs, out).save(run / "best.keras")
    write_meta(run, {"kind": "train", "status": "complete", "finished_at": "2026-01-01T00:00:00+00:00",
                     "image_size": size, "threshold": threshold, "data": {"path": str(data)}})
    return run


@pytest.fixture
def small_member(cli, trained, tmp_path):
    """A second real run at another image size (32 px; the session run is 48 px)."""
    return Path(cli("train", "basic-cnn", "--data", trained["data"], "--runs-dir", tmp_path / "runs",
                    "--image-size", "32", "--epochs", "2", "--seed", "1", "--quiet").stdout.strip())


def _probabilities(cli, model, images):
    return [r["probability"] for r in json.loads(cli("predict", images, "--model", model, "--json").stdout)]


def test_mean_of_identical_members_equals_the_member(cli, trained, tmp_path):
    run = Path(cli("ensemble", "mean", trained["run"], trained["run"], "--runs-dir", tmp_path / "runs",
                   "--quiet").stdout.strip())
    assert run == tmp_path / "runs" / "ensemble" / "mean"
    test = trained["data"] / "test"
    np.testing.assert_allclose(_probabilities(cli, run, test), _probabilities(cli, trained["run"], test), atol=1e-6)


def test_vote_with_known_verdicts(cli, tmp_path, sample_set):
    runs = tmp_path / "runs"
    members = [_constant_run(runs, f"m{i}", p, 0.5, sample_set) for i, p in enumerate((0.9, 0.2, 0.8))]
    run = cli("ensemble", "vote", *members, "--runs-dir", runs, "--quiet").stdout.strip()
    (score,) = set(_probabilities(cli, run, sample_set / "test"))
    assert 0.5 < score < 2 / 3 + 0.49 / 3 and abs(score - 2 / 3) < 0.49 / 3  # two of three votes
    tie = cli("ensemble", "vote", members[0], members[1], "--runs-dir", runs, "--name", "tie",
              "--quiet").stdout.strip()
    (tied,) = set(_probabilities(cli, tie, sample_set / "test"))
    assert 0.5 < tied < 0.75  # one vote each; the mean margin (+0.4, -0.3) favours RG
    assert read_meta(Path(tie))["threshold"] == 0.5


def test_stack_fitted_on_validation_and_mixed_sizes(cli, trained, small_member, tmp_path):
    runs = tmp_path / "runs"
    run = Path(cli("ensemble", "stack", trained["run"], small_member, "--runs-dir", runs, "--quiet").stdout.strip())
    meta = read_meta(run)
    assert meta["method"] == "stack" and "out-of-fold" in meta["threshold_method"]
    assert len(meta["stack_coef"]) == 2 and meta["image_size"] == 48
    assert [m["image_size"] for m in meta["members"]] == [48, 32]
    import keras

    model = keras.saving.load_model(run / "best.keras", safe_mode=True)
    assert model.get_layer("member_1").inputs[0].shape[1] == 32
    doc = json.loads(cli("evaluate", run, "--bootstrap", "0", "--json").stdout)
    assert doc["n"] == {"NRG": 6, "RG": 6}
    cams = tmp_path / "cams"
    cli("predict", next((trained["data"] / "test" / "RG").glob("*.jpg")), "--model", run, "--explain", cams)
    assert len(list(cams.glob("*_gradcam.png"))) == 1
    listed = cli.json("runs", "--runs-dir", runs)["runs"]
    assert {r["kind"] for r in listed} == {"train", "ensemble"}


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_concat_trains_and_predicts(cli, sample_set, tmp_path, monkeypatch):
    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    runs = tmp_path / "runs"
    result = cli("ensemble", "concat", "mobilenet-v3-small", "resnet50", "--data", sample_set, "--runs-dir", runs,
                 "--weights", "none", "--image-size", "32", "--epochs", "1", "--quiet", "--json")
    run = Path(json.loads(result.stdout)["run"])
    assert run.parent == runs / "ensemble" and run.name == "concat"
    meta = read_meta(run)
    assert meta["method"] == "concat" and [m["backbone"] for m in meta["members"]] == ["mobilenet-v3-small", "resnet50"]
    assert all(m["gradcam_layer"].startswith(f"m{i}_") for i, m in enumerate(meta["members"]))
    cams = tmp_path / "cams"
    cli("predict", sample_set / "test" / "RG", "--model", run, "--explain", cams, "--json")
    assert len(list(cams.glob("*_gradcam.png"))) == 2
    cli("ensemble", "concat", "basic-cnn", "--data", sample_set, code=2)


def test_compare_table_and_json(cli, trained, tmp_path):
    runs = tmp_path / "runs"
    ens = cli("ensemble", "mean", trained["run"], trained["run"], "--runs-dir", runs, "--quiet").stdout.strip()
    doc = cli.json("compare", trained["run"], ens, "--bootstrap", "100")
    assert [Path(r["run"]) for r in doc["runs"]] == [trained["run"], Path(ens)]
    assert doc["runs"][0]["metrics"]["auc"] == pytest.approx(doc["runs"][1]["metrics"]["auc"])
    table = cli("compare", trained["run"], ens, "--bootstrap", "0").stdout
    assert "auc" in table and "mean" in table


def test_ensemble_errors(cli, trained, tmp_path):
    cli("ensemble", "mean", trained["run"], "--runs-dir", tmp_path, code=2)
    cli("ensemble", "vote", trained["run"], tmp_path / "nope", code=3)
