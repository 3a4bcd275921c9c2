"""Training: transfer learning in one or two phases, into a complete run folder.

Two phases with pretrained weights (keras-io's transfer-learning recipe): the
head trains with the backbone frozen, then the top of the backbone is
unfrozen (BatchNorm kept frozen) and trained with a ~100x lower rate, starting
from phase 1's best weights. From scratch (`weights=None`) it is one phase.
"""

from __future__ import annotations

import csv
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from glaucli import __version__, config, runs
from glaucli.console import RESEARCH_NOTE
from glaucli.data.images import RESAMPLE
from glaucli.data.layout import CLASSES, resolve_dataset
from glaucli.data.pipeline import AUGMENT_LEVELS, make_dataset
from glaucli.errors import Interrupted, UsageError
from glaucli.models import backbones, classifier

Report = Callable[[str, dict], None]


@dataclass
class TrainConfig:
    backbone: str = backbones.DEFAULT
    data: Path | None = None
    data_dir: Path | None = None
    variant: str | None = None
    image_size: int | None = None
    batch_size: int = 32
    epochs: int = 10
    finetune_epochs: int = 10
    lr: float = 1e-3
    finetune_lr: float = 1e-5
    unfreeze: str | None = None
    weights: str = "imagenet"
    augment: str = "light"
    limit: int | None = None
    seed: int | None = None
    patience: int = 5
    name: str | None = None
    runs_dir: Path | None = None


@dataclass
class Phase:
    name: str
    epochs: int
    lr: float
    unfreeze: str


@dataclass
class TrainResult:
    run: Path
    metrics: dict
    meta: dict = field(repr=False)


def _check(cfg: TrainConfig) -> None:
    if cfg.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if cfg.epochs < 1:
        raise UsageError("--epochs must be at least 1")
    if cfg.finetune_epochs < 0:
        raise UsageError("--finetune-epochs must not be negative")
    if cfg.lr <= 0 or cfg.finetune_lr <= 0:
        raise UsageError("learning rates must be positive")
    if cfg.augment not in AUGMENT_LEVELS:
        raise UsageError(f"--augment must be one of {', '.join(AUGMENT_LEVELS[:3])}")
    if cfg.limit is not None and cfg.limit < 1:
        raise UsageError("--limit must be at least 1")
    if cfg.unfreeze is not None:
        classifier.resolve_unfreeze(cfg.unfreeze, 1)  # validates the form early


def _weights(cfg: TrainConfig, bb: backbones.Backbone) -> str | None:
    if cfg.weights.lower() == "none" or not bb.pretrained:
        if cfg.weights.lower() not in ("none", "imagenet"):
            raise UsageError(f"{bb.name} is trained from scratch; it takes no weights file")
        return None
    return "imagenet" if cfg.weights.lower() == "imagenet" else cfg.weights


def phases(cfg: TrainConfig, bb: backbones.Backbone, weights: str | None) -> list[Phase]:
    if weights is None:
        return [Phase("train", cfg.epochs, cfg.lr, "all")]
    plan = [Phase("head", cfg.epochs, cfg.lr, "none")]
    if cfg.finetune_epochs:
        plan.append(Phase("finetune", cfg.finetune_epochs, cfg.finetune_lr, cfg.unfreeze or bb.unfreeze))
    return plan


def compile_model(model, lr: float) -> None:
    from glaucli.tf import keras

    k = keras()
    model.compile(optimizer=k.optimizers.Adam(lr), loss=k.losses.BinaryCrossentropy(),
                  metrics=[k.metrics.BinaryAccuracy(name="accuracy"), k.metrics.AUC(name="auc")],
                  # A test-only switch: eager steps skip 15-60 s of graph tracing on CPU.
                  run_eagerly=os.environ.get("GLAUCLI_RUN_EAGERLY") == "1")


