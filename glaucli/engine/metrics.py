"""Screening metrics from labels (NRG=0, RG=1) and P(RG), computed with scikit-learn."""

from __future__ import annotations

import numpy as np

METRICS = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "npv",
           "f1", "auc", "average_precision", "pauc_90", "sens_at_95spec")


def youden_threshold(y_true, scores) -> float:
    """The threshold that maximises sensitivity + specificity - 1 (Youden's J)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y_true, scores)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thresholds[best], 0.0, 1.0))


def threshold_for_specificity(y_true, scores, target: float) -> tuple[float, float]:
    """The lowest threshold whose specificity reaches `target`; returns (threshold, specificity)."""
    from sklearn.metrics import roc_curve

    fpr, _tpr, thresholds = roc_curve(y_true, scores)
    ok = np.flatnonzero(1 - fpr >= target)
    best = ok[-1]  # roc_curve orders thresholds from high to low: the last is the most sensitive
    return float(np.clip(thresholds[best], 0.0, 1.0)), float(1 - fpr[best])


def sensitivity_at_specificity(y_true, scores, target: float = 0.95) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(np.max(tpr[1 - fpr >= target])) if np.any(1 - fpr >= target) else 0.0


def confusion(y_true, scores, threshold: float) -> dict[str, int]:
    from sklearn.metrics import confusion_matrix

    y_pred = (np.asarray(scores) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def screening_metrics(y_true, scores, threshold: float) -> dict[str, float]:
    """Every metric in METRICS. pauc_90 is roc_auc_score(max_fpr=0.1): the McClish-standardised
    partial AUC over 90-100 % specificity, in 0.5-1."""
    from sklearn import metrics as m

    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    y_pred = (scores >= threshold).astype(int)
    both = len(np.unique(y_true)) == 2
    nan = float("nan")
    return {
        "accuracy": float(m.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(m.balanced_accuracy_score(y_true, y_pred)) if both else nan,
        "sensitivity": float(m.recall_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "specificity": float(m.recall_score(y_true, y_pred, pos_label=0, zero_division=0)),
        "precision": float(m.precision_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "npv": float(m.precision_score(y_true, y_pred, pos_label=0, zero_division=0)),
        "f1": float(m.f1_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "auc": float(m.roc_auc_score(y_true, scores)) if both else nan,
        "average_precision": float(m.average_precision_score(y_true, scores)) if both else nan,
        "pauc_90": float(m.roc_auc_score(y_true, scores, max_fpr=0.1)) if both else nan,
        "sens_at_95spec": sensitivity_at_specificity(y_true, scores) if both else nan,
    }


def per_class(y_true, scores, threshold: float) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    from glaucli.data.layout import CLASSES

    y_pred = (np.asarray(scores) >= threshold).astype(int)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1], zero_division=0)
    return {cls: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, cls in enumerate(CLASSES)}


def bootstrap_ci(y_true, scores, threshold: float, n: int, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals from `n` stratified resamples (seeded)."""
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y_true == c) for c in (0, 1)]
    samples = {name: [] for name in METRICS}
    for _ in range(n):
        idx = np.concatenate([rng.choice(g, len(g), replace=True) for g in groups if len(g)])
        for name, value in screening_metrics(y_true[idx], scores[idx], threshold).items():
            samples[name].append(value)
    return {name: [float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))]
            for name, v in samples.items() if not np.all(np.isnan(v))}
