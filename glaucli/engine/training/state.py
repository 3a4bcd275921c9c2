"""Where a run stands: written to RUN/state.json after every epoch, so a resume is exact."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glaucli import runs

FILE = "state.json"


@dataclass
class Tracker:
    """Early stopping's or the LR plateau's memory: the best value seen and epochs since."""
    best: Any = None  # a number, or (monitoring val_auc) the best epoch's validation logs
    wait: int = 0


@dataclass
class TrainState:
    phase_index: int = 0  # the phase in progress (== len(phases) when all are done)
    phase_epoch: int = 0  # complete epochs of that phase
    epoch: int = 0  # complete epochs of the run
    best: dict | None = None  # the best epoch: epoch, phase, phase_epoch and its validation logs
    stop: Tracker = field(default_factory=Tracker)
    plateau: Tracker = field(default_factory=Tracker)
    # In memory only, rebuilt on resume:
    best_weights: list | None = field(default=None, repr=False)
    steps: int = 0  # training steps per epoch
    seed: int = 0
    epoch_started: float = 0.0  # time.monotonic() at the start of the epoch in progress
    val: dict = field(default_factory=dict)  # this epoch's validation logs
    improved: bool = False  # this epoch is the best so far

    def start_phase(self) -> None:
        self.stop, self.plateau = Tracker(), Tracker()

    def to_json(self) -> dict:
        return {"phase_index": self.phase_index, "phase_epoch": self.phase_epoch, "epoch": self.epoch,
                "best": self.best, "stop": asdict(self.stop), "plateau": asdict(self.plateau)}

    def save(self, run: Path) -> None:
        runs.write_json_atomic(run / FILE, self.to_json())

    @classmethod
    def load(cls, run: Path) -> "TrainState | None":
        """The saved state, or None when it is missing or not one (garbage is unreadable)."""
        try:
            data = json.loads((run / FILE).read_text())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        if data.get("best") is None and data.get("best_auc") is not None:  # a state.json of 0.1
            data["best"] = {"val_auc": data.pop("best_auc"), "val_loss": float("inf")}
        counters = [data.get(k, 0) for k in ("phase_index", "phase_epoch", "epoch")]
        trackers = [data.get(k) or {} for k in ("stop", "plateau")]
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counters):
            return None
        if not all(isinstance(t, dict) and isinstance(t.get("wait", 0), int) for t in trackers):
            return None
        best = data.get("best")
        return cls(*counters, best=best if isinstance(best, dict) else None,
                   stop=Tracker(trackers[0].get("best"), trackers[0].get("wait", 0)),
                   plateau=Tracker(trackers[1].get("best"), trackers[1].get("wait", 0)))
