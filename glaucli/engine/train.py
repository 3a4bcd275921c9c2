"""Training: transfer learning in one or two phases, into a complete run folder.

Two phases with pretrained weights (keras-io's transfer-learning recipe): the
head trains with the backbone frozen, then the top of the backbone is
unfrozen (BatchNorm kept frozen) and trained with a ~100x lower rate, starting
from phase 1's best weights. From scratch (`weights=None`) it is one phase.
`recipe="seed"` reproduces the original project instead.

Every epoch ends with `last.keras` (optimizer included) and `state.json`
(phase, epoch, early-stopping and LR-plateau state) written atomically, so a
run interrupted by Ctrl-C/SIGTERM resumes in the same folder with `resume()`.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

from glaucli import __version__, config, runs
from glaucli.contract import RESEARCH_NOTE
from glaucli.data import collection as collections
from glaucli.data import image_cache
from glaucli.data.images import RESAMPLE
from glaucli.data.labels import CLASSES
from glaucli.data.pipeline import make_dataset, steps_per_epoch
from glaucli.engine import feature_cache, ood, precision, selection
from glaucli.engine.distribute import distributed_fit, keras_fit, setup_hardware
from glaucli.engine.predict import TtaModel, tta_views
from glaucli.engine.signals import Interrupts
from glaucli.errors import InputError, Interrupted, UsageError, WorkError
from glaucli.models import backbones, classifier

Report = Callable[[str, dict], None]
RECIPES = ("default", "seed")
AUGMENTS = ("none", "light", "strong")
STATE = "state.json"


@dataclass
class TrainConfig:
    backbone: str = backbones.DEFAULT
    data: Path | None = None
    data_dir: Path | None = None
    variant: str | None = None
    labels: Path | None = None  # the data options of collection.DataSpec
    classes: str | None = None
    image_column: str | None = None
    label_column: str | None = None
    split_column: str | None = None
    skip_missing: bool = False
    recipe: str = "default"
    image_size: int | None = None
    batch_size: int = 32
    epochs: int | None = None  # default: 10, or 50 for the seed recipe
    finetune_epochs: int = 10
    lr: float = 1e-3
    finetune_lr: float = 1e-5
    unfreeze: str | None = None
    weights: str = "imagenet"
    augment: str = "light"
    class_weight: str = "auto"
    limit: int | None = None
    seed: int | None = None
    deterministic: bool = False
    patience: int = 5
    mixed_precision: str = "auto"
    xla: bool | None = None
    strategy: str = "auto"
    tensorboard: bool = False
    head_features: str = "cache"  # the head phase on cached pooled features, or "live"
    cache: str = "auto"  # decoded-image cache: auto, memory, disk or none
    members: list[str] | None = None  # several backbones: the `ensemble concat` model
    name: str | None = None
    runs_dir: Path | None = None


# Options a resumed run may change: they alter how long it trains, not what it is.
RESUMABLE_OVERRIDES = ("epochs", "finetune_epochs", "patience", "tensorboard", "cache")


@dataclass
class Phase:
    name: str
    epochs: int
    lr: float
    unfreeze: str
    monitor: str = "val_auc"  # early stopping
    mode: str = "max"
    patience: int = 5
    min_delta: float = 0.0
    plateau_factor: float = 0.3  # ReduceLROnPlateau on val_loss
    plateau_patience: int = 2
    freeze_batchnorm: bool = True


@dataclass
class TrainResult:
    run: Path
    metrics: dict
    meta: dict = field(repr=False)


def _check(cfg: TrainConfig) -> None:
    if cfg.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if cfg.epochs is not None and cfg.epochs < 1:
        raise UsageError("--epochs must be at least 1")
    if cfg.finetune_epochs < 0:
        raise UsageError("--finetune-epochs must not be negative")
    if not (math.isfinite(cfg.lr) and math.isfinite(cfg.finetune_lr)) or cfg.lr <= 0 or cfg.finetune_lr <= 0:
        raise UsageError("learning rates must be positive finite numbers")
    if cfg.recipe not in RECIPES:
        raise UsageError(f"--recipe must be one of {', '.join(RECIPES)}")
    if cfg.augment not in AUGMENTS:
        raise UsageError(f"--augment must be one of {', '.join(AUGMENTS)}")
    if cfg.class_weight not in ("auto", "none"):
        raise UsageError("--class-weight must be auto or none")
    if cfg.mixed_precision not in ("auto", "on", "off"):
        raise UsageError("--mixed-precision must be auto, on or off")
    if cfg.strategy not in ("auto", "none", "mirrored", "multiworker"):
        raise UsageError("--strategy must be auto, none, mirrored or multiworker")
    if cfg.head_features not in feature_cache.MODES:
        raise UsageError("--head-features must be cache or live")
    image_cache.choose(cfg.cache, 0, 1)  # validates the mode
    if cfg.limit is not None and cfg.limit < 1:
        raise UsageError("--limit must be at least 1")
    if cfg.patience < 1:
        raise UsageError("--patience must be at least 1")
    if cfg.unfreeze is not None:
        classifier.resolve_unfreeze(cfg.unfreeze, 1)  # validates the form early
    _check_values(cfg)
    if cfg.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise InputError("--tensorboard needs the tensorboard package",
                             hint='pip install "glaucli[tensorboard]"')


def _check_values(cfg: TrainConfig) -> None:
    """Hardening (issue 16): names, seeds and sizes that would fail only after minutes of work."""
    from glaucli.safety import component, max_image_size

    if cfg.name is not None:
        component(cfg.name, "--name")
    if cfg.seed is not None and not 0 <= cfg.seed < 2**32:
        raise UsageError(f"--seed must be within 0 .. {2**32 - 1} (got {cfg.seed})")
    if cfg.image_size is not None and cfg.image_size > max_image_size(cfg.batch_size):
        raise UsageError(f"--image-size {cfg.image_size} cannot fit in memory with --batch-size {cfg.batch_size}",
                         hint=f"at most {max_image_size(cfg.batch_size)} px at this batch size")


def _weights(cfg: TrainConfig, bb: backbones.Backbone) -> str | None:
    choice = cfg.weights.lower()
    if choice == "none" or not bb.pretrained:
        if choice not in ("none", "imagenet"):
            raise UsageError(f"{bb.name} is trained from scratch; it takes no weights file")
        return None
    return "imagenet" if choice == "imagenet" else cfg.weights


def plan(cfg: TrainConfig, bb: backbones.Backbone, weights: str | None) -> list[Phase]:
    """The phases of the recipe."""
    if cfg.recipe == "seed":  # the original project: everything trainable from epoch 1
        return [Phase("train", cfg.epochs or 50, cfg.lr, "all", monitor="val_loss", mode="min",
                      patience=15, min_delta=0.001, plateau_factor=0.25, plateau_patience=3,
                      freeze_batchnorm=False)]
    patience = dict(patience=cfg.patience, plateau_patience=max(1, cfg.patience // 2))
    if weights is None:  # from scratch every layer trains, BatchNorm statistics included
        return [Phase("train", cfg.epochs or 10, cfg.lr, "all", freeze_batchnorm=False, **patience)]
    phases = [Phase("head", cfg.epochs or 10, cfg.lr, "none", **patience)]
    if cfg.finetune_epochs:
        phases.append(Phase("finetune", cfg.finetune_epochs, cfg.finetune_lr,
                            cfg.unfreeze or bb.unfreeze, **patience))
    return phases


def compile_model(model, lr: float, xla: bool = False, optimizer=None) -> None:
    from glaucli.tf import keras

    k = keras()
    model.compile(optimizer=optimizer or k.optimizers.Adam(lr), loss=k.losses.BinaryCrossentropy(),
                  metrics=[k.metrics.BinaryAccuracy(name="accuracy"), k.metrics.AUC(name="auc")],
                  jit_compile=xla,
                  # A test-only switch: eager steps skip 15-60 s of graph tracing on CPU.
                  run_eagerly=os.environ.get("GLAUCLI_RUN_EAGERLY") == "1")


def class_weights(labels: list[int], mode: str) -> dict[int, float] | None:
    """Balanced weights n / (2 n_c) (1.0 each when balanced); None for mode "none"."""
    if mode == "none":
        return None
    n = len(labels)
    return {c: round(n / (2 * max(1, labels.count(c))), 6) for c in (0, 1)}


# -- interruption -------------------------------------------------------------------------

class _StopRequested(Exception):
    pass


# -- the per-epoch bookkeeping ----------------------------------------------------------------

def save_atomic(model, path: Path) -> None:
    """Keras insists on a .keras suffix, so the temp name keeps it; then rename. A failed
    save (disk full) leaves the previous file whole and no half file behind."""
    import errno

    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        with classifier.original_rates(model):
            model.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise WorkError(f"disk full while saving {path}; the previous {path.name} is intact",
                            hint="free space, then continue with glaucli train --resume") from None
        raise


HISTORY_FIELDS = ["phase", "epoch", "phase_epoch", "loss", "accuracy", "auc", "val_loss",
                  "val_accuracy", "val_auc", "lr", "seconds"]


def _append_history(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if value != value:  # NaN never improves
        return False
    if best is None:
        return True
    return value > best + min_delta if mode == "max" else value < best - min_delta


def _run_callback(run: Path, phase: Phase, twin, state: dict, interrupts: Interrupts, val_ds,
                  report: Report):
    from glaucli.tf import keras

    k = keras()

    class RunCallback(k.callbacks.Callback):
        """Progress, interruption, best/last checkpoints, history.csv, early stopping and
        LR reduction: one place, so that all of it survives a resume exactly."""

        def on_epoch_begin(self, epoch, logs=None):
            _reseed_layers(self.model, state["seed"], state["epoch"])
            self.epoch_start = time.monotonic()
            self.batch_times: list[float] = []
            report("epoch_start", {"phase": phase.name, "epoch": epoch + 1, "epochs": phase.epochs,
                                   "steps": state["steps"]})

        def on_train_batch_end(self, batch, logs=None):
            if interrupts.requested is not None:
                raise _StopRequested
            self.batch_times.append(time.monotonic())
            report("batch", {"step": batch + 1, "steps": state["steps"], "logs": dict(logs or {})})
            # Estimate from batches 2..10: the first ones include graph tracing and warm-up.
            if batch == min(10, state["steps"] - 1) and batch >= 3 and not state.get("estimated"):
                state["estimated"] = True
                per_batch = (self.batch_times[-1] - self.batch_times[1]) / (len(self.batch_times) - 2)
                report("estimate", {"seconds_per_epoch": per_batch * state["steps"]})

        def on_epoch_end(self, epoch, logs=None):
            # Validation here, not in fit: exact figures from this epoch's scores, written back
            # into Keras' logs so TensorBoard and History see the very same numbers.
            labels, scores = self.validate(self.model)
            val = selection.validation_logs(labels, scores)
            if logs is not None:
                logs.update(val)
            logs = {key: float(v) for key, v in (logs or {}).items()}
            seconds = time.monotonic() - self.epoch_start
            state["epoch"] += 1
            state["phase_epoch"] = epoch + 1
            best = selection.better(val, state["best"])
            if best:
                state["best"] = {"epoch": state["epoch"], "phase": phase.name, "phase_epoch": epoch + 1, **val}
                state["best_weights"] = self.model.get_weights()
                twin.set_weights(state["best_weights"])
                save_atomic(twin, run / runs.BEST)
            lr = float(k.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            _append_history(run / "history.csv", {"phase": phase.name, "epoch": state["epoch"],
                                                  "phase_epoch": epoch + 1, **logs, "lr": lr,
                                                  "seconds": round(seconds, 2)})
            # Early stopping and LR reduction, with their state in state.json.
            stop, plateau = state["stop"], state["plateau"]
            if phase.monitor == "val_auc":  # the same "better" as the checkpoint's
                improved = selection.better(val, stop["best"])
                value = val
            else:
                value = logs.get(phase.monitor, float("nan"))
                improved = _improved(value, stop["best"], phase.mode, phase.min_delta)
            if improved:
                stop.update(best=value, wait=0)
            else:
                stop["wait"] += 1
            if _improved(logs.get("val_loss", float("nan")), plateau["best"], "min"):
                plateau.update(best=logs["val_loss"], wait=0)
            else:
                plateau["wait"] += 1
                if plateau["wait"] >= phase.plateau_patience and lr > 1e-7:
                    self.model.optimizer.learning_rate.assign(max(lr * phase.plateau_factor, 1e-7))
                    plateau["wait"] = 0
                    report("message", {"text": f"Reducing the learning rate to {lr * phase.plateau_factor:.2g}"})
            save_atomic(self.model, run / runs.LAST)
            _save_state(run, state)
            report("epoch", {"phase": phase.name, "epoch": epoch + 1, "epochs": phase.epochs,
                             "logs": logs, "seconds": seconds, "best": best})
            if stop["wait"] >= phase.patience and epoch + 1 < phase.epochs:
                what = "model (val_auc, then val_loss)" if phase.monitor == "val_auc" else phase.monitor
                report("message", {"text": f"Early stopping: no better {what} for {phase.patience} epochs"})
                self.model.stop_training = True
            if interrupts.requested is not None:
                raise _StopRequested

    callback = RunCallback()
    # How an epoch is validated; the cached-feature head phase swaps in its own (the same
    # model's scores, from the cached features instead of the photos).
    callback.validate = lambda model: selection.validation_scores(model, val_ds)
    return callback


def _reseed_layers(model, seed: int, epoch: int) -> None:
    """Dropout's random stream lives in a SeedGenerator that .keras files do not keep; seeding
    it from (run seed, layer, epoch) makes a resumed epoch draw what an uninterrupted one would."""
    import numpy as np

    generators = [layer.seed_generator for layer in model.layers if hasattr(layer, "seed_generator")]
    for i, generator in enumerate(generators):
        value = np.array([(seed * 7919 + i) % 2**31, epoch << 20], dtype=generator.state.dtype)
        generator.state.assign(value)


def _save_state(run: Path, state: dict) -> None:
    runs.write_json_atomic(run / STATE, {k: v for k, v in state.items() if k not in _IN_MEMORY})


_IN_MEMORY = ("best_weights", "estimated", "steps", "seed")


def _fresh_state() -> dict:
    return {"phase_index": 0, "phase_epoch": 0, "epoch": 0, "best": None, "best_weights": None,
            "stop": {"best": None, "wait": 0}, "plateau": {"best": None, "wait": 0}}


# -- the driver -------------------------------------------------------------------------------

def versions() -> dict:
    from glaucli.tf import keras, tensorflow

    return {"glaucli": __version__, "tensorflow": tensorflow().__version__,
            "keras": keras().__version__, "python": platform.python_version()}


def _seed_everything(seed: int, deterministic: bool) -> None:
    from glaucli.tf import keras, tensorflow

    keras().utils.set_random_seed(seed)
    if deterministic:
        # set_random_seed alone gave different CPU weights in 3 of 5 runs; this makes them equal.
        tensorflow().config.experimental.enable_op_determinism()


def _model_spec(cfg: TrainConfig) -> tuple[backbones.Backbone, int, str | None]:
    """The (first) backbone, the input size and the weights to start from."""
    if cfg.members is not None:
        if len(cfg.members) < 2:
            raise UsageError("ensemble concat needs at least two backbones")
        from glaucli.models.ensemble import check_concat_weights

        members = [backbones.get(name) for name in cfg.members]
        size = cfg.image_size or max(b.default_size for b in members)
        # The weights follow the pretrained members (a from-scratch one must not turn them off);
        # checked here, before TensorFlow is imported.
        weights = _weights(cfg, next((b for b in members if b.pretrained), members[0]))
        check_concat_weights(weights)
        return members[0], size, weights
    bb = backbones.get(cfg.backbone)
    return bb, cfg.image_size or (299 if cfg.recipe == "seed" else bb.default_size), _weights(cfg, bb)


def _build(cfg: TrainConfig, bb: backbones.Backbone, size: int, weights: str | None):
    """The model to train and what meta.json records about its shape."""
    if cfg.members is not None:
        from glaucli.models.ensemble import build_concat

        members = [backbones.get(name) for name in cfg.members]
        member_sizes = [cfg.image_size or b.default_size for b in members]
        built, layers = build_concat(members, size, member_sizes, weights)
        return built, {"method": "concat", "backbone": "concat(" + ", ".join(b.name for b in members) + ")",
                       "members": [{"backbone": b.name, "image_size": s, "gradcam_layer": layer}
                                   for b, s, layer in zip(members, member_sizes, layers)]}
    return classifier.build(bb, size, weights, head="seed" if cfg.recipe == "seed" else "default"), {}


def train(cfg: TrainConfig, report: Report = lambda kind, data: None) -> TrainResult:
    """Train `cfg.backbone` into a new run folder; returns it with validation metrics."""
    with precision.restored():
        return _train(cfg, report)


def _train(cfg: TrainConfig, report: Report) -> TrainResult:
    from glaucli.engine.devices import describe_devices

    _check(cfg)
    bb, size, weights = _model_spec(cfg)
    dataset = _collection(collections.DataSpec(
        cfg.data, cfg.labels, cfg.classes, cfg.image_column, cfg.label_column, cfg.split_column,
        skip_missing=cfg.skip_missing, variant=cfg.variant), cfg, report)
    train_pairs = dataset.require("train", cfg.limit)
    val_pairs = dataset.require("validation", cfg.limit)
    devices = describe_devices()
    hardware = setup_hardware(cfg, devices)  # first: a multi-worker strategy must precede other TF work
    # Workers must agree on the seed (same initial weights, same data order to shard).
    fixed = cfg.deterministic or hardware["strategy"] == "multiworker"
    seed = cfg.seed if cfg.seed is not None else (0 if fixed else random.randrange(2**31))
    _seed_everything(seed, cfg.deterministic)
    phases = plan(cfg, bb, weights)
    with hardware["_strategy"].scope():
        built, extra = _build(cfg, bb, size, weights)
    twin = precision.portable_twin(built.model)  # saves best.keras without optimizer, float32

    kind = "ensemble" if cfg.members else "train"
    if hardware["chief"]:
        run = runs.new_run_dir(config.runs_dir(cfg.runs_dir), kind, cfg.name or extra.get("method") or bb.name)
    else:  # only the chief writes the run folder; the others keep their files apart
        import tempfile

        run = Path(tempfile.mkdtemp(prefix="glaucli-worker-"))
    labels = [label for _, label in train_pairs]
    meta = {
        "kind": kind, "status": "running", "started_at": runs.now(), "finished_at": None,
        "backbone": extra.pop("backbone", bb.name), "image_size": size, "classes": list(CLASSES),
        "threshold": 0.5, "preprocessing": built.preprocessing, "resample": RESAMPLE,
        "gradcam_layer": built.gradcam_layer, **extra,
        "recipe": cfg.recipe, "weights": weights or "none", "seed": seed,
        "class_weight": class_weights(labels, cfg.class_weight),
        "data": {**dataset.describe(), "train": {c: labels.count(i) for i, c in enumerate(CLASSES)},
                 "validation": len(val_pairs)},
        "synthetic": dataset.synthetic,
        "args": _effective_args(cfg, size, weights, phases), "phases": [asdict(p) for p in phases],
        "versions": versions(), "device": devices,
        "hardware": {k: v for k, v in hardware.items() if not k.startswith("_")},
        "note": RESEARCH_NOTE,
    }
    runs.write_meta(run, meta)
    with _fails_run(run, meta):
        report("start", {"backbone": meta["backbone"], "image_size": size, "device": devices,
                         "hardware": meta["hardware"], "train": len(train_pairs),
                         "validation": len(val_pairs), "data": str(dataset.root), "run": str(run)})
        return _fit(run, meta, built.model, twin, _fresh_state(), phases, train_pairs, val_pairs,
                    hardware, report)


@contextmanager
def _fails_run(run: Path, meta: dict):
    """Any error after meta.json says `running` leaves it `failed` (or `interrupted`), never
    `running`: a run that looks alive would block nothing but mislead `glaucli runs`."""
    try:
        yield
    except BaseException:
        if meta.get("status") == "running":
            meta.update(status="failed", finished_at=runs.now(), resume=f"glaucli train --resume {run}")
            runs.write_meta(run, meta)
        raise


def resume(run_arg: str | Path, overrides: dict, runs_dir: Path | None = None,
           report: Report = lambda kind, data: None) -> TrainResult:
    """Continue an interrupted run in its own folder from its last complete epoch."""
    with precision.restored():
        return _resume(run_arg, overrides, runs_dir, report)


def _resume(run_arg: str | Path, overrides: dict, runs_dir: Path | None, report: Report) -> TrainResult:
    from glaucli.engine.devices import describe_devices
    from glaucli.engine.predict import load_model
    from glaucli.tf import keras

    run = runs.run_folder(run_arg, config.runs_dir(runs_dir)) or Path(run_arg)
    meta = runs.read_meta(run)
    if meta is None or "args" not in meta:
        raise InputError(f"{run_arg} is not a training run folder with a meta.json")
    _check_resume_meta(meta, run)
    if meta.get("status") == "complete":
        raise InputError(f"{run} is already complete; nothing to resume")
    unsafe = sorted(k for k, v in overrides.items()
                    if k not in RESUMABLE_OVERRIDES and meta["args"].get(k) != _jsonable(v))
    if unsafe:
        raise UsageError(f"--resume keeps the run's own settings; cannot change {', '.join(unsafe)}",
                         hint=f"only {', '.join(RESUMABLE_OVERRIDES)} may change on resume")
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in meta["args"].items() if k in known})
    for key in RESUMABLE_OVERRIDES:
        if key in overrides:
            setattr(cfg, key, overrides[key])
    _check(cfg)
    bb, size, weights = _model_spec(cfg)
    dataset = _collection(collections.from_record(meta["data"]), cfg, report)
    train_pairs = dataset.require("train", cfg.limit)
    val_pairs = dataset.require("validation", cfg.limit)
    hardware = setup_hardware(cfg, describe_devices())
    _seed_everything(meta["seed"], cfg.deterministic)
    phases = plan(cfg, bb, weights)
    saved = _load_state(run)
    state = saved or _fresh_state()
    start = time.monotonic()
    with hardware["_strategy"].scope():
        if saved and (run / runs.LAST).is_file():
            model = keras().saving.load_model(run / runs.LAST, safe_mode=True)  # optimizer state too
        else:  # interrupted before its first epoch ended: start over in the same folder
            model = _build(cfg, bb, size, weights)[0].model
    twin = precision.portable_twin(model)
    if saved and (run / runs.BEST).is_file():
        state["best_weights"] = load_model(run / runs.BEST).get_weights()
    meta.update(status="running", args=_effective_args(cfg, size, weights, phases),
                phases=[asdict(p) for p in phases], resumed_at=runs.now())
    runs.write_meta(run, meta)
    with _fails_run(run, meta):
        report("resume", {"run": str(run), "phase": phases[min(state["phase_index"], len(phases) - 1)].name,
                          "epoch": state["epoch"], "seconds": time.monotonic() - start})
        return _fit(run, meta, model, twin, state, phases, train_pairs, val_pairs, hardware, report)


_TYPES = {"str": str, "Path": str, "int": int, "float": (int, float), "bool": bool, "None": type(None),
          "list[str]": list}


def _check_resume_meta(meta: dict, run: Path) -> None:
    """meta.json's training arguments, seed and dataset, of the types train() wrote (exit 3 if not)."""
    args, hints = meta["args"], {f.name: f.type for f in fields(TrainConfig)}
    bad = [] if isinstance(args, dict) else ["args"]
    for key, value in (args.items() if isinstance(args, dict) else ()):
        allowed = tuple(_TYPES[t.strip()] for t in str(hints.get(key, "None")).split("|") if t.strip() in _TYPES)
        if key in hints and (not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)):
            bad.append(f"args.{key}")
    if not isinstance(meta.get("seed"), int) or isinstance(meta.get("seed"), bool):
        bad.append("seed")
    if not isinstance(meta.get("data"), dict):
        bad.append("data")
    else:
        runs.meta_data_record(meta, run)  # its path and spec: exit 3 naming the file if corrupt
    if bad:
        raise InputError(f"{run / runs.META} is corrupt ({', '.join(bad)} of the wrong type); cannot resume",
                         hint="start a new run with glaucli train")


