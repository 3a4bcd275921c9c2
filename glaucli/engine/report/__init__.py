"""`glaucli report`: one self-contained HTML page per run (inline images, no network, no script),
and `compare --html`: several runs on one page in the same style.

Pages are rendered by Jinja2 with autoescaping on, so run names, file names and anything else a
user chose are text, never markup."""

from __future__ import annotations

import tempfile
from pathlib import Path

from glaucli import __version__, events, runs
from glaucli.contract import RESEARCH_NOTE
from glaucli.data.labels import CLASSES
from glaucli.data.layout import read_manifest
from glaucli.engine import calibration
from glaucli.engine.report import evidence, figures
from glaucli.errors import UsageError
from glaucli.safety import owned_path

TEMPLATES = Path(__file__).parent / "templates"
HEADLINE = ("auc", "sensitivity", "specificity", "pauc_90", "sens_at_95spec", "accuracy", "f1")


def evaluation_for(run: runs.Run, split: str, data=None, batch_size: int = 32, *,
                   on_event: events.Listeners = None) -> tuple[dict, Path, bool]:
    """A stored evaluation with the report's settings, else a fresh one: (metrics, folder, reused).
    Other data (`data`) is always evaluated afresh."""
    from glaucli.engine.evaluate import evaluate

    on_event = events.dispatcher(on_event)
    stored = evidence.stored_evaluation(run, split) if data is None else None
    if stored:
        on_event.message(f"Reusing the evaluation in {stored[1]}")
        return stored[0], stored[1], True
    result, folder = evaluate(run, data, split, bootstrap=1000, batch_size=batch_size, on_event=on_event)
    return result, folder, False


def build_report(run: runs.Run, split: str = "test", data=None, output: Path | None = None,
                 gallery: int = 8, batch_size: int = 32, *, on_event: events.Listeners = None) -> dict:
    """Write the run's report page; returns {"report", "evaluation", "reused"}. `on_event`:
    Message and Warned on the way, Progress("scoring", ...) while the run is evaluated (an
    ensemble's members are evaluated without Progress events)."""
    on_event = events.dispatcher(on_event)
    target = _target(run, output, "report.html")
    result, folder, reused = evaluation_for(run, split, data, batch_size, on_event=on_event)
    chance = _chance(result)
    if chance:
        on_event.warn(f"{run.name} is no better than chance on the {split} split: {chance}")
    rows = evidence.predictions(folder)
    labels, scores = [r["label"] for r in rows], [r["p"] for r in rows]
    threshold = float(result["threshold"])
    points = evidence.operating_points(labels, scores, threshold)
    both = len(set(labels)) == 2

    on_event.message("Drawing Grad-CAM overlays for the error gallery")
    picked = evidence.pick_gallery(rows, threshold, gallery)
    with tempfile.TemporaryDirectory(prefix="glaucli-report-") as work:
        cards = evidence.gallery_cards(picked, _explainer(run, on_event), threshold, Path(work), on_event=on_event)

    history = evidence.history(run.path)
    best = evidence.best_epoch(run.meta, history)
    page = {
        "title": f"glaucli report: {run.name}", "run": _header(run, result, split), "split": split, "chance": chance,
        "result": result, "metrics": _metric_rows(result), "confusion": _confusion(result["confusion"]),
        "points": points, "threshold": threshold,
        "figures": {"roc": figures.roc(labels, scores, points) if both else None,
                    "pr": figures.pr(labels, scores, points[0]) if both else None,
                    "distribution": figures.distribution(labels, scores, threshold),
                    "reliability": figures.reliability(labels, scores),
                    "curves": figures.curves(history, best) if history else None},
        "calibration": result.get("calibration") or calibration.summary(labels, scores),
        "fitted": run.meta.get("calibration"), "gallery": cards, "gallery_size": gallery,
        "training": _training(run.meta, history, best),
        "members": _members(run, split, data, batch_size, result, on_event),
        "evaluation": {"folder": str(folder), "reused": reused},
        "generated": runs.now(), "version": __version__, "note": RESEARCH_NOTE,
    }
    _write(target, _render("report.html.j2", page))
    return {"report": str(target), "evaluation": str(folder), "reused": reused}


def build_compare(entries: list[tuple[runs.Run, dict, Path]], split: str, output: Path) -> Path:
    """A comparison page from already computed evaluations: (run, metrics, evaluation folder)."""
    columns, curves, all_scores = [], [], []
    for run, result, folder in entries:
        rows = evidence.predictions(folder)
        labels, scores = [r["label"] for r in rows], [r["p"] for r in rows]
        all_scores.append((run.name, labels, scores))
        if len(set(labels)) == 2:
            curves.append((run.name, labels, scores))
        cal = result.get("calibration") or calibration.summary(labels, scores)
        columns.append({"header": _header(run, result, split), "result": result, "ece": cal["ece"],
                        "brier": cal["brier"], "chance": _chance(result)})
    # a model no better than chance is never the best of anything
    best = {name: max((c["result"]["metrics"][name] for c in columns if not c["chance"]), default=None)
            for name in HEADLINE}
    page = {"title": f"glaucli comparison on {split}", "split": split, "columns": columns, "headline": HEADLINE,
            "best": best, "roc": figures.roc_overlay(curves) if curves else None,
            "reliability": figures.reliability_overlay(all_scores),
            "generated": runs.now(), "version": __version__, "note": RESEARCH_NOTE}
    target = _target(None, output, "compare.html")
    _write(target, _render("compare.html.j2", page))
    return target


