"""The training recipe does what it says (issue 15): BatchNorm trains from scratch and stays
put when frozen, phase 1 leaves the backbone alone, phase 2 changes only the unfrozen top at
the fine-tuning rate, and the best epoch is the best by exact validation AUC."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from glaucli.engine import selection
from glaucli.models import classifier
from glaucli.runs import read_meta

COMMON = ["--image-size", "32", "--batch-size", "8", "--seed", "0", "--deterministic", "--quiet"]


def _bn_layers(model):
    return [layer for layer in classifier.backbone_layers(model)
            if layer.__class__.__name__ == "BatchNormalization"]


def test_from_scratch_trains_batchnorm(cli, sample_set):
    import keras

    run = Path(cli("train", "mobilenet-v3-small", "--weights", "none", "--data", sample_set,
                   "--epochs", "2", *COMMON).stdout.strip())
    meta = read_meta(run)
    (phase,) = meta["phases"]
    assert phase["unfreeze"] == "all" and phase["freeze_batchnorm"] is False
    model = keras.saving.load_model(run / "last.keras", safe_mode=True)
    bns = _bn_layers(model)
    assert bns and all(layer.trainable for layer in bns)
    # Fresh BatchNorm statistics are 0 and 1; training moves them.
    assert any(np.abs(np.asarray(layer.moving_mean)).max() > 1e-4 for layer in bns)
    # Inference uses those statistics: with Keras' momentum (0.999 here) they stayed near their
    # initial values for a whole small run and every validation image got the same score (seen
    # at 96 px on 400 images: AUC 0.5 -> 1.0); they now average over about half an epoch.
    assert all(layer.momentum <= 0.5 for layer in bns)  # 12 images, batch 8: one step an epoch


def test_two_phase_recipe_changes_only_what_it_should(cli, sample_set, tmp_path):
    """Same seed, deterministic: the head-only run is the two-phase run's phase 1."""
    import keras

    weights = tmp_path / "mnv3.weights.h5"
    reference = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    reference.save_weights(weights)
    common = ["mobilenet-v3-small", "--weights", weights, "--data", sample_set, "--epochs", "1", *COMMON]
    head_only = Path(cli("train", *common, "--finetune-epochs", "0", "--name", "head").stdout.strip())
    both = Path(cli("train", *common, "--finetune-epochs", "1", "--finetune-lr", "3e-4",
                    "--unfreeze", "0.3", "--name", "both").stdout.strip())
    a = keras.saving.load_model(head_only / "last.keras", safe_mode=True)
    b = keras.saving.load_model(both / "last.keras", safe_mode=True)
    layers_a, layers_b = classifier.backbone_layers(a), classifier.backbone_layers(b)
    # Phase 1: not one backbone weight moved, BatchNorm statistics included.
    for ref, layer in zip([layer for layer in reference.layers if layer.weights],
                          [layer for layer in layers_a if layer.weights], strict=True):
        for w0, w1 in zip(ref.get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(w0, w1)
    # Phase 2: only the unfrozen top changed; BatchNorm statistics nowhere.
    top = classifier.resolve_unfreeze("0.3", len(layers_b))
    changed = set()
    for i, (la, lb) in enumerate(zip(layers_a, layers_b)):
        for va, vb in zip(la.weights, lb.weights):
            if not np.array_equal(np.asarray(va), np.asarray(vb)):
                changed.add(i)
                assert i >= len(layers_b) - top, f"frozen layer {lb.name} changed"
                assert "moving" not in vb.path, f"BatchNorm statistics of {lb.name} changed"
    assert changed, "fine-tuning changed nothing"
    assert math.isclose(float(np.asarray(b.optimizer.learning_rate)), 3e-4, rel_tol=1e-6)
    assert [p["name"] for p in read_meta(both)["phases"]] == ["head", "finetune"]


def test_best_epoch_is_the_best_by_exact_auc_then_loss(trained):
    meta = read_meta(trained["run"])
    with open(trained["run"] / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    best_auc = max(float(r["val_auc"]) for r in rows)
    tied = [r for r in rows if float(r["val_auc"]) == best_auc]
    expected = min(tied, key=lambda r: float(r["val_loss"]))
    assert meta["best_epoch"]["epoch"] == int(expected["epoch"])
    assert meta["best_epoch"]["phase"] == expected["phase"]
    # Every validation figure is one number: history, best epoch and the summary agree.
    assert meta["best_epoch"]["val_auc"] == pytest.approx(float(expected["val_auc"]), abs=1e-6)
    assert meta["metrics"]["validation"]["auc"] == pytest.approx(best_auc, abs=_epoch_vs_saved(meta))
    assert meta["warnings"] == []


def _epoch_vs_saved(meta: dict) -> float:
    """How far an epoch's figure may be from best.keras's own: nothing in float32; under
    bfloat16 (the default on CPUs with AVX512-BF16/AMX) the epoch scored the bfloat16 model
    and best.keras is its float32 copy, so a close pair of scores may swap."""
    return 1e-9 if meta["hardware"]["precision"] == "float32" else 0.05


def test_history_auc_is_exact(trained):
    """history.csv's val_auc is scikit-learn's AUC of that epoch's scores: re-score best.keras."""
    from sklearn.metrics import roc_auc_score

    from glaucli.data.layout import Dataset
    from glaucli.engine.scoring import load_model, scores_of

    meta = read_meta(trained["run"])
    pairs = Dataset(trained["data"]).require("validation")
    scores = scores_of(load_model(trained["run"] / "best.keras"), pairs)
    rescored = roc_auc_score([y for _, y in pairs], scores)
    assert rescored == pytest.approx(meta["metrics"]["validation"]["auc"], abs=1e-9)  # best.keras's own
    assert rescored == pytest.approx(meta["best_epoch"]["val_auc"], abs=_epoch_vs_saved(meta))


@pytest.mark.parametrize("logs, best, expected", [
    ({"val_auc": 1.0, "val_loss": 0.06}, {"val_auc": 1.0, "val_loss": 0.57}, True),   # the demo's epoch 10
    ({"val_auc": 1.0, "val_loss": 0.60}, {"val_auc": 1.0, "val_loss": 0.57}, False),
    ({"val_auc": 0.90, "val_loss": 0.01}, {"val_auc": 0.95, "val_loss": 0.5}, False),
    ({"val_auc": 0.96, "val_loss": 0.9}, {"val_auc": 0.95, "val_loss": 0.5}, True),
    ({"val_auc": 0.96, "val_loss": float("nan")}, None, False),
    ({"val_auc": float("nan"), "val_loss": 0.4}, {"val_auc": float("nan"), "val_loss": 0.5}, True),
    ({"val_auc": 0.7, "val_loss": 0.4}, None, True),
])
def test_better(logs, best, expected):
    assert selection.better(logs, best) is expected


def test_quality_warnings_name_the_causes():
    from glaucli.engine.training.finish import quality_warnings

    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    constant = quality_warnings({"auc": 0.5}, 1.0, labels, np.full(10, 0.5))
    assert len(constant) == 2 and "same score" in constant[0] and "--lr" in constant[0]
    assert "threshold is 1.000" in constant[1]
    assert "chance" in quality_warnings({"auc": 0.53}, 0.4, labels, np.linspace(0, 1, 10))[0]
    assert quality_warnings({"auc": 1.0, "accuracy": 1.0}, 0.5, labels, np.linspace(0, 1, 10)) == []


def test_training_warns_when_validation_cannot_tell_the_model_from_chance():
    """Issue 27: mobilenet-v3-small on 411 real photographs, validation AUC 0.69 and accuracy
    below always answering NRG, ended without a word. Training now judges its validation scores
    as evaluate does (metrics.chance_reason): an AUC well above 0.55 whose interval includes 0.5
    on a small split, or an accuracy not above the majority's, is named."""
    from glaucli.engine import metrics as screening
    from glaucli.engine.training.finish import quality_warnings

    rng = np.random.default_rng(0)
    labels = np.array([0] * 9 + [1] * 3)  # a small, unbalanced validation split
    scores = np.where(labels == 1, rng.uniform(0.3, 1, 12), rng.uniform(0, 0.7, 12))
    metrics = screening.screening_metrics(labels, scores, 0.5)
    assert metrics["auc"] > 0.6
    found = quality_warnings(metrics, 0.5, labels, scores)
    assert len(found) == 1 and "no better than chance on the validation split" in found[0]
    assert "interval" in found[0] or "always answering NRG" in found[0]
    clear = np.where(labels == 1, rng.uniform(0.8, 1, 12), rng.uniform(0, 0.2, 12))
    assert quality_warnings(screening.screening_metrics(labels, clear, 0.5), 0.5, labels, clear) == []
