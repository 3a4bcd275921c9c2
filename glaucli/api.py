"""The Python API: the CLI's own code paths, without the CLI.

    from glaucli import api
    result = api.train(api.TrainConfig("basic-cnn", data=Path("data/mini"), epochs=3))
    metrics, folder = api.evaluate(result.run)
    for p in api.predict(["eye.jpg"], result.run):
        print(p.path, p.probability, p.verdict)

Importing this module imports no TensorFlow (each name loads its module on first use), and
the functions print nothing and leave no process-wide state behind: signal handlers, the
Keras precision policy, warnings filters and the socket timeout are as before the call, also
after an interrupted training (which raises glaucli.errors.Interrupted).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from glaucli.engine.predict import Prediction
    from glaucli.engine.training import TrainConfig, TrainResult
    from glaucli.events import Listeners

__all__ = ["TrainConfig", "train", "resume", "evaluate", "predict"]

_LAZY = {"TrainConfig": "glaucli.engine.training", "TrainResult": "glaucli.engine.training"}


def __getattr__(name: str):  # PEP 562: the engine loads when a name is first used
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train(config: "TrainConfig", on_event: "Listeners" = None) -> "TrainResult":
    """Train into a new run folder (see TrainConfig); returns the run and validation metrics.
    `on_event`: a callable (or several) receiving glaucli.events as training goes."""
    from glaucli.engine.training import train as run

    return run(config, on_event)


def resume(run: str | Path, overrides: dict | None = None, runs_dir: Path | None = None,
           on_event: "Listeners" = None) -> "TrainResult":
    """Continue an interrupted run from its last complete epoch."""
    from glaucli.engine.training import resume as run_resume

    return run_resume(run, overrides or {}, runs_dir, on_event)


def evaluate(run: str | Path | None = None, data: Path | None = None, split: str | None = "test",
             runs_dir: Path | None = None, save: bool = True, on_event: "Listeners" = None,
             **options) -> tuple[dict, Path | None]:
    """Evaluate a run (a folder, a name under the runs folder, a .keras file; None: the latest
    complete run) on a split; returns (the metrics document, the folder it was written to).
    With save=False nothing is written (the folder is None). `on_event`: a callable (or several)
    receiving glaucli.events (Message, Warned, Progress("scoring", ...)). `options`: those of
    glaucli.engine.evaluate.evaluate (threshold, tta, bootstrap, output...)."""
    from glaucli import config, runs
    from glaucli.engine import evaluate as engine

    resolved = runs.resolve_run(run, config.runs_dir(runs_dir))
    if save:
        return engine.evaluate(resolved, data, split, on_event=on_event, **options)
    return engine.assess(resolved, data, split, on_event=on_event, **options).result, None


def predict(images: Iterable[str | Path], run: str | Path | None = None, threshold: float | None = None,
            tta: bool = False, runs_dir: Path | None = None, on_event: "Listeners" = None,
            **options) -> Iterator["Prediction"]:
    """One Prediction per image file (folders and globs are expanded), streamed. `on_event`:
    as for evaluate. `options`: those of glaucli.engine.predict.predict (batch_size,
    ood_check, explain_dir)."""
    from glaucli import config, runs
    from glaucli.engine.predict import check_threshold, find_images
    from glaucli.engine.predict import predict as run_predict

    check_threshold(threshold)
    paths = list(find_images(str(i) for i in images))  # a missing input fails before any work
    resolved = runs.resolve_run(run, config.runs_dir(runs_dir))
    return run_predict(paths, resolved, threshold=threshold, tta=tta, on_event=on_event, **options)
