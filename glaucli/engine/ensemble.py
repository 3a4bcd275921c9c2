"""Ensembles of trained runs (mean, vote, stack) as first-class runs under runs/ensemble/."""

from __future__ import annotations

from pathlib import Path

from glaucli import config, events, runs
from glaucli.engine import metrics as screening
from glaucli.engine import ood
from glaucli.engine.scoring import load_model, model_image_size, scores_of
from glaucli.errors import InputError, UsageError
from glaucli.models import ensemble as builders

METHODS = ("concat", "mean", "vote", "stack")


def _cv_threshold(features, labels, seed: int = 0):
    """Logistic regression on member logits; the threshold from out-of-fold predictions."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = max(2, min(5, int(np.bincount(labels).min())))
    head = LogisticRegression(C=1.0)
    oof = cross_val_predict(head, features, labels, method="predict_proba",
                            cv=StratifiedKFold(folds, shuffle=True, random_state=seed))[:, 1]
    head.fit(features, labels)
    return head, screening.youden_threshold(labels, oof), folds


def combine(method: str, member_args: list[str], data: Path | None = None, name: str | None = None,
            runs_dir: Path | None = None, *, on_event: events.Listeners = None) -> tuple[Path, dict]:
    """Build, fit (threshold or stacking head) and save an ensemble of trained runs. `on_event`:
    Message on the way, Warned if the distribution check cannot be fitted."""
    import numpy as np

    from glaucli.engine.devices import versions
    from glaucli.models.saving import save_atomic

    if method not in ("mean", "vote", "stack"):
        raise UsageError(f"unknown ensemble method {method!r}", hint="methods: " + ", ".join(METHODS))
    if len(member_args) < 2:
        raise UsageError(f"an ensemble needs at least two members (got {len(member_args)})")
    if name is not None:
        from glaucli.safety import component

        component(name, "--name")
    on_event = events.dispatcher(on_event)
    started = runs.now()
    root = config.runs_dir(runs_dir)
    members = [runs.resolve_run(arg, root) for arg in member_args]
    dataset = runs.run_collection(members[0].meta, members[0].path, data)  # the first member's data
    val_pairs = dataset.require("validation")
    labels = [y for _, y in val_pairs]
    if method == "stack" and min(labels.count(0), labels.count(1)) < 2:
        raise InputError(f"stack fits its head by cross-validation on the validation split, which needs at least "
                         f"2 images per class (it has {labels.count(0)} NRG, {labels.count(1)} RG)",
                         hint="use a larger validation split, or ensemble mean/vote")
    models = [load_model(m.model_path) for m in members]
    sizes = [model_image_size(m) for m in models]
    on_event.message(f"Scoring {len(members)} members on {len(val_pairs)} validation images")
    member_scores = np.array([scores_of(model, val_pairs) for model in models]).T  # (n, members)
    extra: dict = {}
    if method == "mean":
        model = builders.build_mean(models, sizes)
        threshold = screening.youden_threshold(labels, member_scores.mean(axis=1))
        extra["threshold_method"] = "youden (validation)"
    elif method == "vote":
        model = builders.build_vote(models, sizes, [m.threshold for m in members])
        threshold = 0.5
        extra["threshold_method"] = "majority of member verdicts"
    else:
        clipped = np.clip(member_scores, 1e-6, 1 - 1e-6)
        head, threshold, folds = _cv_threshold(np.log(clipped / (1 - clipped)), labels)
        model = builders.build_stack(models, sizes, head.coef_[0], float(head.intercept_[0]))
        extra.update(threshold_method=f"youden on {folds}-fold out-of-fold predictions (validation)",
                     stack_coef=[float(c) for c in head.coef_[0]], stack_intercept=float(head.intercept_[0]))
    scores = scores_of(model, val_pairs)
    run = runs.new_run_dir(root, "ensemble", name or method)
    save_atomic(model, run / runs.BEST)
    meta = runs.run_meta(
        "ensemble", "complete", started_at=started, backbone=f"{method}({', '.join(m.name for m in members)})",
        image_size=max(sizes), preprocessing="per member", threshold=threshold,
        data=dataset.describe(), synthetic=dataset.synthetic, versions=versions(), method=method, **extra,
        members=[{"run": str(m.path), "layer": f"member_{i}", "image_size": s, "threshold": m.threshold,
                  "gradcam_layer": m.meta.get("gradcam_layer")}
                 for i, (m, s) in enumerate(zip(members, sizes))])
    meta["metrics"] = {"validation": screening.screening_metrics(labels, scores, threshold)}
    meta["ood"] = ood.after_training(run, meta, model, dataset.require("train"), val_pairs, 32,
                                     on_event)
    runs.write_meta(run, meta)
    return run, meta