def save_atomic(model, path: Path) -> None:
    """Keras insists on a .keras suffix, so the temp name keeps it; then rename."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _callbacks(run: Path, phase: Phase, twin, state: dict, report: Report):
    from glaucli.tf import keras

    k = keras()

    class RunCallback(k.callbacks.Callback):
        """Progress events, best/last checkpoints and history.csv, one epoch at a time."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.monotonic()
            self.batch_times: list[float] = []
            report("epoch_start", {"phase": phase.name, "epoch": epoch + 1, "epochs": phase.epochs,
                                   "steps": state["steps"]})

        def on_train_batch_end(self, batch, logs=None):
            self.batch_times.append(time.monotonic())
            report("batch", {"step": batch + 1, "steps": state["steps"], "logs": dict(logs or {})})
            if batch == 3 and not state.get("estimated"):
                state["estimated"] = True
                per_batch = (self.batch_times[-1] - self.batch_times[0]) / 3
                report("estimate", {"seconds_per_epoch": per_batch * state["steps"]})

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            seconds = time.monotonic() - self.epoch_start
            state["epoch"] += 1
            val_auc = float(logs.get("val_auc", float("nan")))
            improved = val_auc == val_auc and val_auc > state["best_auc"]
            if improved:
                state["best_auc"] = val_auc
                state["best_weights"] = self.model.get_weights()
                twin.set_weights(state["best_weights"])
                save_atomic(twin, run / runs.BEST)
            save_atomic(self.model, run / runs.LAST)
            row = {"phase": phase.name, "epoch": state["epoch"], "phase_epoch": epoch + 1,
                   **{key: float(v) for key, v in logs.items()},
                   "lr": float(k.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                   "seconds": round(seconds, 2)}
            _append_history(run / "history.csv", row)
            report("epoch", {"phase": phase.name, "epoch": epoch + 1, "epochs": phase.epochs,
                             "logs": logs, "seconds": seconds, "best": improved})

    return [RunCallback(),
            k.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=state["patience"]),
            k.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3,
                                          patience=max(1, state["patience"] // 2), min_lr=1e-7)]


HISTORY_FIELDS = ["phase", "epoch", "phase_epoch", "loss", "accuracy", "auc", "val_loss",
                  "val_accuracy", "val_auc", "lr", "seconds"]


def _append_history(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def predict_scores(model, pairs, image_size: int, batch_size: int):
    """P(RG) for each (path, label) pair, in order, through the one pipeline."""
    ds = make_dataset(pairs, image_size, batch_size, with_labels=False)
    return model.predict(ds, verbose=0).reshape(-1)


def versions() -> dict:
    from glaucli.tf import keras, tensorflow

    return {"glaucli": __version__, "tensorflow": tensorflow().__version__,
            "keras": keras().__version__, "python": platform.python_version()}


def train(cfg: TrainConfig, report: Report = lambda kind, data: None) -> TrainResult:
    """Train `cfg.backbone`; returns the run folder and its validation metrics."""
    from glaucli.engine import metrics as screening
    from glaucli.engine.devices import describe_devices
    from glaucli.tf import keras

    _check(cfg)
    bb = backbones.get(cfg.backbone)
    size = cfg.image_size or bb.default_size
    weights = _weights(cfg, bb)
    dataset = resolve_dataset(cfg.data, config.data_dir(cfg.data_dir), cfg.variant)
    train_pairs = dataset.require("train", cfg.limit)
    val_pairs = dataset.require("validation", cfg.limit)
    k = keras()
    if cfg.seed is not None:
        k.utils.set_random_seed(cfg.seed)
    device = describe_devices()
    report("start", {"backbone": bb.name, "image_size": size, "device": device,
                     "train": len(train_pairs), "validation": len(val_pairs), "data": str(dataset.root)})
    built = classifier.build(bb, size, weights)
    model = built.model
    twin = k.Model.from_config(model.get_config())  # saves best.keras without optimizer state
    plan = phases(cfg, bb, weights)

    run = runs.new_run_dir(config.runs_dir(cfg.runs_dir), "train", cfg.name or bb.name)
    started = time.monotonic()
    meta = {
        "kind": "train", "status": "running", "started_at": runs.now(), "finished_at": None,
        "backbone": bb.name, "image_size": size, "classes": list(CLASSES), "threshold": 0.5,
        "preprocessing": built.preprocessing, "resample": RESAMPLE, "gradcam_layer": built.gradcam_layer,
        "recipe": "default", "weights": weights or "none",
        "data": {"path": str(dataset.root.resolve()), "fingerprint": dataset.fingerprint(),
                 "train": len(train_pairs), "validation": len(val_pairs)},
        "args": {key: (str(v) if isinstance(v, Path) else v) for key, v in asdict(cfg).items()},
        "phases": [asdict(p) for p in plan], "versions": versions(), "device": device,
        "note": RESEARCH_NOTE,
    }
    runs.write_meta(run, meta)
    report("run", {"path": str(run)})

    train_ds = make_dataset(train_pairs, size, cfg.batch_size, training=True, augment=cfg.augment, seed=cfg.seed)
    val_ds = make_dataset(val_pairs, size, cfg.batch_size)
    state = {"best_auc": float("-inf"), "best_weights": None, "epoch": 0, "patience": cfg.patience,
             "steps": -(-len(train_pairs) // cfg.batch_size)}
    durations = {}
    try:
        for phase in plan:
            trainable = classifier.set_trainable(model, phase.unfreeze)
            report("phase", {"name": phase.name, "epochs": phase.epochs, "lr": phase.lr,
                             "trainable_backbone_layers": trainable})
            compile_model(model, phase.lr)
            phase_start = time.monotonic()
            model.fit(train_ds, validation_data=val_ds, epochs=phase.epochs, verbose=0,
                      callbacks=_callbacks(run, phase, twin, state, report))
            durations[phase.name] = round(time.monotonic() - phase_start, 1)
            if state["best_weights"] is not None:
                model.set_weights(state["best_weights"])  # the next phase starts from the best
    except KeyboardInterrupt:
        meta.update(status="interrupted", interrupted_at=runs.now(), epochs_done=state["epoch"])
        runs.write_meta(run, meta)
        raise Interrupted(f"training interrupted after {state['epoch']} epoch(s); {run} is kept",
                          hint=f"train again with: glaucli train {bb.name} ...") from None
    except BaseException:
        meta.update(status="failed", finished_at=runs.now())
        runs.write_meta(run, meta)
        raise

    report("message", {"text": "Choosing the decision threshold on the validation split"})
    labels = [label for _, label in val_pairs]
    scores = predict_scores(model, val_pairs, size, cfg.batch_size)
    threshold = screening.youden_threshold(labels, scores)
    val_metrics = screening.screening_metrics(labels, scores, threshold)
    durations["total"] = round(time.monotonic() - started, 1)
    meta.update(status="complete", finished_at=runs.now(), threshold=threshold,
                threshold_method="youden (validation)", epochs_done=state["epoch"],
                durations_s=durations, metrics={"validation": val_metrics})
    runs.write_meta(run, meta)
    _plot_curves(run, report)
    return TrainResult(run, val_metrics, meta)


def _plot_curves(run: Path, report: Report) -> None:
    """curves.png: loss, accuracy and AUC per epoch over both phases. Never fails a run."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

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
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(run / "curves.png", dpi=110)
        plt.close(fig)
    except Exception as exc:  # noqa: BLE001 - a plot must never fail a finished run
        report("warning", {"text": f"could not draw curves.png ({type(exc).__name__}: {exc})"})
