"""Calibration: reliability bins, ECE and Brier against hand-computed cases; temperature scaling
recovers a known temperature; `glaucli calibrate` stores it and evaluate/predict apply it."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from glaucli.engine import calibration


def test_reliability_ece_and_brier_by_hand():
    y = [0, 0, 1, 1, 1]
    p = [0.05, 0.15, 0.15, 0.95, 1.0]  # bins: [0, 0.1) one, [0.1, 0.2) two, [0.9, 1.0] two (1.0 included)
    bins = calibration.reliability(y, p)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 5
    assert bins[0]["count"] == 1 and bins[1]["count"] == 2 and bins[9]["count"] == 2
    assert bins[1]["mean_probability"] == pytest.approx(0.15) and bins[1]["fraction_rg"] == 0.5
    assert bins[5]["count"] == 0 and bins[5]["mean_probability"] is None
    # ECE = 1/5 * |0 - 0.05| + 2/5 * |0.5 - 0.15| + 2/5 * |1 - 0.975|
    assert calibration.ece(y, p) == pytest.approx(0.05 / 5 + 0.4 * 0.35 + 0.4 * 0.025)
    assert calibration.brier(y, p) == pytest.approx((0.05**2 + 0.15**2 + 0.85**2 + 0.05**2 + 0) / 5)
    assert calibration.ece([0, 1], [0.0, 1.0]) == 0 and calibration.brier([0, 1], [0.0, 1.0]) == 0


def test_temperature_scaling_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 20000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-z))).astype(int)  # calibrated logits z
    overconfident = 1 / (1 + np.exp(-3 * z))  # the same ranking, logits 3x too large
    t = calibration.fit_temperature(y, overconfident)
    assert t == pytest.approx(3.0, rel=0.08)
    scaled = calibration.scale(overconfident, t)
    assert calibration.ece(y, scaled) < 0.02 < calibration.ece(y, overconfident)
    assert calibration.brier(y, scaled) < calibration.brier(y, overconfident)
    assert calibration.log_loss(y, scaled) < calibration.log_loss(y, overconfident)
    # Monotonic: the ranking and, with the threshold mapped too, every verdict stay the same.
    cut = 0.37
    assert np.array_equal(np.asarray(scaled) >= calibration.scale_one(cut, t), overconfident >= cut)
    assert calibration.scale([0.2, 0.9], None) == [0.2, 0.9]


def test_calibrate_cli_stores_t_and_evaluate_and_predict_apply_it(cli, trained, tmp_path):
    run = tmp_path / "runs" / "train" / "cal"
    shutil.copytree(trained["run"], run)
    model_digest = hashlib.sha256((run / "best.keras").read_bytes()).hexdigest()
    photo = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    before = cli.json("predict", photo, "--model", run)[0]
    raw_eval = cli.json("evaluate", run, "--bootstrap", "0", "--output", tmp_path / "e0")

    result = cli("calibrate", run)
    assert "ECE before" in result.stdout and "validation (fit)" in result.stdout and "test (held out)" in result.stdout
    doc = cli.json("calibrate", run)
    block = doc["calibration"]
    t = block["temperature"]
    assert doc["schema"] == 1 and t > 0 and block["fitted_on"] == "validation"
    # T minimises the validation log-loss (T = 1 is among the candidates); ECE on 12 images need not fall.
    assert block["validation"]["log_loss_after"] <= block["validation"]["log_loss_before"] + 1e-9
    meta = json.loads((run / "meta.json").read_text())
    assert meta["calibration"]["temperature"] == t and meta["status"] == "complete"
    assert hashlib.sha256((run / "best.keras").read_bytes()).hexdigest() == model_digest  # model unchanged

    result = cli("evaluate", run, "--bootstrap", "0", "--output", tmp_path / "e1", "--json")
    assert "temperature scaling" in result.stderr
    evaluated = json.loads(result.stdout)
    assert evaluated["calibration"]["temperature"] == t
    assert evaluated["confusion"] == raw_eval["confusion"]  # verdicts unchanged
    assert evaluated["metrics"]["auc"] == pytest.approx(raw_eval["metrics"]["auc"])

    result = cli("predict", photo, "--model", run, "--json")
    assert "temperature scaling" in result.stderr
    after = json.loads(result.stdout)[0]
    assert after["probability"] == pytest.approx(calibration.scale_one(before["probability"], t), abs=1e-5)
    assert after["label"] == before["label"]


def test_calibrate_refuses_a_bare_model_file(cli, trained, tmp_path):
    bare = tmp_path / "bare.keras"
    shutil.copy(trained["run"] / "best.keras", bare)
    result = cli("calibrate", bare, code=3)
    assert "meta.json" in result.stderr
