"""The distribution check: is an image like the ones the model was trained on?

At the end of training the backbone's pooled features of the training split
are summarised as a Gaussian (mean and a Ledoit-Wolf shrunk covariance, kept
as its top principal axes plus one residual variance, so a 2048-d backbone
stores ~2 MB); an image's score is its Mahalanobis distance to it; the
cut-off is the 99th percentile of out-of-sample scores: the validation images'
and the training images' own, each scored by a Gaussian fitted without it
(K folds), so a split of 16 validation images no longer sets it alone. An
ensemble of runs keeps one Gaussian per member and scores an image by the
mean of the members' distances, each divided by that member's own cut-off.
Together with the cheap fundus check (data/fundus.py) this decides whether
predict answers at all. It is a statistical guard, not a quality grader.
"""

from __future__ import annotations

from pathlib import Path

from glaucli import events, runs
from glaucli.data.fundus import FundusCheck
from glaucli.engine.mahalanobis import PERCENTILE, Gaussian, combine, fit
from glaucli.safety import atomic_path

OOD_FILE = "ood.npz"
MAX_TRAIN = 4000       # training images summarised (a seeded random subset above this)


# -- which features: one part per model, or per member of an ensemble of runs -------------------

def _parts(model, meta: dict) -> list[tuple[str, object]]:
    """(label, symbolic pooled features on `model`'s input) for each part scored."""
    from glaucli.engine.features import feature_model, pooled_output

    names = {layer.name for layer in model.layers}
    if "member_0" not in names:  # a flat classifier (also ensemble concat)
        return [("model", pooled_output(model, meta.get("gradcam_layer")))]
    parts, x = [], model.inputs[0]
    for i, member in enumerate(meta.get("members") or []):
        nested = model.get_layer(f"member_{i}")
        inp = model.get_layer(f"resize_{i}")(x) if f"resize_{i}" in names else x
        parts.append((f"member_{i}", feature_model(nested, member.get("gradcam_layer"), f"features_{i}")(inp)))
    if not parts:
        raise ValueError("an ensemble without members recorded in meta.json")
    return parts


def scoring_model(model, meta: dict):
    """One Keras model, one forward pass: [P(RG), features of part 0, part 1, ...]; and the
    parts' labels."""
    from glaucli.tf import keras

    parts = _parts(model, meta)
    return keras().Model(model.inputs, [model.outputs[0]] + [f for _, f in parts]), [label for label, _ in parts]


# -- fitting --------------------------------------------------------------------------------------

def _features(scorer, pairs, size: int, batch_size: int) -> list:
    import numpy as np

    from glaucli.data.pipeline import make_dataset
    from glaucli.engine.selection import traced

    forward = traced(scorer)
    chunks: list[list] = []
    for x in make_dataset(pairs, size, batch_size, with_labels=False):
        outs = forward(x)
        chunks.append([np.asarray(o, dtype=np.float32) for o in outs[1:]])
    return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]


def calibrate(run: Path, meta: dict, model, train_pairs, val_pairs, batch_size: int = 32,
              percentile: float = PERCENTILE, seed: int = 0) -> dict:
    """Fit the check on the training split, set its cut-off on validation; writes RUN/ood.npz
    and returns what meta.json records under "ood"."""
    import random

    import numpy as np

    if len(train_pairs) > MAX_TRAIN:
        train_pairs = random.Random(seed).sample(list(train_pairs), MAX_TRAIN)
    scorer, labels = scoring_model(model, meta)
    size = int(model.inputs[0].shape[1])
    train = _features(scorer, train_pairs, size, batch_size)
    val = _features(scorer, val_pairs, size, batch_size)
    fitted = fit(train, val, percentile, seed)
    gaussians, scales, (cutoff, empirical, bound) = fitted.gaussians, fitted.scales, fitted.cutoff
    val_scores = fitted.validation_scores
    arrays = {"validation_scores": val_scores.astype(np.float32), "scales": np.asarray(scales, np.float32),
              "out_of_fold_scores": fitted.out_of_fold_scores.astype(np.float32)}
    for i, g in enumerate(gaussians):
        arrays.update({f"{i}_mean": g.mean, f"{i}_axes": g.axes, f"{i}_variances": g.variances,
                       f"{i}_residual": np.float64(g.residual)})
    with atomic_path(run / OOD_FILE) as tmp:
        np.savez(tmp, **arrays)
    train_scores = combine([g.distance(f) for g, f in zip(gaussians, train)], scales)
    return {
        "file": OOD_FILE, "method": "mahalanobis (ledoit-wolf covariance) on pooled backbone features",
        "parts": labels,
        "feature_dims": [int(f.shape[1]) for f in train], "components": [int(g.axes.shape[0]) for g in gaussians],
        "percentile": percentile, "cutoff": round(cutoff, 6),
        "cutoff_empirical": round(empirical, 6), "cutoff_lognormal": round(bound, 6),
        "n_train": len(train_pairs), "n_validation": len(val_pairs), "n_out_of_fold": len(fitted.out_of_fold_scores),
        "validation": {"median": round(float(np.median(val_scores)), 4), "max": round(float(val_scores.max()), 4)},
        "train_median": round(float(np.median(train_scores)), 4), "fitted_at": runs.now(),
    }


def after_training(run: Path, meta: dict, model, train_pairs, val_pairs, batch_size: int,
                   on_event: events.Dispatcher) -> dict | None:
    """The hook at the end of training: the check for this run, or None (warned) if it
    cannot be fitted; it never fails a finished run."""
    on_event.message("Fitting the distribution check on the training split")
    try:
        return calibrate(run, meta, model, train_pairs, val_pairs, batch_size, seed=meta.get("seed") or 0)
    except Exception as exc:  # noqa: BLE001 - a finished run is worth more than its guard
        on_event.warn(f"no distribution check for this run ({type(exc).__name__}: {str(exc)[:160]}); "
                      f"add it later with: glaucli calibrate-ood {run}")
        return None


