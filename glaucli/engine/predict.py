"""Inference: load a model safely, find images, score them in streaming batches.

Evaluation and prediction share `score_paths`, so both see the same pixels
(the one image loader) and the same model call.
"""

from __future__ import annotations

import glob
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from glaucli.data.images import ImageError, load_image, walk_images
from glaucli.errors import InputError, brief
from glaucli.runs import check_threshold  # the one threshold rule; api and cli import it from here


def load_model(path: Path):
    """A Keras classifier loaded with safe_mode; InputError for anything else."""
    import zipfile

    from glaucli.tf import keras

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not a Keras model file or is truncated")
    try:
        model = keras().saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        if "safe_mode" in text or "unsafe" in text.lower():
            raise InputError(f"{path} needs unsafe deserialisation (e.g. a Lambda layer); refused",
                             hint="glaucli loads models in Keras safe mode only") from None
        raise InputError(f"{path} is not a usable Keras model ({brief(exc)})") from None
    except RecursionError:
        raise InputError(f"{path} is not a usable Keras model (its config is nested too deeply)") from None
    except (zipfile.BadZipFile, OSError, KeyError, EOFError) as exc:
        raise InputError(f"{path} is not a Keras model file or is truncated ({type(exc).__name__})") from None
    inputs = model.inputs
    shape = tuple(inputs[0].shape) if len(inputs) == 1 else ()
    if len(shape) != 4 or shape[-1] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise InputError(f"{path}: the model's input {shape or [tuple(i.shape) for i in inputs]} "
                         "is not one square RGB image (None, S, S, 3)")
    if tuple(model.outputs[0].shape)[1:] != (1,) or len(model.outputs) != 1:
        raise InputError(f"{path}: the model's output {tuple(model.outputs[0].shape)} is not one P(RG) per image")
    return model


def model_image_size(model) -> int:
    return int(model.inputs[0].shape[1])


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
class Scored:
    path: Path
    probability: float | None = None
    error: str | None = None
    ood: dict | None = None  # with a guard: {"score", "cutoff", "fundus_check", "flag", "reasons"}


def _load(path: Path, size: int, fundus: bool = False):
    """(image, error, fundus check or None); the check runs here, in the loader threads."""
    try:
        image = load_image(path, size)
        if not fundus:
            return image, None, None
        from glaucli.data.fundus import check_fundus

        return image, None, check_fundus(image)
    except ImageError as exc:
        return None, str(exc), None
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - one bad file never costs the batch
        return None, f"{path}: unreadable image ({type(exc).__name__})", None


def score_paths(model, paths: Iterable[Path], batch_size: int = 32, tta: bool = False,
                on_batch: Callable[[int], None] | None = None, workers: int | None = None,
                guard=None) -> Iterator[Scored]:
    """P(RG) per path, streamed: the next batch decodes in threads while this one runs.
    With a `guard` (engine/ood.py) each result also says whether it should be answered."""
    import numpy as np

    size = model_image_size(model)
    iterator = iter(paths)

    def next_chunk():
        chunk = []
        for path in iterator:
            chunk.append(path)
            if len(chunk) == batch_size:
                break
        return chunk

    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 2))) as pool:
        chunk = next_chunk()
        check = guard is not None
        pending = [pool.submit(_load, p, size, check) for p in chunk]
        while chunk:
            loaded = [f.result() for f in pending]
            following = next_chunk()
            pending = [pool.submit(_load, p, size, check) for p in following]
            good = [i for i, (img, _, _) in enumerate(loaded) if img is not None]
            probs, ood = {}, {}
            if good:
                batch = np.stack([loaded[i][0] for i in good]).astype("float32")
                if guard is None:
                    probs = dict(zip(good, predict_batch(model, batch, tta)))
                else:
                    p, scores = guard.predict(batch, tta)
                    probs = dict(zip(good, p))
                    ood = {i: guard.judge(loaded[i][2], None if scores is None else float(scores[k]))
                           for k, i in enumerate(good)}
            for i, path in enumerate(chunk):
                yield (Scored(path, probability=float(probs[i]), ood=ood.get(i)) if i in probs
                       else Scored(path, error=loaded[i][1]))
            if on_batch:
                on_batch(len(chunk))
            chunk = following


def scored_pairs(model, pairs, batch_size: int = 32, tta: bool = False,
                 on_batch: Callable[[int], None] | None = None, guard=None) -> list[Scored]:
    """Every (path, label) pair scored, in order; any unreadable image fails the work."""
    from glaucli.errors import WorkError

    scored = list(score_paths(model, [p for p, _ in pairs], batch_size, tta, on_batch, guard=guard))
    bad = [s.error for s in scored if s.error]
    if bad:
        raise WorkError(f"{len(bad)} image(s) could not be read, first: {bad[0]}",
                        hint="`glaucli data --verify` lists them")
    return scored


