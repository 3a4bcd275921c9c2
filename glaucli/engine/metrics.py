"""Screening metrics from labels (NRG=0, RG=1) and P(RG), computed with scikit-learn."""

from __future__ import annotations

import numpy as np

METRICS = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "npv",
           "f1", "auc", "average_precision", "pauc_90", "sens_at_95spec")


def youden_threshold(y_true, scores) -> float:
    """The threshold that maximises sensitivity + specificity - 1 (Youden's J), placed halfway
    between the lowest score called RG there and the next score below it, so that a small
    validation set does not push the cut onto one image's score."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(y_true, scores, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    low = thresholds[best + 1] if best + 1 < len(thresholds) else 0.0
    return float(np.clip((thresholds[best] + low) / 2, 0.0, 1.0))


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


def fast_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The same numbers as screening_metrics in plain numpy (~50x faster), for the bootstrap's
    thousands of resamples; a test holds it equal to scikit-learn."""
    y = y_true.astype(bool)
    pred = scores >= threshold
    tp, fn = np.sum(pred & y), np.sum(~pred & y)
    fp, tn = np.sum(pred & ~y), np.sum(~pred & ~y)
    ratio = lambda a, b: float(a / b) if b else 0.0  # noqa: E731 - zero_division=0, as sklearn
    sens, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
    prec = ratio(tp, tp + fp)
    # ROC points at each distinct score, from high to low (as sklearn's roc_curve).
    order = np.argsort(-scores, kind="mergesort")
    s_sorted, y_sorted = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / max(tps[-1], 1)]
    fpr = np.r_[0.0, fps / max(fps[-1], 1)]
    stop = np.searchsorted(fpr, 0.1, side="right")
    x = np.r_[fpr[:stop], 0.1]
    yv = np.r_[tpr[:stop], np.interp(0.1, fpr, tpr)]
    partial = np.trapezoid(yv, x)
    min_area, max_area = 0.5 * 0.1 ** 2, 0.1
    precision_curve = tps / (tps + fps)
    recall_curve = tps / max(tps[-1], 1)
    return {
        "accuracy": float((tp + tn) / len(y)), "balanced_accuracy": (sens + spec) / 2,
        "sensitivity": sens, "specificity": spec, "precision": prec, "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn), "auc": float(np.trapezoid(tpr, fpr)),
        "average_precision": float(np.sum(np.diff(np.r_[0.0, recall_curve]) * precision_curve)),
        "pauc_90": float(0.5 * (1 + (partial - min_area) / (max_area - min_area))),
        "sens_at_95spec": float(np.max(tpr[1 - fpr >= 0.95])),
    }


def bootstrap_ci(y_true, scores, threshold: float, n: int, seed: int = 0) -> dict[str, list[float]]:
    """95 % percentile intervals from `n` resamples stratified by class (seeded)."""
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y_true == c) for c in (0, 1)]
    if not all(len(g) for g in groups):
        return {}
    samples = {name: [] for name in METRICS}
    for _ in range(n):
        idx = np.concatenate([rng.choice(g, len(g), replace=True) for g in groups])
        for name, value in fast_metrics(y_true[idx], scores[idx], threshold).items():
            samples[name].append(value)
    return {name: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
            for name, v in samples.items()}


def chance_reason(metrics: dict, ci95: dict, n: dict[str, int]) -> str | None:
    """Why a model is no better than chance on this split, or None: its AUC's 95 % interval
    includes 0.5 (without a bootstrap: an AUC of 0.5 or less), or its accuracy is not above
    always answering the majority class. The one judgement train, evaluate, report and compare
    share (evaluate's result carries it as `no_better_than_chance` and `chance_reason`)."""
    reasons = []
    auc, interval = metrics.get("auc"), (ci95 or {}).get("auc")
    if interval and interval[0] <= 0.5 <= interval[1]:
        reasons.append(f"the AUC's 95 % interval {interval[0]:.3f}-{interval[1]:.3f} includes 0.5")
    elif not interval and auc is not None and auc == auc and auc <= 0.5:
        reasons.append(f"AUC {auc:.3f} is not above 0.5")
    total = sum(n.values())
    if total and metrics.get("accuracy") is not None:
        majority, share = max(n.items(), key=lambda kv: kv[1])
        if metrics["accuracy"] <= share / total:
            reasons.append(f"accuracy {metrics['accuracy']:.3f} is not above the {share / total:.3f} "
                           f"of always answering {majority}")
    return "; ".join(reasons) or None