# -- using it -------------------------------------------------------------------------------------

class Guard:
    """Decides per image whether predict answers: the fundus check and, when the run has
    one, the distribution check, computed in the same forward pass as P(RG)."""

    def __init__(self, model, run: runs.Run | None):
        import numpy as np

        self.model, self.scorer, self.gaussians, self.cutoff = model, None, [], None
        info = (run.meta.get("ood") if run else None) or {}
        path = run.path / info.get("file", OOD_FILE) if run and info else None
        if path is not None and path.is_file():
            with np.load(path) as z:
                n = len(info.get("parts") or [0])
                self.gaussians = [Gaussian(z[f"{i}_mean"], z[f"{i}_axes"], z[f"{i}_variances"],
                                           float(z[f"{i}_residual"])) for i in range(n)]
                self.scales = [float(s) for s in z["scales"]]
            self.cutoff = float(info["cutoff"])
            self.scorer = scoring_model(model, run.meta)[0]

    @property
    def has_distribution(self) -> bool:
        return self.scorer is not None

    def predict(self, batch, tta: bool = False):
        """(P(RG), distribution scores or None) for a float32 batch of raw RGB images."""
        import numpy as np

        from glaucli.engine.scoring import predict_batch, views_of

        if self.scorer is None:
            return predict_batch(self.model, batch, tta), None
        outs = self.scorer.predict_on_batch(batch)
        probs = np.asarray(outs[0]).reshape(-1)
        flips = [v for v in views_of(tta) if v != "identity"]
        if flips:  # the flips change P(RG) only; the check looks at the photo as given
            probs = np.mean([probs, *(predict_batch(self.model, batch, [v]) for v in flips)], axis=0)
        scores = combine([g.distance(np.asarray(f)) for g, f in zip(self.gaussians, outs[1:])], self.scales)
        return probs, scores

    def judge(self, fundus: FundusCheck | None, score: float | None) -> dict:
        """The per-image "ood" record that predict reports: `reason` is the most basic failure
        (contract.NOT_ASSESSED's code: not a fundus photograph, then its quality, then unlike
        the training photographs), `reasons` every failure in words; `colour_processed` says the
        photograph's colours were processed (contrast-enhanced), which the fundus check allows."""
        reasons = list(fundus.reasons) if fundus is not None else []
        reason = fundus.reason if fundus is not None else None
        if score is not None and score > self.cutoff:
            reasons.append(f"unlike this run's training photographs (score {score:.3g} > cut-off {self.cutoff:.3g})")
            reason = reason or "unlike_training"
        return {"score": None if score is None else round(float(score), 4),
                "cutoff": None if self.cutoff is None else round(self.cutoff, 4),
                "fundus_check": None if fundus is None else fundus.result,
                "flag": bool(reasons), "reason": reason,
                "colour_processed": bool(fundus and fundus.measures.get("colour_processed")), "reasons": reasons}


def flagged_summary(labels, scores, threshold: float, records: list[dict | None], guard: Guard) -> dict:
    """evaluate's "ood" block: how many images the checks flag, and the metrics without them."""
    from collections import Counter

    from glaucli.data.layout import CLASSES
    from glaucli.engine import metrics as screening

    flags = [bool(r and r["flag"]) for r in records]
    keep = [i for i, f in enumerate(flags) if not f]
    kept_labels = [labels[i] for i in keep]
    both = len(set(kept_labels)) == 2
    return {
        "checks": ["fundus", "distribution"] if guard.has_distribution else ["fundus"],
        "cutoff": guard.cutoff, "flagged": sum(flags), "n": len(flags),
        "share": round(sum(flags) / max(1, len(flags)), 4),
        "fundus_failed": sum(bool(r and r["fundus_check"] == "fail") for r in records),
        "beyond_cutoff": sum(bool(r and r["score"] is not None and r["score"] > guard.cutoff) for r in records),
        # each flagged image once, by its most basic reason (contract.NOT_ASSESSED's codes)
        "reasons": dict(Counter(r["reason"] for r in records if r and r["flag"])),
        "n_assessed": {cls: kept_labels.count(i) for i, cls in enumerate(CLASSES)},
        # The headline "metrics" keep every image; these leave the flagged ones out.
        "metrics_assessed": screening.screening_metrics(kept_labels, [scores[i] for i in keep], threshold)
        if both else None,
    }


def calibrate_run(run: runs.Run, data: Path | None = None, percentile: float = PERCENTILE,
                  batch_size: int = 32, *, on_event: events.Listeners = None) -> dict:
    """`glaucli calibrate-ood RUN`: add the check to a run trained before it existed (or refit
    it), without retraining; updates meta.json and returns its "ood" record."""
    from glaucli.engine.scoring import load_model
    from glaucli.errors import InputError, UsageError

    if not 50 <= percentile < 100:
        raise UsageError("--percentile must be within [50, 100)")
    if not (run.path / runs.META).is_file():
        raise InputError(f"{run.path} has no {runs.META}; calibrate-ood needs a run folder")
    # the run's own data unless told otherwise; its notes and warnings go to on_event
    dataset = runs.run_collection(run.meta, run.path, data, events.dispatcher(on_event))
    model = load_model(run.model_path)
    info = calibrate(run.path, run.meta, model, dataset.require("train"), dataset.require("validation"),
                     batch_size, percentile, seed=run.meta.get("seed") or 0)
    meta = runs.read_meta(run.path) or run.meta
    meta["ood"] = info
    runs.write_meta(run.path, meta)
    return info
