"""A model no better than chance says so: one judgement (engine/metrics.chance_reason), carried by
evaluate's result and read by compare, which bolds no such model as best."""

from __future__ import annotations

import io

from rich.console import Console

from glaucli.cli.compare import MAIN, compare_table
from glaucli.engine.metrics import chance_reason

N = {"NRG": 75, "RG": 25}


def test_chance_when_the_auc_interval_includes_half_or_accuracy_is_not_above_the_majority():
    good = {"auc": 0.9, "accuracy": 0.85}
    assert chance_reason(good, {"auc": [0.82, 0.96]}, N) is None
    # issue 27's basic-cnn on odir-dev: test AUC 0.525, CI 0.32-0.70
    assert "0.320-0.700 includes 0.5" in chance_reason({"auc": 0.525, "accuracy": 0.8}, {"auc": [0.32, 0.70]}, N)
    # its mobilenet: accuracy 0.385 below the 0.75 of always answering NRG
    reason = chance_reason({"auc": 0.57, "accuracy": 0.385}, {"auc": [0.51, 0.66]}, N)
    assert reason == "accuracy 0.385 is not above the 0.750 of always answering NRG"
    assert chance_reason({"auc": 0.75, "accuracy": 0.75}, {}, N) is not None  # equal is not above
    assert "AUC 0.480 is not above 0.5" in chance_reason({"auc": 0.48, "accuracy": 0.9}, {}, N)  # no bootstrap


def _result(value: float, chance: bool) -> dict:
    return {"metrics": {m: value for m in MAIN}, "ci95": {}, "no_better_than_chance": chance}


def test_compare_bolds_no_model_at_chance():
    console = Console(width=120, file=io.StringIO(), record=True, color_system="truecolor")
    console.print(compare_table("t", ["chance", "real"], [_result(0.9, True), _result(0.7, False)]))
    text = console.export_text(styles=True)
    assert "\x1b[1m0.700" in text and "\x1b[1m0.900" not in text
