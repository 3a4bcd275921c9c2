"""After the last epoch: the decision thresholds from the best model's own validation scores,
the warnings that say a model learned nothing, and curves.png."""

from __future__ import annotations

import csv
from pathlib import Path

from glaucli import events
from glaucli.engine import selection
from glaucli.engine.scoring import tta_views, view


def thresholds(twin, val_ds, augment: str, recipe: str) -> dict:
    """Youden thresholds on best.keras' own scores: in float32 it is the best epoch's model
    exactly (the same numbers as its epoch line); under bfloat16 its float32 copy, as it will
    be used. The TTA threshold averages the flips training showed; the identity view is the
    plain scores, not a second pass."""
    import numpy as np

    from glaucli.engine import metrics as screening

    labels, scores = selection.validation_scores(twin, val_ds)
    threshold = screening.youden_threshold(labels, scores)
    views = tta_views(augment, recipe)
    flipped = [selection.validation_scores(twin, val_ds.map(lambda x, y, v=v: (view(x, v), y)))[1]
               for v in views if v != "identity"]
    tta_scores = np.mean([scores] + flipped, axis=0)  # every view list starts with "identity"
    return {"threshold": threshold, "threshold_method": "youden (validation)", "tta_views": views,
            "threshold_tta": screening.youden_threshold(labels, tta_scores),
            "metrics": {"validation": screening.screening_metrics(labels, scores, threshold)},
            "labels": labels, "scores": scores}


def quality_warnings(val_metrics: dict, threshold: float, labels, scores) -> list[str]:
    """What says a model learned nothing or is no better than chance (metrics.chance_reason,
    the judgement evaluate, report and compare make too); never shown as a result without a word."""
    import numpy as np

    from glaucli.data.layout import CLASSES
    from glaucli.engine import metrics as screening

    causes = ("the learning rate (--lr), too few or unbalanced training images, "
              "BatchNorm or frozen layers, or too few epochs")
    found = []
    auc = val_metrics.get("auc", float("nan"))
    if float(np.ptp(scores)) < 1e-6:
        found.append(f"the model gives every validation image the same score ({float(scores[0]):.4f}): "
                     f"it learned nothing; check {causes}")
    elif auc == auc and auc <= 0.55:
        found.append(f"validation AUC {auc:.3f} is at chance level: the model learned little; check {causes}")
    elif len(set(labels)) == 2:
        ci95 = screening.bootstrap_ci(labels, scores, threshold, n=1000)
        counts = {cls: int(np.sum(np.asarray(labels) == i)) for i, cls in enumerate(CLASSES)}
        reason = screening.chance_reason(val_metrics, ci95, counts)
        if reason:
            found.append(f"no better than chance on the validation split: {reason}")
    if threshold <= 0.0 or threshold >= 1.0:
        found.append(f"the decision threshold is {threshold:.3f}: every image gets the same verdict")
    return found


def plot_curves(run: Path, on_event: events.Dispatcher, best: dict | None = None) -> None:
    """curves.png: loss, accuracy and AUC per epoch over all phases. Never fails a run."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        with open(run / "history.csv") as fh:
            rows = list(csv.DictReader(fh))
        epochs = [int(r["epoch"]) for r in rows]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        for ax, key in zip(axes, ("loss", "accuracy", "auc")):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = [float(r[prefix + key]) if r.get(prefix + key) else float("nan") for r in rows]
                ax.plot(epochs, values, style, marker="o", ms=3, label=(prefix or "train_") + key)
            for i in range(1, len(rows)):
                if rows[i]["phase"] != rows[i - 1]["phase"]:
                    ax.axvline(epochs[i] - 0.5, color="grey", lw=0.8, ls=":")
            if best:
                ax.axvline(best["epoch"], color="tab:green", lw=1.2, alpha=0.6,
                           label=f"best epoch {best['epoch']}")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(key)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(run / "curves.png", dpi=110)
        plt.close(fig)
    except Exception as exc:  # noqa: BLE001 - a plot must never fail a finished run
        on_event.warn(f"could not draw curves.png ({type(exc).__name__}: {exc})")