def scores_of(model, pairs, batch_size: int = 32, tta: bool = False,
              on_batch: Callable[[int], None] | None = None) -> list[float]:
    """P(RG) for every (path, label) pair, in order; any unreadable image fails the work.
    (Inside training, selection.validation_scores scores the pipeline's dataset instead.)"""
    return [s.probability for s in scored_pairs(model, pairs, batch_size, tta, on_batch)]


TTA_VIEWS = ("identity", "hflip", "vflip")


def tta_views(augment: str, recipe: str = "default") -> list[str]:
    """The views test-time augmentation averages: only flips that training showed the model
    (a vertical flip only with --augment strong or the seed recipe)."""
    return list(TTA_VIEWS) if augment == "strong" or recipe == "seed" else ["identity", "hflip"]


def views_of(tta) -> list[str]:
    """`tta`: False (no TTA), True (every flip: runs that do not record theirs), or view names."""
    if not tta:
        return ["identity"]
    return list(TTA_VIEWS) if tta is True else list(tta)


def _view(batch, name: str):
    from glaucli.tf import keras

    flip = {"identity": None, "hflip": 2, "vflip": 1}[name]  # NHWC: axis 2 is the width
    return batch if flip is None else keras().ops.flip(batch, axis=flip)


class TtaModel:
    """A model's mean P(RG) over flipped views; called like the model."""

    def __init__(self, model, views):
        self.model, self.views = model, views_of(views)

    def __call__(self, batch, training: bool = False):
        from glaucli.tf import keras

        ops = keras().ops
        return ops.mean(ops.stack([self.model(_view(batch, v), training=False) for v in self.views]), axis=0)


def predict_batch(model, batch, tta=False):
    """P(RG) for a float32 batch of raw RGB images; `tta` (see views_of) averages over flips."""
    import numpy as np

    return np.mean([np.asarray(model.predict_on_batch(np.asarray(_view(batch, v)))).reshape(-1)
                    for v in views_of(tta)], axis=0)


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


def predict(paths: Iterable[Path], run, threshold: float | None = None, tta: bool = False,
            batch_size: int = 32, ood_check: bool = True, explain_dir: Path | None = None,
            on_batch: Callable[[int], None] | None = None,
            report: Callable[[str], None] = lambda text: None,
            warn: Callable[[str], None] = lambda text: None) -> Iterator[Prediction]:
    """Predictions for image files (`find_images` expands folders and globs) with a resolved run
    (runs.Run), streamed, in order. The threshold is the run's (its TTA threshold with `tta`)
    unless `threshold` is given. An unreadable image is a Prediction with `error`, never an
    exception; a bad argument, the model or the threshold fail here, before the first image.
    `report`/`warn`: plain-text notes on the way (calibration, a missing distribution check);
    `on_batch(n)` after each batch of n images."""
    from glaucli.contract import VERDICTS
    from glaucli.engine import calibration
    from glaucli.engine.evaluate import decision_threshold, run_views
    from glaucli.engine.ood import NOT_ASSESSED

    check_threshold(threshold)
    model = load_model(run.model_path)
    temperature = calibration.temperature_of(run.meta)
    if temperature:
        report(f"P(RG) calibrated by the run's temperature scaling (T = {temperature:.3f})")
    views = run_views(run, tta)
    cut, _source = decision_threshold(run, model, None, views, threshold, report=report)
    guard = explainer = None
    if ood_check:
        from glaucli.engine.ood import Guard

        guard = Guard(model, run)
        if not guard.has_distribution:
            warn(f"{run.name} has no distribution check (trained before it existed?): only the fundus "
                 f"check runs; add it with `glaucli calibrate-ood {run.path}`")
    if explain_dir is not None:
        from glaucli.engine.explain import OutputNames, explain, explainer_for

        explainer, names = explainer_for(model, run.meta), OutputNames()

    def answers() -> Iterator[Prediction]:
        for scored in score_paths(model, paths, batch_size, views, on_batch=on_batch, guard=guard):
            if scored.error:
                yield Prediction(scored.path, error=scored.error)
                continue
            probability = calibration.scale_one(scored.probability, temperature)
            label = "RG" if probability >= cut else "NRG"
            answer = Prediction(scored.path, probability, label, VERDICTS[int(label == "RG")], cut, scored.ood)
            if scored.ood is not None and scored.ood["flag"]:  # no verdict; P(RG) stays for research
                answer.label, answer.verdict = None, NOT_ASSESSED
            if explainer is not None:
                made = explain(explainer, scored.path, Path(explain_dir), names(scored.path), probability, cut)
                answer.explanation, answer.heatmap, answer.note = made.overlay, made.heatmap, made.note
            yield answer

    return answers()
