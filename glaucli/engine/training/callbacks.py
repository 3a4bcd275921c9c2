"""The epoch's bookkeeping as small Keras callbacks over one TrainState.

`for_phase()` lists them in the order their on_epoch_end must run: validate, keep the best,
log the row, adjust the rate, decide on stopping, save the state (after every decision
that a resume must repeat), tell the listeners, honour Ctrl-C."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from glaucli import events, runs
from glaucli.engine import selection
from glaucli.engine.training.recipe import Phase
from glaucli.engine.training.state import TrainState
from glaucli.models.saving import save_atomic
from glaucli.tf import keras

Callback = keras().callbacks.Callback


class EpochClock(Callback):
    """Starts the epoch: its clock, and dropout's random stream at (run seed, layer, epoch).
    That stream lives in SeedGenerators that .keras files do not keep; seeding it per epoch
    makes a resumed epoch draw what an uninterrupted one would."""

    def __init__(self, state: TrainState):
        super().__init__()
        self.state = state

    def on_epoch_begin(self, epoch, logs=None):
        self.state.epoch_started = time.monotonic()
        generators = [layer.seed_generator for layer in self.model.layers if hasattr(layer, "seed_generator")]
        for i, generator in enumerate(generators):
            value = np.array([(self.state.seed * 7919 + i) % 2**31, self.state.epoch << 20],
                             dtype=generator.state.dtype)
            generator.state.assign(value)


class Validation(Callback):
    """Validates each epoch itself: exact figures from the epoch's own scores, written into
    Keras' logs so TensorBoard and History see the very same numbers. `validate` is how; the
    cached-feature head phase swaps in its own (the same scores, from cached features)."""

    def __init__(self, state: TrainState, val_ds):
        super().__init__()
        self.state = state
        self.validate = lambda model: selection.validation_scores(model, val_ds)

    def on_epoch_end(self, epoch, logs=None):
        self.state.val = selection.validation_logs(*self.validate(self.model))
        if logs is not None:
            logs.update(self.state.val)
        self.state.epoch += 1
        self.state.phase_epoch = epoch + 1


class BestCheckpoint(Callback):
    """best.keras: the best epoch so far (selection.better), saved in float32 through `twin`."""

    def __init__(self, state: TrainState, phase: Phase, twin, path: Path):
        super().__init__()
        self.state, self.phase, self.twin, self.path = state, phase, twin, path

    def on_epoch_end(self, epoch, logs=None):
        state = self.state
        state.improved = selection.better(state.val, state.best)
        if state.improved:
            state.best = {"epoch": state.epoch, "phase": self.phase.name, "phase_epoch": epoch + 1, **state.val}
            state.best_weights = self.model.get_weights()
            self.twin.set_weights(state.best_weights)
            save_atomic(self.twin, self.path)


HISTORY_FIELDS = ["phase", "epoch", "phase_epoch", "loss", "accuracy", "auc", "val_loss",
                  "val_accuracy", "val_auc", "lr", "seconds"]


class History(Callback):
    """history.csv: one row per epoch, appended (a resume continues the same file)."""

    def __init__(self, state: TrainState, phase: Phase, path: Path):
        super().__init__()
        self.state, self.phase, self.path = state, phase, path

    def on_epoch_end(self, epoch, logs=None):
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({"phase": self.phase.name, "epoch": self.state.epoch, "phase_epoch": epoch + 1,
                             **_floats(logs), "lr": _lr(self.model),
                             "seconds": round(time.monotonic() - self.state.epoch_started, 2)})


class LrPlateau(Callback):
    """ReduceLROnPlateau on val_loss, its memory in the state. The new rate is announced
    when the epoch that uses it begins (after the line of the epoch that caused it)."""

    def __init__(self, state: TrainState, phase: Phase, on_event: events.Dispatcher):
        super().__init__()
        self.state, self.phase, self.on_event = state, phase, on_event
        self.announce: str | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.announce:
            self.on_event.message(self.announce)
            self.announce = None

    def on_epoch_end(self, epoch, logs=None):
        plateau, lr = self.state.plateau, _lr(self.model)
        if _improved(self.state.val.get("val_loss", float("nan")), plateau.best, "min"):
            plateau.best, plateau.wait = self.state.val["val_loss"], 0
            return
        plateau.wait += 1
        if plateau.wait >= self.phase.plateau_patience and lr > 1e-7:
            self.model.optimizer.learning_rate.assign(max(lr * self.phase.plateau_factor, 1e-7))
            plateau.wait = 0
            self.announce = f"Reducing the learning rate to {lr * self.phase.plateau_factor:.2g}"


class EarlyStop(Callback):
    """Stops a phase after `patience` epochs without a better model (the checkpoint's own
    comparison for val_auc; the seed recipe monitors val_loss with a min_delta)."""

    def __init__(self, state: TrainState, phase: Phase, on_event: events.Dispatcher):
        super().__init__()
        self.state, self.phase, self.on_event = state, phase, on_event
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        stop, phase = self.state.stop, self.phase
        if phase.monitor == "val_auc":
            value = self.state.val
            improved = selection.better(value, stop.best)
        else:
            value = _floats(logs).get(phase.monitor, float("nan"))
            improved = _improved(value, stop.best, phase.mode, phase.min_delta)
        stop.best, stop.wait = (value, 0) if improved else (stop.best, stop.wait + 1)
        if stop.wait >= phase.patience and epoch + 1 < phase.epochs:
            self.model.stop_training = self.stopped = True

    def on_train_end(self, logs=None):
        if self.stopped:  # after the last epoch's line
            what = "model (val_auc, then val_loss)" if self.phase.monitor == "val_auc" else self.phase.monitor
            self.on_event.message(f"Early stopping: no better {what} for {self.phase.patience} epochs")


class LastCheckpoint(Callback):
    """last.keras (optimizer included) and state.json: what a resume starts from."""

    def __init__(self, state: TrainState, run: Path):
        super().__init__()
        self.state, self.run = state, run

    def on_epoch_end(self, epoch, logs=None):
        save_atomic(self.model, self.run / runs.LAST)
        self.state.save(self.run)


class Events(Callback):
    """Tells the listeners: epoch start, each batch, a time estimate, the epoch's results."""

    def __init__(self, state: TrainState, phase: Phase, on_event: events.Dispatcher):
        super().__init__()
        self.state, self.phase, self.on_event = state, phase, on_event
        self.estimated = False

    def on_epoch_begin(self, epoch, logs=None):
        self.batch_times: list[float] = []
        self.on_event(events.EpochStarted(self.phase.name, epoch + 1, self.phase.epochs, self.state.steps))

    def on_train_batch_end(self, batch, logs=None):
        steps = self.state.steps
        self.batch_times.append(time.monotonic())
        self.on_event(events.BatchEnded(batch + 1, steps, dict(logs or {})))
        # Estimate from batches 2..10: the first ones include graph tracing and warm-up.
        if batch == min(10, steps - 1) and batch >= 3 and not self.estimated:
            self.estimated = True
            per_batch = (self.batch_times[-1] - self.batch_times[1]) / (len(self.batch_times) - 2)
            self.on_event(events.EpochEstimated(per_batch * steps))

    def on_epoch_end(self, epoch, logs=None):
        self.on_event(events.EpochEnded(self.phase.name, epoch + 1, self.phase.epochs, _floats(logs),
                                        time.monotonic() - self.state.epoch_started, self.state.improved))


