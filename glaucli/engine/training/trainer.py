"""Training into a complete run folder: `train`, `resume`, and the phase loop they share.

Every epoch ends with `last.keras` (optimizer included) and `state.json` written atomically,
so a run interrupted by Ctrl-C/SIGTERM resumes in the same folder with `resume()`."""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from glaucli import config, events, runs
from glaucli.data import collection as collections
from glaucli.data import image_cache
from glaucli.data.labels import CLASSES
from glaucli.data.pipeline import make_dataset, steps_per_epoch
from glaucli.engine import feature_cache, ood, precision
from glaucli.engine.devices import describe_devices, versions
from glaucli.engine.distribute import Hardware, setup_hardware
from glaucli.engine.signals import Interrupts, StopRequested
from glaucli.engine.training import callbacks, finish
from glaucli.engine.training.config import TrainConfig, effective_args, resumed_config
from glaucli.engine.training.recipe import Phase, build, class_weights, compile_model, int_keys, model_spec, plan
from glaucli.engine.training.state import TrainState
from glaucli.errors import InputError, Interrupted, WorkError
from glaucli.models import classifier
from glaucli.models.saving import weights_digest


@dataclass
class TrainResult:
    run: Path
    metrics: dict
    meta: dict = field(repr=False)


def train(cfg: TrainConfig, on_event: events.Listeners = None) -> TrainResult:
    """Train `cfg.backbone` into a new run folder; returns it with validation metrics.
    `on_event`: listener(s) for glaucli.events (RunStarted, EpochEnded, Message, ...)."""
    with precision.restored():
        return _train(cfg, events.dispatcher(on_event))


def resume(run_arg: str | Path, overrides: dict, runs_dir: Path | None = None,
           on_event: events.Listeners = None) -> TrainResult:
    """Continue an interrupted run in its own folder from its last complete epoch."""
    with precision.restored():
        return _resume(run_arg, overrides, runs_dir, events.dispatcher(on_event))


def _train(cfg: TrainConfig, on_event: events.Dispatcher) -> TrainResult:
    cfg.validate()
    bb, size, weights = model_spec(cfg)
    dataset = _collection(collections.DataSpec(
        cfg.data, cfg.labels, cfg.classes, cfg.image_column, cfg.label_column, cfg.split_column,
        skip_missing=cfg.skip_missing, variant=cfg.variant), cfg, on_event)
    train_pairs = dataset.require("train", cfg.limit)
    val_pairs = dataset.require("validation", cfg.limit)
    devices = describe_devices()
    hardware = _hardware(cfg, devices)  # first: a multi-worker strategy must precede other TF work
    # Workers must agree on the seed (same initial weights, same data order to shard).
    fixed = cfg.deterministic or hardware.strategy == "multiworker"
    seed = cfg.seed if cfg.seed is not None else (0 if fixed else random.randrange(2**31))
    _seed_everything(seed, cfg.deterministic)
    phases = plan(cfg, bb, weights)
    with hardware.distribution.scope():
        built, extra = build(cfg, bb, size, weights)
    twin = precision.portable_twin(built.model)  # saves best.keras without optimizer, float32

    kind = "ensemble" if cfg.members else "train"
    if hardware.chief:
        run = runs.new_run_dir(config.runs_dir(cfg.runs_dir), kind, cfg.name or extra.get("method") or bb.name)
    else:  # only the chief writes the run folder; the others keep their files apart
        import tempfile

        run = Path(tempfile.mkdtemp(prefix="glaucli-worker-"))
    labels = [label for _, label in train_pairs]
    meta = runs.run_meta(
        kind, "running", backbone=extra.pop("backbone", bb.name), image_size=size,
        preprocessing=built.preprocessing, threshold=0.5, versions=versions(),
        data={**dataset.describe(), "train": {c: labels.count(i) for i, c in enumerate(CLASSES)},
              "validation": len(val_pairs)}, synthetic=dataset.synthetic,
        gradcam_layer=built.gradcam_layer, **extra, recipe=cfg.recipe, weights=weights or "none", seed=seed,
        class_weight=class_weights(labels, cfg.class_weight), args=effective_args(cfg, size, weights, phases),
        phases=[asdict(p) for p in phases], device=devices, hardware=hardware.to_meta())
    runs.write_meta(run, meta)
    with _fails_run(run, meta):
        on_event(events.RunStarted(meta["backbone"], size, devices, meta["hardware"], len(train_pairs),
                                   len(val_pairs), str(dataset.root), str(run)))
        return _fit(run, meta, built.model, twin, TrainState(), phases, train_pairs, val_pairs, hardware,
                    on_event)


