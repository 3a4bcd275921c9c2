"""Training, one idea per module:

- `config`: TrainConfig, its checks, how meta.json records it (light: the CLI's defaults)
- `recipe`: the model, its starting weights, the phases and their rates
- `state`: TrainState, saved after every epoch for an exact resume
- `callbacks`: the epoch's bookkeeping as small Keras callbacks over the state
- `trainer`: `train`, `resume` and the phase loop
- `finish`: thresholds, quality warnings and curves after the last epoch

Names load on first use (PEP 562), so `from glaucli.engine.training import TrainConfig`
imports no TensorFlow."""

from __future__ import annotations

import importlib

_WHERE = {"TrainConfig": "config", "RESUMABLE_OVERRIDES": "config", "Phase": "recipe", "plan": "recipe",
          "compile_model": "recipe", "TrainState": "state", "TrainResult": "trainer", "train": "trainer",
          "resume": "trainer", "quality_warnings": "finish", "class_weights": "recipe"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
