"""Calibration: is P(RG) = 0.8 right 80 % of the time? Reliability bins, expected
calibration error (ECE), Brier score, and temperature scaling.

Temperature scaling divides the model's logit by one number T fitted on the
validation split (T > 1 softens an over-confident model). It is monotonic, so the
ranking (AUC) and, with the threshold mapped the same way, every verdict stay the
same; only the probabilities change. T lives in the run's meta.json
(`"calibration"`); the model file is never touched.
"""

from __future__ import annotations

import math
from typing import Iterable

BINS = 10
EPS = 1e-7
T_RANGE = (0.05, 50.0)  # the search range of fit_temperature; a fit on its edge found no optimum inside


def reliability(y_true, scores, bins: int = BINS) -> list[dict]:
    """Equal-width bins over P(RG): per bin its range, count, mean P(RG) and observed RG fraction
    (None for an empty bin). The last bin includes 1.0."""
    import numpy as np

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(scores, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        rows.append({"lower": b / bins, "upper": (b + 1) / bins, "count": n,
                     "mean_probability": float(p[mask].mean()) if n else None,
                     "fraction_rg": float(y[mask].mean()) if n else None})
    return rows


def ece(y_true, scores, bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean |observed RG fraction - mean P(RG)|."""
    total = len(scores)
    return float(sum(r["count"] / total * abs(r["fraction_rg"] - r["mean_probability"])
                     for r in reliability(y_true, scores, bins) if r["count"])) if total else float("nan")


def brier(y_true, scores) -> float:
    import numpy as np

    y, p = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def log_loss(y_true, scores) -> float:
    """Mean negative log-likelihood: what temperature scaling minimises (ECE, on few images, is
    noisy and need not fall with it)."""
    import numpy as np

    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(scores, dtype=float), EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(p) else float("nan")


def summary(y_true, scores, temperature: float | None = None) -> dict:
    """The `calibration` block of metrics.json."""
    return {"ece": ece(y_true, scores), "brier": brier(y_true, scores), "bins": reliability(y_true, scores),
            "temperature": temperature}


def _logit(p):
    import numpy as np

    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def scale(scores, temperature: float | None):
    """P(RG) after temperature scaling (a list in, a list out; None or 1: unchanged)."""
    import numpy as np

    if temperature is None or temperature == 1:
        return [float(s) for s in scores]
    return [float(v) for v in 1 / (1 + np.exp(-_logit(scores) / temperature))]


def scale_one(score: float, temperature: float | None) -> float:
    return scale([score], temperature)[0]


def fit_temperature(y_true, scores) -> float:
    """The T > 0 that minimises the negative log-likelihood of sigmoid(logit / T) on these labels."""
    import numpy as np
    from scipy.optimize import minimize_scalar

    y = np.asarray(y_true, dtype=float)
    z = _logit(scores)

    def nll(log_t: float) -> float:
        return log_loss(y, 1 / (1 + np.exp(-z / math.exp(log_t))))

    # Searched on log T: symmetric for sharpening and softening, and T stays positive.
    best = minimize_scalar(nll, bounds=(math.log(T_RANGE[0]), math.log(T_RANGE[1])), method="bounded",
                           options={"xatol": 1e-5})
    return float(math.exp(best.x))


def why_not_keep(temperature: float, log_loss_before: float, log_loss_after: float) -> str | None:
    """Why a fitted temperature must not be kept, or None when it helps: on (within 1 % of) an
    edge of the search range the likelihood has no optimum inside it (separable or degenerate
    validation scores), and a T that does not lower the validation log-loss changes nothing
    for the better."""
    low, high = T_RANGE
    if temperature <= low * 1.01 or temperature >= high / 1.01:
        return (f"T = {temperature:.3f} sits on the edge of the search range {low:g}-{high:g}: "
                "the validation scores give no optimum inside it")
    if not log_loss_after < log_loss_before - 1e-6:
        return (f"T = {temperature:.3f} does not lower the validation log-loss "
                f"({log_loss_before:.4f} -> {log_loss_after:.4f})")
    return None


def temperature_of(meta: dict) -> float | None:
    """The run's fitted temperature, or None when `glaucli calibrate` was not run."""
    t = (meta.get("calibration") or {}).get("temperature")
    return float(t) if isinstance(t, (int, float)) and t > 0 else None


def plot(path, y_true, scores, title: str = "Reliability diagram", before: Iterable[float] | None = None) -> None:
    """calibration.png: the reliability diagram (10 bins, counts beneath); `before` adds the
    uncalibrated curve when temperature scaling was applied."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, hist) = plt.subplots(2, 1, figsize=(4.6, 5.2), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    curves = [("before scaling", before, "#999999")] if before is not None else []
    curves.append(("model" if before is None else "after scaling", scores, "#1f5fa8"))
    for label, values, colour in curves:
        rows = [r for r in reliability(y_true, list(values)) if r["count"]]
        ax.plot([r["mean_probability"] for r in rows], [r["fraction_rg"] for r in rows], "o-", color=colour,
                label=f"{label} (ECE {ece(y_true, list(values)):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("observed fraction RG")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    rows = reliability(y_true, scores)
    hist.bar([r["lower"] + 0.05 for r in rows], [r["count"] for r in rows], width=0.09, color="#1f5fa8")
    hist.set_xlabel("predicted P(RG)")
    hist.set_ylabel("images")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
