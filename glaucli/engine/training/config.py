"""What a training run is asked to do: `TrainConfig`, its checks, and how meta.json records it.

Imports nothing heavy: the CLI takes its option defaults from these fields."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from glaucli.errors import InputError, UsageError
from glaucli.models import backbones

RECIPES = ("default", "seed")
AUGMENTS = ("none", "light", "strong")
PRECISIONS = ("auto", "on", "off")
STRATEGIES = ("auto", "none", "mirrored", "multiworker")
HEAD_FEATURES = ("cache", "live")


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

    def validate(self) -> None:
        """Every check that can fail before TensorFlow loads (exit 2, or 3 for a missing extra)."""
        from glaucli.data import image_cache

        _one_of(self.recipe, RECIPES, "--recipe")
        _one_of(self.augment, AUGMENTS, "--augment")
        _one_of(self.class_weight, ("auto", "none"), "--class-weight")
        _one_of(self.mixed_precision, PRECISIONS, "--mixed-precision")
        _one_of(self.strategy, STRATEGIES, "--strategy")
        _one_of(self.head_features, HEAD_FEATURES, "--head-features")
        image_cache.choose(self.cache, 0, 1)  # validates the mode
        for flag, value, least in (("--batch-size", self.batch_size, 1), ("--epochs", self.epochs, 1),
                                   ("--finetune-epochs", self.finetune_epochs, 0), ("--limit", self.limit, 1),
                                   ("--patience", self.patience, 1)):
            if value is not None and value < least:
                raise UsageError(f"{flag} must be at least {least}")
        if not all(math.isfinite(lr) and lr > 0 for lr in (self.lr, self.finetune_lr)):
            raise UsageError("learning rates must be positive finite numbers")
        if self.unfreeze is not None:
            from glaucli.models import classifier

            classifier.resolve_unfreeze(self.unfreeze, 1)  # validates the form early
        self._validate_values()
        if self.tensorboard:
            import importlib.util

            if importlib.util.find_spec("tensorboard") is None:
                raise InputError("--tensorboard needs the tensorboard package",
                                 hint='pip install "glaucli[tensorboard]"')

    def _validate_values(self) -> None:
        """Names, seeds and sizes that would fail only after minutes of work."""
        from glaucli.safety import component, max_image_size

        if self.name is not None:
            component(self.name, "--name")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be within 0 .. {2**32 - 1} (got {self.seed})")
        if self.image_size is not None and self.image_size > max_image_size(self.batch_size):
            raise UsageError(f"--image-size {self.image_size} cannot fit in memory with --batch-size "
                             f"{self.batch_size}", hint=f"at most {max_image_size(self.batch_size)} px at this "
                                                        "batch size")

    def to_args(self) -> dict:
        """The configuration as meta.json records it (paths as strings)."""
        return {key: jsonable(value) for key, value in asdict(self).items()}


# Options a resumed run may change: they alter how long it trains, not what it is.
RESUMABLE_OVERRIDES = ("epochs", "finetune_epochs", "patience", "tensorboard", "cache")


def _one_of(value: str, allowed: tuple[str, ...], flag: str) -> None:
    if value not in allowed:
        raise UsageError(f"{flag} must be one of {', '.join(allowed)}")


def jsonable(value):
    return str(value) if isinstance(value, Path) else value


def effective_args(cfg: TrainConfig, size: int, weights: str | None, phases: list) -> dict:
    """The configuration as the run used it: a from-scratch run records `weights: none`, a run
    without a fine-tuning phase records 0 fine-tuning epochs and no fine-tuning rate or
    unfreeze, defaults that were resolved (image size, epochs) record their value. Resuming
    from these rebuilds the same phases."""
    args = cfg.to_args()
    args.update(image_size=size, epochs=phases[0].epochs)
    if weights is None:
        args["weights"] = "none"
    if not any(p.name == "finetune" for p in phases):
        args["finetune_epochs"] = 0
        args.pop("finetune_lr", None)
        args.pop("unfreeze", None)
    return args


def resumed_config(meta: dict, overrides: dict, run: Path) -> TrainConfig:
    """The run's own configuration from meta.json, with the options a resume may change."""
    _check_recorded(meta, run)
    unsafe = sorted(k for k, v in overrides.items()
                    if k not in RESUMABLE_OVERRIDES and meta["args"].get(k) != jsonable(v))
    if unsafe:
        raise UsageError(f"--resume keeps the run's own settings; cannot change {', '.join(unsafe)}",
                         hint=f"only {', '.join(RESUMABLE_OVERRIDES)} may change on resume")
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in meta["args"].items() if k in known})
    for key in RESUMABLE_OVERRIDES:
        if key in overrides:
            setattr(cfg, key, overrides[key])
    cfg.validate()
    return cfg


_TYPES = {"str": str, "Path": str, "int": int, "float": (int, float), "bool": bool, "None": type(None),
          "list[str]": list}


def _check_recorded(meta: dict, run: Path) -> None:
    """meta.json's training arguments, seed and dataset, of the types train() wrote (exit 3 if not)."""
    from glaucli import runs

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
