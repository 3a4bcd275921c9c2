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


def test_calibrate_cli_stores_t_and_evaluate_and_predict_apply_it(cli, trained, tmp_path, monkeypatch):
    # The tiny run separates its 12 validation images, so the real fit runs to the edge (T -> 0)
    # and is refused (next tests); a softer sharpening, T = 0.5, lowers the log-loss there too.
    monkeypatch.setattr(calibration, "fit_temperature", lambda y, s: 0.5)
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
    # A kept T lowers the validation log-loss; ECE on 12 images need not fall.
    assert block["kept"] is True and "reason" not in block
    assert block["validation"]["log_loss_after"] < block["validation"]["log_loss_before"]
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


def test_a_temperature_on_the_edge_or_that_does_not_help_is_not_kept():
    y = [0, 0, 0, 1, 1, 1]
    separable = [0.30, 0.35, 0.40, 0.60, 0.65, 0.70]  # the likelihood keeps rising as T -> 0
    t = calibration.fit_temperature(y, separable)
    after = calibration.log_loss(y, calibration.scale(separable, t))
    assert t == pytest.approx(calibration.T_RANGE[0], rel=0.01)
    assert "edge of the search range" in calibration.why_not_keep(t, calibration.log_loss(y, separable), after)
    assert "does not lower" in calibration.why_not_keep(1.5, 0.40, 0.41)
    assert calibration.why_not_keep(1.5, 0.40, 0.30) is None


def test_calibrate_keeps_nothing_from_a_fit_on_the_edge_and_reset_undoes(cli, trained, tmp_path, monkeypatch):
    run = tmp_path / "runs" / "train" / "edge"
    shutil.copytree(trained["run"], run)
    meta_before = (run / "meta.json").read_bytes()
    monkeypatch.setattr(calibration, "fit_temperature", lambda y, s: calibration.T_RANGE[0])
    result = cli("calibrate", run, "--json", code=1)
    doc = json.loads(result.stdout)
    assert doc["calibration"]["kept"] is False and "edge of the search range" in doc["calibration"]["reason"]
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: temperature not kept: " + doc["calibration"]["reason"]]
    assert (run / "meta.json").read_bytes() == meta_before  # nothing kept
    monkeypatch.undo()

    meta = json.loads(meta_before)
    meta["calibration"] = {"method": "temperature", "temperature": 2.0}
    (run / "meta.json").write_text(json.dumps(meta))
    result = cli("calibrate", run, "--reset")
    assert "Removed T = 2.0000" in result.stderr
    assert "calibration" not in json.loads((run / "meta.json").read_text())
    assert cli.json("calibrate", run, "--reset")["removed"] is None  # nothing left to undo
    result = cli("evaluate", run, "--bootstrap", "0", "--output", tmp_path / "e")
    assert "temperature scaling" not in result.stderr
