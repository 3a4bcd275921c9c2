"""The decision threshold: which one a run's scores are cut at, and the TTA views it goes with.
evaluate and predict both ask here, so a verdict means the same in both."""

from __future__ import annotations

from glaucli import events
from glaucli.data import collection as collections
from glaucli.engine import calibration
from glaucli.engine import metrics as screening
from glaucli.engine.scoring import TTA_VIEWS, scores_of
from glaucli.errors import InputError
from glaucli.runs import Run, run_collection


def run_views(run: Run, tta: bool):
    """The TTA views for `run`: those its training showed (meta.json), else every flip."""
    return (run.meta.get("tta_views") or list(TTA_VIEWS)) if tta else False


def decision_threshold(run: Run, model, dataset: collections.Collection | None, views,
                       given: float | None = None, target_specificity: float | None = None,
                       batch_size: int = 32, evaluated: tuple | None = None, *,
                       on_event: events.Listeners = None) -> tuple[float, str]:
    """The threshold on the (calibrated) P(RG) scale and how it was chosen: "given",
    "validation-youden", "target-specificity" (on validation scores) or
    "target-specificity-recomputed" (a collection without a validation split: on the
    `evaluated` (labels, scores) themselves, optimistic). Validation scores are computed the
    way the threshold is used: with TTA when `views` asks for it (the run's stored TTA
    threshold, else chosen now). `on_event`: a Message before each choice made here."""
    on_event = events.dispatcher(on_event)
    temperature = calibration.temperature_of(run.meta)
    if given is not None:
        return float(given), "given"
    if target_specificity is None and not views:  # chosen on raw scores; mapped, verdicts unchanged
        return calibration.scale_one(run.threshold, temperature), \
            "validation-youden" if "threshold" in run.meta else "default"
    if target_specificity is None and run.meta.get("threshold_tta") is not None \
            and run.meta.get("tta_views") == list(views):
        return calibration.scale_one(float(run.meta["threshold_tta"]), temperature), "validation-youden"
    unusable = ""
    if dataset is None:
        try:
            dataset = run_collection(run.meta, run.path)
        except InputError as exc:  # predict has no --data: say why, then ask for --threshold
            unusable = f" ({exc.message})"
    if dataset is None or "validation" not in dataset.splits():
        if target_specificity is not None and evaluated is not None:
            labels, scores = evaluated
            threshold, reached = screening.threshold_for_specificity(labels, scores, target_specificity)
            on_event.message(f"Threshold {threshold:.4f} reaches specificity {reached:.4f} on the evaluated data "
                   "itself (no validation split: optimistic)")
            return threshold, "target-specificity-recomputed"
        raise InputError(f"no validation split to choose the {'TTA ' if views else ''}threshold of {run.path} on"
                         + unusable,
                         hint="pass --threshold, or --data with a validation split")
    val_pairs = dataset.require("validation")
    val_labels = [y for _, y in val_pairs]
    val_scores = calibration.scale(scores_of(model, val_pairs, batch_size, views), temperature)
    if target_specificity is None:
        on_event.message("Choosing the TTA threshold on the validation split (this run stored none)")
        return screening.youden_threshold(val_labels, val_scores), "validation-youden"
    on_event.message(f"Choosing the threshold for specificity {target_specificity:g} on the validation split")
    threshold, reached = screening.threshold_for_specificity(val_labels, val_scores, target_specificity)
    on_event.message(f"Threshold {threshold:.4f} reaches specificity {reached:.4f} on validation")
    return threshold, "target-specificity"
