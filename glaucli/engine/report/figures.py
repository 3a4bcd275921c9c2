"""The report's figures as inline `data:` URIs (PNG from matplotlib, JPEG for photos), so a page
needs no file beside it and no network."""

from __future__ import annotations

import base64
import io
from pathlib import Path

BLUE, RED, GREY = "#1f5fa8", "#c0392b", "#888888"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def data_uri(raw: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def figure_uri(fig) -> str:
    """A matplotlib figure as a PNG data URI (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    _plt().close(fig)
    return data_uri(buf.getvalue(), "image/png")


def image_uri(image, longest: int = 360) -> str:
    """A PIL image or an RGB array, shrunk to `longest` px on its long side, as a JPEG data URI."""
    import numpy as np
    from PIL import Image

    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype="uint8"))
    img = img.convert("RGB")
    img.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return data_uri(buf.getvalue(), "image/jpeg")


def file_uri(path: Path, longest: int = 360) -> str:
    from PIL import Image

    with Image.open(path) as img:
        return image_uri(img, longest)


def roc(labels, scores, points: list[dict]) -> str:
    """ROC curve with the operating points (the run's threshold and the specificity targets)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _plt()
    fpr, tpr, _ = roc_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.plot(fpr, tpr, color=BLUE, lw=2, label=f"ROC (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], ":", color=GREY)
    for point, marker in zip(points, ("o", "s", "^")):
        colour = RED if marker == "o" else "black"
        ax.plot([1 - point["specificity"]], [point["sensitivity"]], marker, ms=8, color=colour,
                mfc=RED if marker == "o" else "white", label=f"{point['label']} (t = {point['threshold']:.3f})")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title="ROC")
    ax.legend(loc="lower right", fontsize=7.5)
    fig.tight_layout()
    return figure_uri(fig)


def pr(labels, scores, point: dict) -> str:
    """Precision-recall curve with the run's operating point; the dotted line is the prevalence."""
    import numpy as np
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _plt()
    precision, recall, _ = precision_recall_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.plot(recall, precision, color=BLUE, lw=2, label=f"PR (AP {average_precision_score(labels, scores):.3f})")
    ax.axhline(float(np.mean(labels)), ls=":", color=GREY, label="prevalence")
    ax.plot([point["sensitivity"]], [point["precision"]], "o", ms=8, color=RED,
            label=f"{point['label']} (t = {point['threshold']:.3f})")
    ax.set(xlabel="recall (sensitivity)", ylabel="precision", xlim=(-0.01, 1.01), ylim=(-0.01, 1.03),
           title="Precision-recall")
    ax.legend(loc="lower left", fontsize=7.5)
    fig.tight_layout()
    return figure_uri(fig)


def distribution(labels, scores, threshold: float) -> str:
    """P(RG) per true class, with the threshold: where the classes overlap is where errors live."""
    import numpy as np

    plt = _plt()
    y, p = np.asarray(labels), np.asarray(scores)
    fig, ax = plt.subplots(figsize=(4.4, 3.2))
    bins = np.linspace(0, 1, 21)
    ax.hist(p[y == 0], bins=bins, alpha=0.6, color=BLUE, label="true NRG")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, color=RED, label="true RG")
    ax.axvline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set(xlabel="P(RG)", ylabel="images", title="Scores by true class")
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    return figure_uri(fig)


def reliability(labels, scores) -> str:
    from glaucli.engine import calibration

    buf = io.BytesIO()
    calibration.plot(buf, labels, scores)
    return data_uri(buf.getvalue(), "image/png")


def curves(rows: list[dict], best_epoch: int | None) -> dict[str, str]:
    """Loss and AUC per epoch (train solid, validation dashed), later phases shaded, the best epoch
    marked: one figure each, so a narrow screen stacks them."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    epochs = [int(r["epoch"]) for r in rows]
    out = {}
    for key in ("loss", "auc"):
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        for prefix, style, name in (("", "-", "train"), ("val_", "--", "validation")):
            values = [float(r[prefix + key]) if r.get(prefix + key) not in (None, "") else float("nan") for r in rows]
            ax.plot(epochs, values, style, marker="o", ms=3, label=f"{name} {key}")
        for i in range(1, len(rows)):
            if rows[i].get("phase") != rows[i - 1].get("phase"):
                ax.axvspan(epochs[i] - 0.5, epochs[-1] + 0.5, color="#f0f0f0", zorder=0)
                ax.text(epochs[i] - 0.4, ax.get_ylim()[1], rows[i]["phase"], fontsize=7, va="top", color=GREY)
        if best_epoch is not None:
            ax.axvline(best_epoch, color=RED, lw=1.2, label=f"best epoch {best_epoch}")
        ax.set(xlabel="epoch", title=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7.5)
        fig.tight_layout()
        out[key] = figure_uri(fig)
    return out


def reliability_overlay(entries: list[tuple[str, list, list]]) -> str:
    """Several runs' reliability curves (10 bins) on one plot (compare page)."""
    from glaucli.engine import calibration

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.6))
    ax.plot([0, 1], [0, 1], ":", color=GREY, label="perfect calibration")
    for name, labels, scores in entries:
        rows = [r for r in calibration.reliability(labels, scores) if r["count"]]
        shown = name.replace("$", r"\$")
        ax.plot([r["mean_probability"] for r in rows], [r["fraction_rg"] for r in rows], "o-", ms=4,
                label=f"{shown} (ECE {calibration.ece(labels, scores):.3f})")
    ax.set(xlabel="predicted P(RG)", ylabel="observed fraction RG", xlim=(0, 1), ylim=(-0.02, 1.02),
           title="Reliability (10 bins)")
    ax.legend(loc="upper left", fontsize=7.5)
    fig.tight_layout()
    return figure_uri(fig)


def roc_overlay(entries: list[tuple[str, list, list]]) -> str:
    """Several runs' ROC curves on one plot (compare page)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.6))
    for name, labels, scores in entries:
        fpr, tpr, _ = roc_curve(labels, scores)
        shown = name.replace("$", r"\$")  # a run name is text, never matplotlib mathtext
        ax.plot(fpr, tpr, lw=1.8, label=f"{shown} (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], ":", color=GREY)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title="ROC")
    ax.legend(loc="lower right", fontsize=7.5)
    fig.tight_layout()
    return figure_uri(fig)