def _target(run: runs.Run | None, output: Path | None, default: str) -> Path:
    target = Path(output) if output else run.path / default
    if target.is_dir():
        target = target / default
    if run is not None and target.resolve() in {run.model_path.resolve(), (run.path / runs.META).resolve()}:
        raise UsageError(f"--output {target} is one of the run's own files; choose another name")
    if target.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--output {target} should end in .html")
    return target


def _explainer(run: runs.Run, on_event: events.Dispatcher):
    from glaucli.engine.explain import explainer_for
    from glaucli.engine.scoring import load_model

    try:
        return explainer_for(load_model(run.model_path), run.meta)
    except Exception as exc:  # noqa: BLE001 - a page without heatmaps beats no page
        on_event.message(f"Grad-CAM unavailable for {run.name} ({type(exc).__name__}: {exc})")
        return None


def _header(run: runs.Run, result: dict, split: str) -> dict:
    meta = run.meta
    data = meta.get("data") or {}
    source = (result.get("data") or data).get("path")
    origin = ((read_manifest(Path(source)) or {}) if source else {}).get("source") or {}
    bare = not meta  # a .keras file without meta.json: name it by the file
    return {"name": run.model_path.name if bare else run.name, "path": str(run.model_path if bare else run.path),
            "kind": meta.get("kind", "model file"), "backbone": meta.get("backbone", "unknown backbone"),
            "image_size": meta.get("image_size") or result.get("image_size") or "?",
            "method": meta.get("method"), "data": source,
            "origin": origin.get("slug") or origin.get("dataset") or origin.get("kind"),
            "synthetic": bool(result.get("synthetic") or origin.get("kind") == "sample"),
            "train_counts": data.get("train"), "validation_count": data.get("validation"),
            "split_counts": result["n"], "started_at": meta.get("started_at"),
            "finished_at": meta.get("finished_at"), "versions": meta.get("versions") or {},
            "threshold_method": meta.get("threshold_method"), "temperature": calibration.temperature_of(meta)}


def _chance(result: dict) -> str | None:
    """metrics.chance_reason of an evaluation (one saved before it was recorded included)."""
    from glaucli.engine import metrics as screening

    if "chance_reason" in result:
        return result["chance_reason"]
    return screening.chance_reason(result["metrics"], result.get("ci95"), result["n"])


def _metric_rows(result: dict) -> list[dict]:
    return [{"name": name, "value": value, "ci": result.get("ci95", {}).get(name)}
            for name, value in result["metrics"].items()]


def _confusion(c: dict) -> list[dict]:
    rows = []
    for cls, (a, b) in zip(CLASSES, ((c["tn"], c["fp"]), (c["fn"], c["tp"]))):
        total = max(1, a + b)
        rows.append({"true": cls, "cells": [(a, a / total), (b, b / total)]})
    return rows


def _training(meta: dict, history: list[dict], best: int | None) -> dict:
    best_row = next((r for r in history if r.get("epoch") and int(r["epoch"]) == best), None)
    return {"phases": meta.get("phases") or [], "durations": meta.get("durations_s") or {},
            "epochs_done": meta.get("epochs_done"), "best_epoch": best, "best_row": best_row,
            "hardware": meta.get("hardware") or {}, "device": meta.get("device"), "args": meta.get("args") or {},
            "recipe": meta.get("recipe"), "weights": meta.get("weights"), "seed": meta.get("seed")}


def _members(run: runs.Run, split: str, data, batch_size: int, own: dict,
             on_event: events.Dispatcher) -> dict | None:
    """An ensemble's members with their own metrics beside the ensemble's (their evaluations
    send no Progress: the caller's bar is the ensemble's)."""
    def no_progress(event: events.Event) -> None:
        if not isinstance(event, events.Progress):
            on_event(event)

    members = run.meta.get("members") if run.meta.get("kind") == "ensemble" else None
    if not members:
        return None
    columns = []
    for i, member in enumerate(members):
        column = {"name": member.get("backbone") or f"member {i}", "image_size": member.get("image_size"),
                  "threshold": member.get("threshold"), "metrics": None}
        folder = runs.run_folder(member["run"], Path(".")) if member.get("run") else None
        if folder is not None:
            try:
                member_run = runs.resolve_run(folder, folder.parent)
                column["name"] = member_run.name
                found = evaluation_for(member_run, split, data, batch_size, on_event=no_progress)
                column["metrics"] = found[0]["metrics"]
            except Exception as exc:  # noqa: BLE001 - a missing member leaves its column empty
                column["problem"] = f"{type(exc).__name__}: {exc}"
        columns.append(column)
    return {"columns": columns, "ensemble": own["metrics"], "names": HEADLINE,
            "joint": run.meta.get("method") == "concat"}


def _render(name: str, page: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v, digits=3: "n/a" if v is None or v != v else f"{v:.{digits}f}"
    env.filters["pct"] = lambda v: "n/a" if v is None or v != v else f"{100 * v:.1f} %"
    env.filters["when"] = _when
    return env.get_template(name).render(**page)


def _when(stamp: str | None) -> str:
    """`2026-12-02T03:17:26+00:00` -> `2026-12-02 03:17 UTC` (anything else unchanged)."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(stamp).astimezone(timezone.utc)
    except (TypeError, ValueError):
        return stamp or "?"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with owned_path(target) as tmp:  # with its provenance record: a later report may replace it
        tmp.write_text(text, encoding="utf-8")
