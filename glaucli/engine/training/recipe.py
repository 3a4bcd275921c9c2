"""The recipe: which model, which weights to start from, which phases at which rates.

Two phases with pretrained weights (keras-io's transfer-learning recipe): the head trains
with the backbone frozen, then the top of the backbone is unfrozen (BatchNorm kept frozen)
and trained with a ~100x lower rate, starting from phase 1's best weights. From scratch
(`weights=None`) it is one phase in which everything trains, BatchNorm included.
`recipe="seed"` reproduces the original project instead."""

from __future__ import annotations

import os
from dataclasses import dataclass

from glaucli.engine.training.config import TrainConfig
from glaucli.errors import UsageError
from glaucli.models import backbones, classifier


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


def _weights(cfg: TrainConfig, bb: backbones.Backbone) -> str | None:
    choice = cfg.weights.lower()
    if choice == "none" or not bb.pretrained:
        if choice not in ("none", "imagenet"):
            raise UsageError(f"{bb.name} is trained from scratch; it takes no weights file")
        return None
    return "imagenet" if choice == "imagenet" else cfg.weights


def model_spec(cfg: TrainConfig) -> tuple[backbones.Backbone, int, str | None]:
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


def build(cfg: TrainConfig, bb: backbones.Backbone, size: int, weights: str | None):
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


def int_keys(weights: dict | None) -> dict[int, float] | None:
    """meta.json stores class weights with string keys; Keras wants the label ints."""
    return {int(k): float(v) for k, v in weights.items()} if weights else None
