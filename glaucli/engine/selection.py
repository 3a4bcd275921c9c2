"""Which epoch is best: exact validation figures from the epoch's own validation scores.

Keras' streaming AUC (200 thresholds) reaches 1.0 early on a small validation split and
a strict `>` then keeps the first epoch that got there, however much the loss improves
later. Here every epoch is scored with scikit-learn's exact AUC on its validation
scores, ties go to the lower validation loss, and the same numbers are logged, printed,
checkpointed and reported, so no two validation figures disagree. (Under bfloat16 an epoch
scores the bfloat16 model and best.keras is its float32 copy: a close pair may swap.)
"""

from __future__ import annotations

import math
import weakref

import numpy as np

EPSILON = 1e-7  # Keras' probability clip in binary cross-entropy


def validation_scores(model, val_ds) -> tuple[np.ndarray, np.ndarray]:
    """(labels, P(RG)) over a labelled dataset, in order. A plain loop over a traced forward
    pass: Model.predict is not usable under every distribution strategy. The training-time
    twin of scoring.scores_of, kept apart because it scores a tf.data dataset (decoded images
    or cached features) inside the fit loop; everything that scores image files goes through
    scoring.score_paths."""
    forward = traced(model)
    labels, scores = [], []
    for x, y in val_ds:
        scores.append(np.asarray(forward(x), dtype=np.float64).reshape(-1))
        labels.append(np.asarray(y).reshape(-1))
    return np.concatenate(labels).astype(int), np.concatenate(scores)


_TRACED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def traced(model):
    """`model(x, training=False)` as a tf.function, traced once per model and batch shape:
    eager calls ran Xception's validation ~1.8x slower on CPU (12.5 against 22 img/s), a
    third of a fine-tuning epoch (README, Performance)."""
    if model not in _TRACED:
        from glaucli.tf import tensorflow

        ref = weakref.ref(model)  # a strong reference here would keep the key alive for ever
        _TRACED[model] = tensorflow().function(lambda x: ref()(x, training=False), reduce_retracing=True)
    return _TRACED[model]


def validation_logs(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """val_loss (binary cross-entropy), val_accuracy (at 0.5), val_auc (exact; NaN with one class)."""
    from sklearn.metrics import roc_auc_score

    p = np.clip(scores, EPSILON, 1 - EPSILON)
    loss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    auc = float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else float("nan")
    return {"val_loss": loss, "val_accuracy": float(np.mean((scores >= 0.5) == labels)), "val_auc": auc}


def better(logs: dict, best: dict | None) -> bool:
    """Whether an epoch's validation logs beat the best so far: a higher exact AUC, or the
    same AUC with a lower loss. A NaN loss never wins; a NaN AUC (one class) compares by loss."""
    loss, auc = logs.get("val_loss", math.nan), logs.get("val_auc", math.nan)
    if math.isnan(loss):
        return False
    if best is None:
        return True
    best_auc = best.get("val_auc", math.nan)
    if not math.isnan(auc) and (math.isnan(best_auc) or auc != best_auc):
        return math.isnan(best_auc) or auc > best_auc
    if math.isnan(auc) and not math.isnan(best_auc):
        return False
    return loss < best.get("val_loss", math.inf)
