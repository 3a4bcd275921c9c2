"""Metrics against hand-computable cases and scikit-learn; glaucli evaluate end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glaucli.engine import metrics


def test_hand_computed_confusion_and_metrics():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.6, 0.3, 0.9, 0.4, 0.8, 0.7]  # at 0.5: tn 3, fp 1, fn 1, tp 3
    assert metrics.confusion(y, s, 0.5) == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    m = metrics.screening_metrics(y, s, 0.5)
    assert m["accuracy"] == 0.75 and m["sensitivity"] == 0.75 and m["specificity"] == 0.75
    assert m["precision"] == 0.75 and m["npv"] == 0.75 and m["f1"] == 0.75
    assert m["auc"] == pytest.approx(15 / 16)  # 15 of 16 (RG, NRG) pairs ordered right


def test_perfect_and_random_scorers():
    y = np.r_[np.zeros(200), np.ones(200)].astype(int)
    perfect = metrics.screening_metrics(y, y * 0.8 + 0.1, 0.5)
    assert perfect["auc"] == 1 and perfect["pauc_90"] == 1 and perfect["sens_at_95spec"] == 1
    noise = np.random.default_rng(0).random(400)
    random = metrics.screening_metrics(y, noise, 0.5)
    assert abs(random["auc"] - 0.5) < 0.08 and abs(random["pauc_90"] - 0.5) < 0.08


def test_fast_bootstrap_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    for n in (5, 40, 300):
        y = np.r_[np.zeros(n), np.ones(n)].astype(int)
        s = np.round(np.clip(y * 0.3 + rng.random(2 * n) * 0.7, 0, 1), 2)  # ties included
        fast, ref = metrics.fast_metrics(y, s, 0.5), metrics.screening_metrics(y, s, 0.5)
        for name in metrics.METRICS:
            assert fast[name] == pytest.approx(ref[name], abs=1e-12), name


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(100), np.ones(100)].astype(int)
    s = np.clip(y * 0.4 + rng.random(200) * 0.6, 0, 1)
    a, b = metrics.bootstrap_ci(y, s, 0.5, 300), metrics.bootstrap_ci(y, s, 0.5, 300)
    assert a == b
    auc = metrics.screening_metrics(y, s, 0.5)["auc"]
    assert a["auc"][0] < auc < a["auc"][1]


def test_youden_threshold_sits_between_the_classes():
    assert metrics.youden_threshold([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.5)
    t = metrics.youden_threshold([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.6, 0.5, 0.7, 0.9])
    assert metrics.screening_metrics([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.6, 0.5, 0.7, 0.9], t)["balanced_accuracy"] == pytest.approx(5 / 6)


def test_threshold_for_specificity():
    y = [0] * 10 + [1] * 10
    s = list(np.linspace(0, 0.5, 10)) + list(np.linspace(0.3, 1, 10))
    t, spec = metrics.threshold_for_specificity(y, s, 0.9)
    assert spec >= 0.9
    assert metrics.screening_metrics(y, s, t)["specificity"] >= 0.9


def test_evaluate_cli_schema_files_and_gate(cli, trained, tmp_path):
    out = tmp_path / "eval"
    result = cli("evaluate", trained["run"], "--output", out, "--json", "--bootstrap", "200")
    doc = json.loads(result.stdout)
    assert set(doc) == {"schema", "run", "split", "threshold", "threshold_source", "tta", "tta_views", "bootstrap", "data",
                        "external", "synthetic", "n", "metrics", "ci95", "confusion", "per_class", "calibration",
                        "ood", "no_better_than_chance", "chance_reason"}
    assert doc["data"]["kind"] == "folders" and doc["external"] is False
    assert doc["threshold_source"] == "validation-youden" and doc["tta"] is False
    assert doc["schema"] == 1 and doc["split"] == "test" and doc["n"] == {"NRG": 6, "RG": 6}
    assert set(doc["metrics"]) == set(metrics.METRICS) and set(doc["ci95"]) == set(metrics.METRICS)
    assert sum(doc["confusion"].values()) == 12
    assert json.loads((out / "metrics.json").read_text()) == doc
    for name in ("predictions.csv", "confusion_matrix.png", "confusion_matrix_normalized.png", "roc.png", "pr.png",
                 "calibration.png"):
        assert (out / name).stat().st_size > 0, name
    assert len((out / "predictions.csv").read_text().splitlines()) == 13
    failing = cli("evaluate", trained["run"], "--output", out, "--bootstrap", "0",
                  "--fail-under", "accuracy=1.01,auc=0.0", code=4)
    assert "accuracy" in failing.stderr and "auc" not in failing.stderr.split("not met")[1]
    cli("evaluate", trained["run"], "--output", out, "--bootstrap", "0", "--fail-under", "auc=0.5")
    cli("evaluate", trained["run"], "--fail-under", "bogus=1", code=2)
    cli("evaluate", trained["run"], "--split", "holdout", code=2)
    cli("evaluate", trained["run"], "--threshold", "1.5", code=2)


def test_evaluate_default_run_skips_interrupted(cli, trained, tmp_path, monkeypatch):
    import shutil

    from glaucli.runs import read_meta, write_meta

    runs = tmp_path / "runs"
    shutil.copytree(trained["run"], runs / "train" / "good")
    shutil.copytree(trained["run"], runs / "train" / "broken")
    meta = read_meta(runs / "train" / "broken")
    meta.update(status="interrupted", finished_at="2999-01-01T00:00:00+00:00")
    write_meta(runs / "train" / "broken", meta)
    result = cli("evaluate", "--runs-dir", runs, "--bootstrap", "0", "--split", "validation",
                 "--target-specificity", "0.8", "--json")
    assert json.loads(result.stdout)["run"] == str(runs / "train" / "good")
    assert "Using run" in result.stderr and "specificity" in result.stderr
    cli("evaluate", "--runs-dir", tmp_path / "empty", code=3)


def test_tta_threshold_is_chosen_on_tta_scores(cli, trained):
    """--tta cuts at a threshold chosen on TTA'd validation scores, over the flips training
    showed (basic-cnn with --augment light: no vertical flip), and metrics.json says so."""
    from glaucli.data.layout import Dataset
    from glaucli.engine.metrics import youden_threshold
    from glaucli.engine.scoring import load_model, scores_of
    from glaucli.runs import read_meta

    meta = read_meta(trained["run"])
    assert meta["tta_views"] == ["identity", "hflip"]
    pairs = Dataset(trained["data"]).require("validation")
    tta_scores = scores_of(load_model(trained["run"] / "best.keras"), pairs, tta=meta["tta_views"])
    assert meta["threshold_tta"] == pytest.approx(youden_threshold([y for _, y in pairs], tta_scores), abs=1e-6)
    out = cli.json("evaluate", trained["run"], "--tta", "--bootstrap", "0")
    assert out["tta"] is True and out["tta_views"] == ["identity", "hflip"]
    assert out["threshold"] == pytest.approx(meta["threshold_tta"]) and out["threshold_source"] == "validation-youden"
    plain = cli.json("evaluate", trained["run"], "--bootstrap", "0")
    assert plain["tta"] is False and plain["threshold"] == pytest.approx(meta["threshold"])
    given = cli.json("evaluate", trained["run"], "--threshold", "0.3", "--bootstrap", "0")
    assert given["threshold_source"] == "given"
    spec = cli.json("evaluate", trained["run"], "--target-specificity", "0.9", "--bootstrap", "0")
    assert spec["threshold_source"] == "target-specificity"
