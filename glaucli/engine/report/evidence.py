"""What a report shows, gathered from a run folder: a matching stored evaluation (or a fresh
one), its per-image predictions, operating points, the training history and the error gallery."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from glaucli import events, runs
from glaucli.data.labels import CLASSES
from glaucli.engine import calibration
from glaucli.engine import metrics as screening


def stored_evaluation(run: runs.Run, split: str) -> tuple[dict, Path] | None:
    """The newest evaluation under RUN/eval/ made with the settings a report uses: this split of
    the run's own data, the run's own threshold and calibration, no TTA, bootstrap intervals, and
    newer than the model file. None when there is none."""
    import json

    temperature = calibration.temperature_of(run.meta)
    expected = calibration.scale_one(run.threshold, temperature)
    model_time = run.model_path.stat().st_mtime
    found = []
    for metrics_file in (run.path / "eval").glob("*/metrics.json"):
        try:
            doc = json.loads(metrics_file.read_text())
        except (OSError, ValueError):
            continue
        cal = doc.get("calibration") or {}
        if (doc.get("split") == split and not doc.get("tta") and doc.get("ci95")
                and doc.get("external") is False
                and doc.get("threshold_source", "validation-youden") in ("run", "validation-youden")
                and math.isclose(doc.get("threshold", -1), expected, abs_tol=1e-9)
                and "bins" in cal and cal.get("temperature") == temperature
                and (metrics_file.parent / "predictions.csv").is_file()
                and metrics_file.stat().st_mtime >= model_time):
            found.append((metrics_file.stat().st_mtime, doc, metrics_file.parent))
    if not found:
        return None
    _, doc, folder = max(found, key=lambda item: item[0])
    return doc, folder


def predictions(folder: Path) -> list[dict]:
    """predictions.csv as rows with `path`, `label` (0/1) and `p` (P(RG), calibrated if it was)."""
    with open(folder / "predictions.csv", newline="") as fh:
        return [{"path": Path(r["file"]), "label": CLASSES.index(r["true_label"]), "p": float(r["probability"])}
                for r in csv.DictReader(fh)]


def operating_points(labels, scores, threshold: float) -> list[dict]:
    """Sensitivity/specificity at the run's threshold and at the thresholds reaching 90 % and 95 %
    specificity on this split's own ROC (read off it, so optimistic; `evaluate
    --target-specificity` chooses them on validation)."""
    rows = [("run's threshold", threshold)]
    if len(set(labels)) == 2:
        rows += [(f"specificity >= {target:.0%}", screening.threshold_for_specificity(labels, scores, target)[0])
                 for target in (0.90, 0.95)]
    points = []
    for label, t in rows:
        m = screening.screening_metrics(labels, scores, t)
        points.append({"label": label, "threshold": t, "sensitivity": m["sensitivity"],
                       "specificity": m["specificity"], "precision": m["precision"], "npv": m["npv"]})
    return points


def history(run_path: Path) -> list[dict]:
    try:
        with open(run_path / "history.csv", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def best_epoch(meta: dict, rows: list[dict]) -> int | None:
    """meta.json's `best_epoch` when training recorded it, else the epoch with the best validation
    AUC, ties to the lower validation loss (the rule training uses)."""
    recorded = meta.get("best_epoch")
    if isinstance(recorded, dict):
        recorded = recorded.get("epoch")
    if isinstance(recorded, int):
        return recorded

    def key(row):
        auc, loss = _number(row.get("val_auc")), _number(row.get("val_loss"))
        return (auc if auc is not None else -1.0, -(loss if loss is not None else math.inf))

    scored = [r for r in rows if _number(r.get("val_auc")) is not None]
    return int(max(scored, key=key)["epoch"]) if scored else None


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def pick_gallery(rows: list[dict], threshold: float, per_kind: int = 8, true_positives: int = 4) -> dict:
    """The most confident mistakes: false negatives with the lowest P(RG), false positives with
    the highest, and the most confident true positives for contrast."""
    fn = sorted((r for r in rows if r["label"] == 1 and r["p"] < threshold), key=lambda r: r["p"])
    fp = sorted((r for r in rows if r["label"] == 0 and r["p"] >= threshold), key=lambda r: -r["p"])
    tp = sorted((r for r in rows if r["label"] == 1 and r["p"] >= threshold), key=lambda r: -r["p"])
    return {"false negatives": fn[:per_kind], "false positives": fp[:per_kind], "true positives": tp[:true_positives]}


def gallery_cards(picked: dict, explainer, threshold: float, workdir: Path,
                  *, on_event: events.Listeners = None) -> dict:
    """Per picked image: its photo, its Grad-CAM overlay (or why there is none), P(RG), file name.
    A failed overlay is a Message to `on_event` (the card says why)."""
    on_event = events.dispatcher(on_event)
    from glaucli.engine.evaluate import VERDICTS
    from glaucli.engine.report import figures

    cards: dict[str, list[dict]] = {}
    for n, (kind, rows) in enumerate(picked.items()):
        cards[kind] = []
        for i, r in enumerate(rows):
            card = {"name": r["path"].name, "path": str(r["path"]), "p": r["p"], "true": CLASSES[r["label"]],
                    "verdict": VERDICTS[int(r["p"] >= threshold)], "photo": None, "overlay": None, "problem": None}
            try:
                card["photo"] = figures.file_uri(r["path"])
            except (OSError, ValueError) as exc:
                card["problem"] = f"photo unreadable ({type(exc).__name__})"
                cards[kind].append(card)
                continue
            if explainer is None:
                card["problem"] = "no Grad-CAM for this model"
            else:
                try:  # a file name per card: two photos with one name never share an overlay
                    out = workdir / f"{n}-{i}-{r['path'].stem}.png"
                    written = explainer.overlay(r["path"], out, r["p"], threshold)
                    card["overlay"] = figures.file_uri(Path(written) if isinstance(written, (str, Path)) else out,
                                                       longest=420)
                except Exception as exc:  # noqa: BLE001 - one failed explanation never fails the page
                    card["problem"] = f"no Grad-CAM ({type(exc).__name__}: {str(exc)[:120]})"
                    on_event.message(f"Grad-CAM failed for {r['path']}: {exc}")
            cards[kind].append(card)
    return cards
