"""Evaluation: screening metrics with bootstrap intervals, confusion matrices, curves."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from glaucli import events
from glaucli.contract import SCHEMA, VERDICTS  # noqa: F401 - VERDICTS re-exported for the CLI
from glaucli.data import collection as collections
from glaucli.data.labels import CLASSES
from glaucli.engine import calibration
from glaucli.engine import metrics as screening
from glaucli.engine.scoring import load_model, scored_pairs
from glaucli.engine.threshold import decision_threshold, run_views
from glaucli.errors import UsageError
from glaucli.runs import Run, check_threshold, run_collection
from glaucli.safety import Ledger, dumps, owned_path, replaceable


def parse_gate(text: str | None) -> dict[str, float]:
    """`accuracy=0.9,auc=0.95` -> {"accuracy": 0.9, "auc": 0.95}."""
    gate: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in screening.METRICS:
            raise UsageError(f"--fail-under: {part!r} is not NAME=VALUE with a known metric",
                             hint="metrics: " + ", ".join(screening.METRICS))
        try:
            gate[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--fail-under: {value!r} is not a number") from None
        if not -1e9 < gate[name.strip()] < 1e9:  # NaN and infinities: a gate that means nothing
            raise UsageError(f"--fail-under: {part!r} is not a finite number")
    return gate


def failed_gate(result: dict, gate: dict[str, float]) -> list[str]:
    return [f"{name} {result['metrics'][name]:.4f} < {bound:g}" for name, bound in gate.items()
            if not result["metrics"][name] >= bound]


@dataclass
class Evaluation:
    """What an evaluation found, before anything is written (save_evaluation writes it)."""

    result: dict  # the metrics document (metrics.json)
    run: Run
    pairs: list  # (path, label) in order
    raw: list[float]  # P(RG) as the model gave it
    scores: list[float]  # after the run's temperature scaling, if any
    flags: list[bool] | None  # not assessed by the distribution check (None: no check ran)
    folder: str  # the default folder name under the run's eval/


def evaluate(run: Run, data: Path | collections.DataSpec | None = None, split: str | None = "test",
             threshold: float | None = None, target_specificity: float | None = None, tta: bool = False,
             bootstrap: int = 1000, output: Path | None = None, batch_size: int = 32,
             ood_check: bool = True, *, on_event: events.Listeners = None) -> tuple[dict, Path]:
    """assess() then save_evaluation(): writes metrics.json, predictions.csv and plots;
    returns (the metrics document, the output folder)."""
    on_event = events.dispatcher(on_event)
    if output is not None and output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder")
    check_output(output)
    found = assess(run, data, split, threshold, target_specificity, tta, bootstrap, batch_size, ood_check,
                   on_event=on_event)
    return found.result, save_evaluation(found, output, on_event=on_event)


def assess(run: Run, data: Path | collections.DataSpec | None = None, split: str | None = "test",
           threshold: float | None = None, target_specificity: float | None = None, tta: bool = False,
           bootstrap: int = 1000, batch_size: int = 32, ood_check: bool = True, *,
           on_event: events.Listeners = None) -> Evaluation:
    """Evaluate `run` on a split of its own data or of any other collection (`data`: a
    folder, a CSV manifest or a DataSpec; split None: test if there is one, else all).
    Writes nothing (a notebook can evaluate without touching the run folder). `on_event`:
    Message and Warned on the way, Progress("scoring", done, total, "images") per batch."""
    on_event = events.dispatcher(on_event)
    if threshold is not None and target_specificity is not None:
        raise UsageError("--threshold and --target-specificity exclude each other")
    check_threshold(threshold)
    if target_specificity is not None and not 0 < target_specificity <= 1:
        raise UsageError("--target-specificity must be within (0, 1]")
    if bootstrap < 0:
        raise UsageError("--bootstrap must not be negative")
    dataset = run_collection(run.meta, run.path, data, on_event)
    recorded = run.meta.get("data") if isinstance(run.meta.get("data"), dict) else {}
    external = dataset.fingerprint() != recorded.get("fingerprint")
    if split is None:
        split = "test" if "test" in dataset.splits() else collections.ALL
        on_event.message(f"Evaluating split {split}")
    pairs = dataset.require(split)
    model = load_model(run.model_path)
    temperature = calibration.temperature_of(run.meta)
    if temperature:
        on_event.message(f"Applying the run's temperature scaling to P(RG) (T = {temperature:.3f}, "
                         "from glaucli calibrate)")
    labels = [y for _, y in pairs]
    guard = None
    if ood_check:
        from glaucli.engine.ood import Guard

        guard = Guard(model, run)
    views = run_views(run, tta)
    scored = scored_pairs(model, pairs, batch_size, views, on_event=on_event, guard=guard)
    raw = [s.probability for s in scored]
    flags = [bool(s.ood and s.ood["flag"]) for s in scored]
    scores = calibration.scale(raw, temperature)
    threshold_given = threshold
    threshold, source = decision_threshold(run, model, dataset, views, threshold, target_specificity,
                                           batch_size, evaluated=(labels, scores), on_event=on_event)
    result = {
        "schema": SCHEMA, "run": str(run.path), "split": split, "threshold": float(threshold),
        "threshold_source": source, "tta": bool(tta), "tta_views": views or [], "bootstrap": bootstrap,
        "data": dataset.describe(), "external": external,
        "synthetic": dataset.synthetic,
        "n": {cls: labels.count(i) for i, cls in enumerate(CLASSES)},
        "metrics": screening.screening_metrics(labels, scores, threshold),
        "ci95": screening.bootstrap_ci(labels, scores, threshold, bootstrap) if bootstrap else {},
        "confusion": screening.confusion(labels, scores, threshold),
        "per_class": screening.per_class(labels, scores, threshold),
        "calibration": calibration.summary(labels, scores, temperature),
    }
    result["chance_reason"] = screening.chance_reason(result["metrics"], result["ci95"], result["n"])
    result["no_better_than_chance"] = result["chance_reason"] is not None
    if guard is not None:
        from glaucli.engine.ood import flagged_summary

        result["ood"] = flagged_summary(labels, scores, threshold, [s.ood for s in scored], guard)
    folder = eval_folder_name(split, collection_label(dataset) if external else None, tta, threshold_given,
                              target_specificity)
    return Evaluation(result, run, pairs, raw, scores, flags if guard is not None else None, folder)


OUTPUTS = ("metrics.json", "predictions.csv", "confusion_matrix.png", "confusion_matrix_normalized.png",
           "roc.png", "pr.png", "calibration.png")  # every file an evaluation writes into its folder


def check_output(output: Path | None) -> None:
    """Before any work: an --output folder may hold anything, but a file there carrying one of
    OUTPUTS' names is replaced only if glaucli provably wrote it; else a refusal (exit 2).
    The run's own eval/ folders (no --output) are glaucli's and are not checked."""
    if output is not None and output.is_dir():
        replaceable((output / name for name in OUTPUTS), "--output")


def save_evaluation(found: Evaluation, output: Path | None = None, *,
                    on_event: events.Listeners = None) -> Path:
    """Write metrics.json, predictions.csv and the plots into `output` (default: the run's
    eval/<setting>/ folder); returns the folder. A plot that fails is Warned, not raised.
    Every file goes through a temp file and gets a provenance record (safety.owned_path)."""
    on_event = events.dispatcher(on_event)
    check_output(output)
    result, threshold = found.result, found.result["threshold"]
    labels = [y for _, y in found.pairs]
    out = output or found.run.path / "eval" / found.folder
    out.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(out)
    with owned_path(out / "metrics.json", ledger) as tmp:
        tmp.write_text(dumps(result) + "\n", encoding="utf-8")
    flags = found.flags or [None] * len(found.pairs)
    with owned_path(out / "predictions.csv", ledger) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "true_label", "probability", "predicted_label", "verdict", "ood_flag"])
        for (path, y), p, flag in zip(found.pairs, found.scores, flags):
            pred = int(p >= threshold)
            writer.writerow([str(path), CLASSES[y], f"{p:.6f}", CLASSES[pred], VERDICTS[pred],
                             "" if flag is None else int(flag)])
    try:
        plot_all(out, labels, found.scores, threshold, result["confusion"], ledger)
        temperature = calibration.temperature_of(found.run.meta)
        with owned_path(out / "calibration.png", ledger) as tmp:
            calibration.plot(tmp, labels, found.scores, before=found.raw if temperature else None)
    except Exception as exc:  # noqa: BLE001 - a plot never fails an evaluation
        on_event.warn(f"plots not written ({type(exc).__name__}: {exc})")
    return out


def collection_label(dataset: collections.Collection) -> str:
    """An external collection's part of its eval folder name: its name (the tree's folder or the
    CSV's stem) and a short hash of where it is (the resolved tree, manifest and labels CSV),
    so two collections whose files share a name (a/labels.csv, b/labels.csv) never share a folder."""
    import hashlib

    where = "\n".join(str(Path(p).resolve()) for p in dataset.sources())
    return f"{dataset.root.stem}-{hashlib.sha256(where.encode()).hexdigest()[:8]}"


def eval_folder_name(split: str, collection: str | None = None, tta: bool = False,
                     threshold: float | None = None, target_specificity: float | None = None) -> str:
    """RUN/eval/<name>: the split (after the collection's name when it is not the run's own
    data), then what changed the figures: `test`, `test-tta`, `test-t0.3`, `test-spec0.95`,
    `other-1a2b3c4d-all-tta`... One folder per setting and collection, so no evaluation
    overwrites another."""
    parts = [collection, split] if collection else [split]
    if tta:
        parts.append("tta")
    if threshold is not None:
        parts.append(f"t{threshold:g}")
    if target_specificity is not None:
        parts.append(f"spec{target_specificity:g}")
    return "-".join(parts)


def plot_all(out: Path, labels, scores, threshold: float, confusion: dict, ledger: Ledger | None = None) -> None:
    """confusion_matrix.png (counts), confusion_matrix_normalized.png (row %), roc.png, pr.png.
    scikit-learn's orientation: rows = true label, columns = predicted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    y_pred = (np.asarray(scores) >= threshold).astype(int)
    for normalize, name in ((None, "confusion_matrix.png"), ("true", "confusion_matrix_normalized.png")):
        fig, ax = plt.subplots(figsize=(4.6, 4))
        ConfusionMatrixDisplay.from_predictions(labels, y_pred, labels=[0, 1], display_labels=list(CLASSES),
                                                normalize=normalize, cmap="Blues", ax=ax, colorbar=False)
        ax.set_title(("Row-normalised " if normalize else "") + f"confusion matrix (t = {threshold:.3f})")
        fig.tight_layout()
        with owned_path(out / name, ledger) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
    if len(set(labels)) == 2:
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        RocCurveDisplay.from_predictions(labels, scores, ax=ax, name="model")
        # scikit-learn writes "(Positive label: 1)"; say what 1 is.
        ax.set_xlabel("1 - specificity (NRG called RG)")
        ax.set_ylabel("sensitivity (RG found)")
        tn, fp, fn, tp = (confusion[k] for k in ("tn", "fp", "fn", "tp"))
        ax.plot([fp / max(1, fp + tn)], [tp / max(1, tp + fn)], "ro", label=f"operating point (t = {threshold:.3f})")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        with owned_path(out / "roc.png", ledger) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        PrecisionRecallDisplay.from_predictions(labels, scores, ax=ax, name="model")
        ax.set_xlabel("sensitivity / recall (RG)")
        ax.set_ylabel("precision / PPV (RG)")
        fig.tight_layout()
        with owned_path(out / "pr.png", ledger) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
