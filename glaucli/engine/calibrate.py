"""`glaucli calibrate RUN`: fit temperature scaling on the validation split and store it in the
run's meta.json (the model file is unchanged; evaluate, predict and report apply it)."""

from __future__ import annotations

from glaucli import events, runs
from glaucli.engine import calibration
from glaucli.engine.scoring import load_model, scores_of
from glaucli.errors import InputError


def calibrate(run: runs.Run, data=None, batch_size: int = 32, tta: bool = False,
              *, on_event: events.Listeners = None) -> dict:
    """Fit T on the validation split; returns the `calibration` block, with ECE, Brier and
    log-loss before/after on validation (where T was fitted) and on test (held out) if present.
    It is written to meta.json only when T helps: `"kept": false` and a `"reason"` when it sits on
    the edge of the search range or does not lower the validation log-loss (meta.json untouched)."""
    if not (run.path / runs.META).is_file():
        raise InputError(f"{run.model_path} has no {runs.META} beside it to store the calibration in",
                         hint="calibrate a run folder made by glaucli train or glaucli ensemble")
    # the run's own data unless told otherwise; its notes and warnings go to on_event
    dataset = runs.run_collection(run.meta, run.path, data, events.dispatcher(on_event))
    model = load_model(run.model_path)
    val_pairs = dataset.require("validation")
    val_labels = [y for _, y in val_pairs]
    val_scores = scores_of(model, val_pairs, batch_size, tta)  # raw: never fit on already-scaled scores
    temperature = calibration.fit_temperature(val_labels, val_scores)
    block = {"method": "temperature", "temperature": temperature, "fitted_on": "validation",
             "tta": tta, "fitted_at": runs.now(), "data": dataset.describe()["path"],
             "validation": _before_after(val_labels, val_scores, temperature)}
    reason = calibration.why_not_keep(temperature, block["validation"]["log_loss_before"],
                                      block["validation"]["log_loss_after"])
    block["kept"] = reason is None
    if reason:
        block["reason"] = reason
    if "test" in dataset.splits():
        test_pairs = dataset.require("test")
        block["test"] = _before_after([y for _, y in test_pairs],
                                      scores_of(model, test_pairs, batch_size, tta), temperature)
    if reason:
        return block
    meta = runs.read_meta(run.path) or run.meta  # re-read: keep whatever else changed meanwhile
    meta["calibration"] = block
    runs.write_meta(run.path, meta)
    return block


def reset(run: runs.Run) -> dict | None:
    """Remove the run's temperature from meta.json (undo `calibrate`); returns the removed block,
    None when there was none (nothing written then)."""
    if not (run.path / runs.META).is_file():
        raise InputError(f"{run.model_path} has no {runs.META} beside it", hint="a run folder holds the calibration")
    meta = runs.read_meta(run.path) or run.meta
    removed = meta.pop("calibration", None)
    if removed is not None:
        runs.write_meta(run.path, meta)
    return removed


def _before_after(labels, scores, temperature: float) -> dict:
    scaled = calibration.scale(scores, temperature)
    return {"n": len(labels),
            "ece_before": calibration.ece(labels, scores), "ece_after": calibration.ece(labels, scaled),
            "brier_before": calibration.brier(labels, scores), "brier_after": calibration.brier(labels, scaled),
            "log_loss_before": calibration.log_loss(labels, scores),
            "log_loss_after": calibration.log_loss(labels, scaled)}