def _resume(run_arg: str | Path, overrides: dict, runs_dir: Path | None,
            on_event: events.Dispatcher) -> TrainResult:
    from glaucli.engine.scoring import load_model
    from glaucli.tf import keras

    run = runs.run_folder(run_arg, config.runs_dir(runs_dir)) or Path(run_arg)
    meta = runs.read_meta(run)
    if meta is None or "args" not in meta:
        raise InputError(f"{run_arg} is not a training run folder with a meta.json")
    if meta.get("status") == "complete":
        raise InputError(f"{run} is already complete; nothing to resume")
    cfg = resumed_config(meta, overrides, run)
    bb, size, weights = model_spec(cfg)
    dataset = _collection(collections.from_record(meta["data"]), cfg, on_event)
    train_pairs = dataset.require("train", cfg.limit)
    val_pairs = dataset.require("validation", cfg.limit)
    hardware = _hardware(cfg, describe_devices())
    _seed_everything(meta["seed"], cfg.deterministic)
    phases = plan(cfg, bb, weights)
    saved = TrainState.load(run)
    state = saved or TrainState()
    start = time.monotonic()
    with hardware.distribution.scope():
        if saved and (run / runs.LAST).is_file():
            model = keras().saving.load_model(run / runs.LAST, safe_mode=True)  # optimizer state too
        else:  # interrupted before its first epoch ended: start over in the same folder
            model = build(cfg, bb, size, weights)[0].model
    twin = precision.portable_twin(model)
    if saved and (run / runs.BEST).is_file():
        state.best_weights = load_model(run / runs.BEST).get_weights()
    meta.update(status="running", args=effective_args(cfg, size, weights, phases),
                phases=[asdict(p) for p in phases], resumed_at=runs.now())
    runs.write_meta(run, meta)
    with _fails_run(run, meta):
        on_event(events.RunResumed(str(run), phases[min(state.phase_index, len(phases) - 1)].name,
                                   state.epoch, time.monotonic() - start))
        return _fit(run, meta, model, twin, state, phases, train_pairs, val_pairs, hardware, on_event)


def _hardware(cfg: TrainConfig, devices: dict) -> Hardware:
    return setup_hardware(cfg.mixed_precision, cfg.xla, cfg.strategy, cfg.batch_size, devices)


def _seed_everything(seed: int, deterministic: bool) -> None:
    from glaucli.tf import keras, tensorflow

    keras().utils.set_random_seed(seed)
    if deterministic:
        # set_random_seed alone gave different CPU weights in 3 of 5 runs; this makes them equal.
        tensorflow().config.experimental.enable_op_determinism()


def _collection(spec: collections.DataSpec, cfg: TrainConfig, on_event: events.Dispatcher):
    found = collections.resolve(spec, config.data_dir(cfg.data_dir))
    for text in found.notes:
        on_event.message(text)
    for text in found.warnings:
        on_event.warn(text)
    return found


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


