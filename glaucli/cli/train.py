"""glaucli train BACKBONE: transfer learning into a run folder; stdout is the run path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import console
from glaucli.cli import options


class TrainProgress:
    """Renders engine events: a bar per epoch on a terminal, one line per epoch otherwise."""

    def __init__(self):
        self.bar: console.Progress | None = None

    def __call__(self, kind: str, data: dict) -> None:
        handler = getattr(self, f"on_{kind}", None)
        if handler:
            handler(**data)

    def on_start(self, backbone, image_size, device, train, validation, data):
        gpus = device["gpus"]
        where = ", ".join(f"{g['name']}" for g in gpus) if gpus else "CPU only"
        console.info(f"Training {backbone} at {image_size} px on {where}")
        console.info(f"Data {data}: {train} training and {validation} validation images")

    def on_run(self, path):
        console.info(f"Run folder {path}")

    def on_phase(self, name, epochs, lr, trainable_backbone_layers):
        console.info(f"[bold]Phase {name}[/]: {epochs} epoch(s), lr {lr:g}, "
                     f"{trainable_backbone_layers} backbone layer(s) trainable")

    def on_estimate(self, seconds_per_epoch):
        console.info(f"Estimated time per epoch: {seconds_per_epoch:.1f} s")

    def on_epoch_start(self, phase, epoch, epochs, steps):
        self.bar = console.Progress(f"{phase} {epoch}/{epochs}", steps, "batches", every=float("inf"))
        self.bar.__enter__()

    def on_batch(self, step, steps, logs):
        if self.bar and console.interactive():
            self.bar.update(step, status=_fmt(logs))

    def on_epoch(self, phase, epoch, epochs, logs, seconds, best):
        if self.bar:
            self.bar.close()
        console.info(f"{phase} epoch {epoch}/{epochs} {seconds:.0f}s {_fmt(logs)}"
                     + ("  [green]* best[/]" if best else ""))

    def on_message(self, text):
        console.info(text)

    def on_warning(self, text):
        console.warn(text)


def _fmt(logs: dict) -> str:
    keys = ("loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc")
    return " ".join(f"{k} {float(logs[k]):.4f}" for k in keys if k in logs)


def train(
    backbone: Annotated[str, typer.Argument(help="Backbone name (glaucli backbones lists them).")] = "xception",
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder [default: newest complete download].", show_default=False)] = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size", min=16, help="Input size in px [default: the backbone's].", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Epochs of the head phase (or of the only phase from scratch).")] = 10,
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", min=0, help="Epochs of the fine-tuning phase (0 skips it).")] = 10,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the head phase (or the only phase).")] = 1e-3,
    finetune_lr: Annotated[float, typer.Option("--finetune-lr", help="Learning rate of the fine-tuning phase.")] = 1e-5,
    unfreeze: Annotated[Optional[str], typer.Option("--unfreeze", help="Fine-tuning: all, N layers, or a FRACTION of the backbone [default: the backbone's].", show_default=False)] = None,
    weights: Annotated[str, typer.Option("--weights", help="imagenet, none, or a backbone weights FILE (.weights.h5/.h5).")] = "imagenet",
    augment: Annotated[str, typer.Option("--augment", help="none, light or strong (training split only).")] = "light",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most N images per split and class (a smoke run).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for weights, shuffling and augmentation.")] = None,
    patience: Annotated[int, typer.Option("--patience", min=1, help="Early stopping patience (epochs without a better val AUC).")] = 5,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name [default: the backbone; -2, -3... if taken].", show_default=False)] = None,
    variant: options.Variant = None,
    data_dir: options.DataDir = None,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Train a glaucoma classifier on BACKBONE (two-phase transfer learning, or from scratch)."""
    options.apply(quiet)
    from glaucli.engine.train import TrainConfig, train as run_training
    from glaucli.errors import UsageError

    if augment not in ("none", "light", "strong"):
        raise UsageError(f"--augment must be none, light or strong (got {augment!r})")
    cfg = TrainConfig(backbone=backbone, data=data, data_dir=data_dir, variant=variant,
                      image_size=image_size, batch_size=batch_size, epochs=epochs,
                      finetune_epochs=finetune_epochs, lr=lr, finetune_lr=finetune_lr,
                      unfreeze=unfreeze, weights=weights, augment=augment, limit=limit, seed=seed,
                      patience=patience, name=name, runs_dir=runs_dir)
    result = run_training(cfg, TrainProgress())
    m = result.metrics
    console.info(f"Validation: AUC {m['auc']:.4f}, accuracy {m['accuracy']:.4f} at threshold "
                 f"{result.meta['threshold']:.3f}")
    console.info(f"Results saved to {result.run}")
    if json_out:
        console.emit_json({"run": str(result.run), "metrics": m})
    else:
        console.emit_line(str(result.run))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(train)
