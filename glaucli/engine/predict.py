"""Prediction, the user-level call: `predict(paths, run)` answers each image (P(RG), label,
verdict, the fundus and distribution checks, an optional Grad-CAM). The scoring itself lives
in engine/scoring.py, the threshold rule in engine/threshold.py.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from glaucli import events
from glaucli.data.images import walk_images
from glaucli.engine.scoring import load_model, score_paths
from glaucli.errors import InputError
from glaucli.runs import check_threshold  # the one threshold rule; api and cli import it from here


def find_images(inputs: Iterable[str]) -> Iterator[Path]:
    """Files, folders (recursive, image extensions in any case) and globs, lazily.
    A path that matches nothing is an InputError before any work starts."""
    expanded = []
    for item in inputs:
        if any(ch in item for ch in "*?[") and not Path(item).exists():
            try:
                matches = sorted(glob.glob(item, recursive=True))
            except RecursionError:  # glob's ** recurses once per folder level
                raise InputError(f"{item} reaches folders nested too deeply; pass the folder instead") from None
            if not matches:
                raise InputError(f"no file matches {item}")
            expanded.extend(Path(m) for m in matches)
        elif Path(item).exists() or Path(item).is_symlink():
            expanded.append(Path(item))
        else:
            raise InputError(f"{item} does not exist")
    for path in expanded:
        if path.is_dir():
            yield from walk_images(path, follow_links=True)
        else:
            yield path


@dataclass
class Prediction:
    """One image's answer, as `glaucli predict --json` gives it."""

    path: Path
    probability: float | None = None  # P(RG), temperature-scaled when the run is calibrated
    label: str | None = None  # RG / NRG; None when unreadable or not assessed
    verdict: str | None = None
    threshold: float | None = None
    ood: dict | None = None  # the fundus and distribution checks, when they ran
    explanation: Path | None = None  # the Grad-CAM overlay, with explain_dir
    heatmap: Path | None = None
    note: str | None = None  # why an explanation is flat, if it is
    error: str | None = None  # the image could not be read: no other field is set
    run: str | None = None  # the run that answered (its folder)
    synthetic: bool = False  # that run was trained on synthetic images: every verdict says so


def predict(paths: Iterable[Path], run, threshold: float | None = None, tta: bool = False,
            batch_size: int = 32, ood_check: bool = True, explain_dir: Path | None = None, *,
            on_event: events.Listeners = None) -> Iterator[Prediction]:
    """Predictions for image files (`find_images` expands folders and globs) with a resolved run
    (runs.Run), streamed, in order. The threshold is the run's (its TTA threshold with `tta`)
    unless `threshold` is given. An unreadable image is a Prediction with `error`, never an
    exception; a bad argument, the model or the threshold fail here, before the first image.
    `on_event`: Message and Warned on the way (calibration, a missing distribution check),
    Progress("scoring", done, total or None, "images") after each batch."""
    from glaucli.contract import NOT_ASSESSED, SYNTHETIC_MARK, VERDICTS
    from glaucli.engine import calibration
    from glaucli.engine.threshold import decision_threshold, run_views

    on_event = events.dispatcher(on_event)
    check_threshold(threshold)
    model = load_model(run.model_path)
    temperature = calibration.temperature_of(run.meta)
    if temperature:
        on_event.message(f"P(RG) calibrated by the run's temperature scaling (T = {temperature:.3f})")
    synthetic = bool(run.meta.get("synthetic"))
    if synthetic:
        on_event.warn(f"{run.name} was trained on synthetic images (glaucli sample): its verdicts are a demo, "
                      "never a reading of a real photograph")
    views = run_views(run, tta)
    cut, _source = decision_threshold(run, model, None, views, threshold, on_event=on_event)
    guard = explainer = None
    if ood_check:
        from glaucli.engine.ood import Guard

        guard = Guard(model, run)
        if not guard.has_distribution:
            on_event.warn(f"{run.name} has no distribution check (trained before it existed?): only the fundus "
                 f"check runs; add it with `glaucli calibrate-ood {run.path}`")
    if explain_dir is not None:
        from glaucli.engine.explain import OutputNames, explain, explainer_for
        from glaucli.safety import Ledger

        explainer, names, ledger = explainer_for(model, run.meta), OutputNames(), Ledger(Path(explain_dir))

    def answers() -> Iterator[Prediction]:
        for scored in score_paths(model, paths, batch_size, views, on_event=on_event, guard=guard):
            if scored.error:
                yield Prediction(scored.path, error=scored.error, run=str(run.path), synthetic=synthetic)
                continue
            probability = calibration.scale_one(scored.probability, temperature)
            label = "RG" if probability >= cut else "NRG"
            verdict = VERDICTS[int(label == "RG")] + (SYNTHETIC_MARK if synthetic else "")
            answer = Prediction(scored.path, probability, label, verdict, cut, scored.ood, run=str(run.path),
                                synthetic=synthetic)
            if scored.ood is not None and scored.ood["flag"]:  # no verdict; P(RG) stays for research
                answer.label, answer.verdict = None, NOT_ASSESSED[scored.ood["reason"]]
            if explainer is not None:
                made = explain(explainer, scored.path, Path(explain_dir), names(scored.path), probability, cut,
                               ledger=ledger)
                answer.explanation, answer.heatmap, answer.note = made.overlay, made.heatmap, made.note
            yield answer

    return answers()