def _fit(run: Path, meta: dict, model, twin, state: TrainState, phases: list[Phase], train_pairs, val_pairs,
         hardware: Hardware, on_event: events.Dispatcher) -> TrainResult:
    args = meta["args"]
    size, batch = meta["image_size"], args["batch_size"]
    state.steps, state.seed = steps_per_epoch(len(train_pairs), batch), meta["seed"]
    cache = image_cache.open_cache(args.get("cache", "auto"), [p for p, _ in train_pairs + val_pairs], size, run)
    val_ds = make_dataset(val_pairs, size, batch, deterministic=True, cache=cache)
    # A frozen phase is inference mode for BatchNorm and every stochastic layer; the saved
    # model keeps the layers' own rates, so set them for the phase in progress (also on resume).
    if state.phase_index < len(phases) and state.phase_epoch > 0:
        phase = phases[state.phase_index]
        classifier.set_trainable(model, phase.unfreeze, phase.freeze_batchnorm)
        classifier.adapt_batchnorm(model, state.steps)
    started = time.monotonic()
    durations = meta.get("durations_s", {})
    try:
        with Interrupts() as interrupts:
            for index in range(state.phase_index, len(phases)):
                phase = phases[index]
                if state.phase_epoch == 0:  # a fresh phase: from the best weights so far
                    _start_phase(model, phase, state, hardware, on_event)
                if state.phase_epoch < phase.epochs and state.stop.wait < phase.patience:
                    phase_start = time.monotonic()
                    _fit_phase(run, meta, model, twin, state, phase, train_pairs, val_pairs, val_ds, cache,
                               hardware, interrupts, on_event)
                    durations[phase.name] = round(durations.get(phase.name, 0) + time.monotonic() - phase_start, 1)
                state.phase_index, state.phase_epoch = index + 1, 0
                state.save(run)
    except (StopRequested, KeyboardInterrupt):
        _close(cache)
        meta.update(status="interrupted", interrupted_at=runs.now(), epochs_done=state.epoch,
                    resume=f"glaucli train --resume {run}")
        runs.write_meta(run, meta)
        raise Interrupted(f"training interrupted after {state.epoch} complete epoch(s); {run} is kept",
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
    if state.best_weights is not None:
        model.set_weights(state.best_weights)
    # From here on the float32 twin is scored, as best.keras will be used; layers made for it
    # (the distribution check's pooling) must be float32 too, as in a later calibrate-ood.
    precision.use("float32")

    on_event.message("Choosing the decision threshold on the validation split")
    twin.set_weights(model.get_weights())
    chosen = finish.thresholds(twin, val_ds, args["augment"], args["recipe"])
    _close(cache)
    (run / feature_cache.FILE).unlink(missing_ok=True)  # left by a run stopped right after its head phase
    labels, scores = chosen.pop("labels"), chosen.pop("scores")
    warnings = finish.quality_warnings(chosen["metrics"]["validation"], chosen["threshold"], labels, scores)
    for text in warnings:
        on_event.warn(text)
    meta["ood"] = ood.after_training(run, meta, twin, train_pairs, val_pairs, batch, on_event)
    durations["total"] = round(durations.get("total", 0) + time.monotonic() - started, 1)
    meta.update(status="complete", finished_at=runs.now(), **chosen, best_epoch=state.best,
                epochs_done=state.epoch, warnings=warnings, durations_s=durations)
    meta["weights_sha256"] = weights_digest(model)
    meta.pop("resume", None)
    runs.write_meta(run, meta)
    finish.plot_curves(run, on_event, state.best)
    return TrainResult(run, meta["metrics"]["validation"], meta)


def _start_phase(model, phase: Phase, state: TrainState, hardware: Hardware, on_event: events.Dispatcher) -> None:
    if state.best_weights is not None:
        model.set_weights(state.best_weights)
    trainable = classifier.set_trainable(model, phase.unfreeze, phase.freeze_batchnorm)
    classifier.adapt_batchnorm(model, state.steps)
    with hardware.distribution.scope():
        compile_model(model, phase.lr, hardware.xla)
    state.start_phase()
    on_event(events.PhaseStarted(phase.name, phase.epochs, phase.lr, trainable))


def _fit_phase(run, meta, model, twin, state: TrainState, phase: Phase, train_pairs, val_pairs, val_ds, cache,
               hardware: Hardware, interrupts: Interrupts, on_event: events.Dispatcher) -> None:
    args, batch = meta["args"], meta["args"]["batch_size"]
    train_ds = make_dataset(train_pairs, meta["image_size"], batch, training=True,
                            augment="seed" if args["recipe"] == "seed" else args["augment"],
                            seed=meta["seed"], first_epoch=state.epoch,
                            deterministic=args["deterministic"], cache=cache)
    listeners = callbacks.for_phase(run, phase, state, twin, val_ds, interrupts, on_event,
                                    tensorboard=bool(args.get("tensorboard")))
    fit = hardware.fit
    # The head phase on cached features: a frozen backbone, one device (a strategy's mirrored
    # variables stay on the live path), a model with a pooled-feature head.
    if (args.get("head_features", "cache") == "cache" and phase.unfreeze == "none"
            and hardware.strategy == "none" and feature_cache.split(model) is not None):
        fit = feature_cache.head_fit(run, meta, train_pairs, val_pairs, state.epoch, cache, interrupts.check,
                                     on_event)
    fit(model, hardware.distribution, train_ds, phase.epochs, state.phase_epoch, state.steps,
        int_keys(meta.get("class_weight")), listeners, batch)


def _close(cache) -> None:
    if cache is not None:
        cache.close()


def _unreadable_image(exc: BaseException) -> str | None:
    """The loader's one-line error inside a tf.data failure, if that is what this is."""
    text = str(exc)
    if type(exc).__name__ not in ("InvalidArgumentError", "UnknownError") or "ValueError: " not in text:
        return None
    return text.split("ValueError: ", 1)[1].splitlines()[0]