def _collection(spec: collections.DataSpec, cfg: TrainConfig, report: Report) -> collections.Collection:
    found = collections.resolve(spec, config.data_dir(cfg.data_dir))
    for text in found.notes:
        report("message", {"text": text})
    for text in found.warnings:
        report("warning", {"text": text})
    return found


def _int_keys(weights: dict | None) -> dict[int, float] | None:
    """meta.json stores class weights with string keys; Keras wants the label ints."""
    return {int(k): float(v) for k, v in weights.items()} if weights else None


def _jsonable(value):
    return str(value) if isinstance(value, Path) else value


def _args(cfg: TrainConfig) -> dict:
    """The configuration as meta.json records it (paths as strings)."""
    return {key: _jsonable(value) for key, value in asdict(cfg).items()}


def _effective_args(cfg: TrainConfig, size: int, weights: str | None, phases: list[Phase]) -> dict:
    """The configuration as the run used it: a from-scratch run records `weights: none`, a run
    without a fine-tuning phase records 0 fine-tuning epochs and no fine-tuning rate or
    unfreeze, defaults that were resolved (image size, epochs) record their value. Resuming
    from these rebuilds the same phases."""
    args = _args(cfg)
    args.update(image_size=size, epochs=phases[0].epochs)
    if weights is None:
        args["weights"] = "none"
    if not any(p.name == "finetune" for p in phases):
        args["finetune_epochs"] = 0
        args.pop("finetune_lr", None)
        args.pop("unfreeze", None)
    return args


