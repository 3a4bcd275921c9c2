"""Model scoring, the low-level primitives: load a model safely, score image files in
streaming batches, test-time augmentation over flips.

Evaluation, prediction, calibration and the distribution check share `score_paths`, so all
see the same pixels (the one image loader) and the same model call. This module imports
neither engine/predict.py nor engine/ood.py (a guard is passed in, duck-typed).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from glaucli import events
from glaucli.data.images import ImageError, load_image
from glaucli.errors import InputError, brief

RESAVE = "glaucli loads .keras zip files only (Keras safe mode); re-save the model with model.save('model.keras')"


def load_model(path: Path):
    """A Keras classifier from a `.keras` zip, loaded with safe_mode; InputError (exit 3) for
    anything else: HDF5 (.h5) and SavedModel folders are refused, their loaders have bypassed
    safe mode (CVE-2025-9905)."""
    import zipfile

    from glaucli.tf import keras

    path = Path(path)
    if path.is_dir():  # a SavedModel folder: Keras 3 cannot load one safely (TFSMLayer runs its graph)
        raise InputError(f"{path} is a folder, not a .keras model file; refused",
                         hint=RESAVE)
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    if path.suffix.lower() != ".keras":  # .h5/.hdf5 and others: legacy loaders bypass safe mode
        raise InputError(f"{path} is not a .keras model file ({path.suffix or 'no suffix'}); refused",
                         hint=RESAVE)
    if not zipfile.is_zipfile(path):
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


@dataclass
class Scored:
    path: Path
    probability: float | None = None
    error: str | None = None
    ood: dict | None = None  # with a guard: {"score", "cutoff", "fundus_check", "reason", "flag", "reasons", ...}


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


def score_paths(model, paths: Iterable[Path], batch_size: int = 32, tta: bool = False, *,
                on_event: events.Listeners = None, workers: int | None = None,
                guard=None) -> Iterator[Scored]:
    """P(RG) per path, streamed: the next batch decodes in threads while this one runs.
    With a `guard` (engine/ood.py) each result also says whether it should be answered.
    `on_event`: Progress("scoring", done, total or None, "images") after each batch."""
    import numpy as np

    on_event = events.dispatcher(on_event)
    total = len(paths) if hasattr(paths, "__len__") else None
    done = 0
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
            done += len(chunk)
            on_event(events.Progress("scoring", done, total, "images"))
            chunk = following


def scored_pairs(model, pairs, batch_size: int = 32, tta: bool = False, *,
                 on_event: events.Listeners = None, guard=None) -> list[Scored]:
    """Every (path, label) pair scored, in order; any unreadable image fails the work."""
    from glaucli.errors import WorkError

    scored = list(score_paths(model, [p for p, _ in pairs], batch_size, tta, on_event=on_event, guard=guard))
    bad = [s.error for s in scored if s.error]
    if bad:
        raise WorkError(f"{len(bad)} image(s) could not be read, first: {bad[0]}",
                        hint="`glaucli data --verify` lists them")
    return scored


def scores_of(model, pairs, batch_size: int = 32, tta: bool = False, *,
              on_event: events.Listeners = None) -> list[float]:
    """P(RG) for every (path, label) pair, in order; any unreadable image fails the work.
    (Inside training, selection.validation_scores scores the pipeline's dataset instead.)"""
    return [s.probability for s in scored_pairs(model, pairs, batch_size, tta, on_event=on_event)]


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


def view(batch, name: str):
    """`batch` (NHWC) as the TTA view `name` sees it."""
    from glaucli.tf import keras

    flip = {"identity": None, "hflip": 2, "vflip": 1}[name]  # NHWC: axis 2 is the width
    return batch if flip is None else keras().ops.flip(batch, axis=flip)


def predict_batch(model, batch, tta=False):
    """P(RG) for a float32 batch of raw RGB images; `tta` (see views_of) averages over flips."""
    import numpy as np

    return np.mean([np.asarray(model.predict_on_batch(np.asarray(view(batch, v)))).reshape(-1)
                    for v in views_of(tta)], axis=0)