class StopOnSignal(Callback):
    """A Ctrl-C/SIGTERM ends the fit at the next batch or epoch boundary."""

    def __init__(self, interrupts):
        super().__init__()
        self.interrupts = interrupts

    def on_train_batch_end(self, batch, logs=None):
        self.interrupts.check()

    def on_epoch_end(self, epoch, logs=None):
        self.interrupts.check()


def for_phase(run: Path, phase: Phase, state: TrainState, twin, val_ds, interrupts,
              on_event: events.Dispatcher, tensorboard: bool = False) -> list:
    callbacks = [EpochClock(state), Validation(state, val_ds), BestCheckpoint(state, phase, twin, run / runs.BEST),
                 History(state, phase, run / "history.csv"), LrPlateau(state, phase, on_event),
                 EarlyStop(state, phase, on_event), LastCheckpoint(state, run), Events(state, phase, on_event),
                 StopOnSignal(interrupts)]
    if tensorboard:
        callbacks.append(keras().callbacks.TensorBoard(log_dir=str(run / "tensorboard")))
    return callbacks


def _floats(logs) -> dict[str, float]:
    return {key: float(v) for key, v in (logs or {}).items()}


def _lr(model) -> float:
    return float(keras().ops.convert_to_numpy(model.optimizer.learning_rate))


def _improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if value != value:  # NaN never improves
        return False
    if best is None:
        return True
    return value > best + min_delta if mode == "max" else value < best - min_delta