def _load_state(run: Path) -> dict | None:
    import json

    try:
        state = json.loads((run / STATE).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(state, dict):
        return None
    state = {**_fresh_state(), **state}
    if state.get("best") is None and state.get("best_auc") is not None:  # a state.json of 0.1
        state["best"] = {"val_auc": state.pop("best_auc"), "val_loss": float("inf")}
    counters = all(isinstance(state[k], int) and not isinstance(state[k], bool) and state[k] >= 0
                   for k in ("phase_index", "phase_epoch", "epoch"))
    tracked = all(isinstance(state[k], dict) and isinstance(state[k].get("wait", 0), int) for k in ("stop", "plateau"))
    return state if counters and tracked else None  # garbage: treated as unreadable


def _unreadable_image(exc: BaseException) -> str | None:
    """The loader's one-line error inside a tf.data failure, if that is what this is."""
    text = str(exc)
    if type(exc).__name__ not in ("InvalidArgumentError", "UnknownError") or "ValueError: " not in text:
        return None
    return text.split("ValueError: ", 1)[1].splitlines()[0]


def _fit(run: Path, meta: dict, model, twin, state: dict, phases: list[Phase], train_pairs, val_pairs,
         hardware: dict, report: Report) -> TrainResult:
    from glaucli.engine import metrics as screening
    from glaucli.tf import keras

    cfg_args = meta["args"]
    size, batch = meta["image_size"], cfg_args["batch_size"]
    state["steps"] = steps_per_epoch(len(train_pairs), batch)
    state["seed"] = meta["seed"]
    cache = image_cache.open_cache(cfg_args.get("cache", "auto"), [p for p, _ in train_pairs + val_pairs],
                                   size, run)
    val_ds = make_dataset(val_pairs, size, batch, deterministic=True, cache=cache)
    # A frozen phase is inference mode for BatchNorm and every stochastic layer; the saved
    # model keeps the layers' own rates, so set them for the phase in progress (also on resume).
    if state["phase_index"] < len(phases) and state["phase_epoch"] > 0:
        phase = phases[state["phase_index"]]
        classifier.set_trainable(model, phase.unfreeze, phase.freeze_batchnorm)
        classifier.adapt_batchnorm(model, state["steps"])
    started = time.monotonic()
    durations = meta.get("durations_s", {})
    try:
        with Interrupts() as interrupts:
            for index in range(state["phase_index"], len(phases)):
                phase = phases[index]
                if state["phase_epoch"] == 0:  # a fresh phase: from the best weights so far
                    if state["best_weights"] is not None:
                        model.set_weights(state["best_weights"])
                    trainable = classifier.set_trainable(model, phase.unfreeze, phase.freeze_batchnorm)
                    classifier.adapt_batchnorm(model, state["steps"])
                    with hardware["_strategy"].scope():
                        compile_model(model, phase.lr, hardware["xla"])
                    state["stop"], state["plateau"] = {"best": None, "wait": 0}, {"best": None, "wait": 0}
                    report("phase", {"name": phase.name, "epochs": phase.epochs, "lr": phase.lr,
                                     "trainable_backbone_layers": trainable})
                if state["phase_epoch"] < phase.epochs and state["stop"]["wait"] < phase.patience:
                    train_ds = make_dataset(train_pairs, size, batch, training=True,
                                            augment="seed" if cfg_args["recipe"] == "seed" else cfg_args["augment"],
                                            seed=meta["seed"], first_epoch=state["epoch"],
                                            deterministic=cfg_args["deterministic"], cache=cache)
                    callbacks = [_run_callback(run, phase, twin, state, interrupts, val_ds, report)]
                    if cfg_args.get("tensorboard"):
                        callbacks.append(keras().callbacks.TensorBoard(log_dir=str(run / "tensorboard")))
                    phase_start = time.monotonic()
                    fit = distributed_fit if hardware["strategy"] == "multiworker" else keras_fit
                    if _cached_head(cfg_args, phase, hardware, model):
                        fit = feature_cache.head_fit(run, meta, train_pairs, val_pairs, state["epoch"], cache,
                                                     lambda: _check_interrupt(interrupts), report)
                    fit(model, hardware["_strategy"], train_ds, phase.epochs, state["phase_epoch"],
                        state["steps"], _int_keys(meta.get("class_weight")), callbacks, batch)
                    durations[phase.name] = round(durations.get(phase.name, 0) + time.monotonic() - phase_start, 1)
                state.update(phase_index=index + 1, phase_epoch=0)
                _save_state(run, state)
    except (_StopRequested, KeyboardInterrupt):
        _close(cache)
        meta.update(status="interrupted", interrupted_at=runs.now(), epochs_done=state["epoch"],
                    resume=f"glaucli train --resume {run}")
        runs.write_meta(run, meta)
        raise Interrupted(f"training interrupted after {state['epoch']} complete epoch(s); {run} is kept",
                          hint=f"continue with: glaucli train --resume {run}") from None
    except BaseException as exc:
        _close(cache)
        meta.update(status="failed", finished_at=runs.now(), resume=f"glaucli train --resume {run}")
        runs.write_meta(run, meta)
        unreadable = _unreadable_image(exc)
        if unreadable:
            raise WorkError(f"an image became unreadable during training: {unreadable}",
                            hint=f"fix or remove it, then: glaucli train --resume {run}") from None
        raise
    if state["best_weights"] is not None:
        model.set_weights(state["best_weights"])

    report("message", {"text": "Choosing the decision threshold on the validation split"})
    # best.keras' own scores set the threshold: in float32 it is the best epoch's model exactly
    # (the same numbers as its epoch line); under bfloat16 its float32 copy, as it will be used.
    twin.set_weights(model.get_weights())
    labels, scores = selection.validation_scores(twin, val_ds)
    threshold = screening.youden_threshold(labels, scores)
    val_metrics = screening.screening_metrics(labels, scores, threshold)
    views = tta_views(cfg_args["augment"], cfg_args["recipe"])
    tta_labels, tta_scores = selection.validation_scores(TtaModel(twin, views), val_ds)
    _close(cache)
    (run / feature_cache.FILE).unlink(missing_ok=True)  # left by a run stopped right after its head phase
    warnings = quality_warnings(val_metrics, threshold, scores)
    for text in warnings:
        report("warning", {"text": text})
    meta["ood"] = ood.after_training(run, meta, twin, train_pairs, val_pairs, batch, report)
    durations["total"] = round(durations.get("total", 0) + time.monotonic() - started, 1)
    meta.update(status="complete", finished_at=runs.now(), threshold=threshold,
                threshold_method="youden (validation)", tta_views=views,
                threshold_tta=screening.youden_threshold(tta_labels, tta_scores),
                best_epoch=state["best"], epochs_done=state["epoch"], warnings=warnings,
                durations_s=durations, metrics={"validation": val_metrics})
    meta["weights_sha256"] = weights_digest(model)
    meta.pop("resume", None)
    runs.write_meta(run, meta)
    _plot_curves(run, report, state["best"])
    return TrainResult(run, val_metrics, meta)


def _cached_head(args: dict, phase: Phase, hardware: dict, model) -> bool:
    """Whether this phase trains the head on cached features: a frozen backbone (the head
    phase), one device (a strategy's mirrored variables stay on the live path), a model with
    a pooled-feature head."""
    return (args.get("head_features", "cache") == "cache" and phase.unfreeze == "none"
            and hardware["strategy"] == "none" and feature_cache.split(model) is not None)


def _close(cache) -> None:
    if cache is not None:
        cache.close()


def _check_interrupt(interrupts: Interrupts) -> None:
    if interrupts.requested is not None:
        raise _StopRequested


def quality_warnings(val_metrics: dict, threshold: float, scores) -> list[str]:
    """What says a model learned nothing; never shown as a result without a word."""
    import numpy as np

    causes = ("the learning rate (--lr), too few or unbalanced training images, "
              "BatchNorm or frozen layers, or too few epochs")
    found = []
    auc = val_metrics.get("auc", float("nan"))
    if float(np.ptp(scores)) < 1e-6:
        found.append(f"the model gives every validation image the same score ({float(scores[0]):.4f}): "
                     f"it learned nothing; check {causes}")
    elif auc == auc and auc <= 0.55:
        found.append(f"validation AUC {auc:.3f} is at chance level: the model learned little; check {causes}")
    if threshold <= 0.0 or threshold >= 1.0:
        found.append(f"the decision threshold is {threshold:.3f}: every image gets the same verdict")
    return found


def weights_digest(model) -> str:
    """SHA-256 of the weights: equal digests, equal models (workers, reproductions)."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


def _plot_curves(run: Path, report: Report, best: dict | None = None) -> None:
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
        report("warning", {"text": f"could not draw curves.png ({type(exc).__name__}: {exc})"})
