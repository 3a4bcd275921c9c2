"""glaucli train BACKBONE: transfer learning into a run folder; stdout is the run path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from glaucli import console, events
from glaucli.cli import options
from glaucli.engine.training.config import TrainConfig

DEFAULT = TrainConfig()  # the options' defaults: one source, the engine's


class TrainProgress:
    """Renders training events: a bar per epoch on a terminal, one line per epoch otherwise."""

    def __init__(self):
        from glaucli.cli.render import EventPrinter

        self.bar: console.Progress | None = None
        self.printer = EventPrinter()

    def __call__(self, event: events.Event) -> None:
        match event:
            case events.RunStarted():
                self.started(event)
            case events.RunResumed(run, phase, epoch, seconds):
                console.info(f"Resuming {run}: phase {phase}, after epoch {epoch} (state loaded in {seconds:.1f} s)")
            case events.PhaseStarted(name, epochs, lr, trainable):
                console.info(f"[bold]Phase {console.escape(name)}[/]: {epochs} epoch(s), lr {lr:g}, "
                             f"{trainable} backbone layer(s) trainable", markup=True)
            case events.EpochEstimated(seconds):
                console.info(f"Estimated time per epoch: {seconds:.1f} s")
            case events.EpochStarted(phase, epoch, epochs, steps):
                # The bar shows on a terminal; elsewhere the epoch line below is the only output.
                self.bar = console.Progress(f"{phase} {epoch}/{epochs}", steps, "batches", every=float("inf"))
            case events.BatchEnded(step, _, logs):
                if self.bar and console.interactive():
                    self.bar.update(step, status=_fmt(logs))
            case events.EpochEnded(phase, epoch, epochs, logs, seconds, best):
                if self.bar:
                    self.bar.close()
                console.info(f"{console.escape(phase)} epoch {epoch}/{epochs} {seconds:.0f}s {_fmt(logs)}"
                             + ("  [green]* best[/]" if best else ""), markup=True)
            case events.Message() | events.Warned() | events.Progress():
                self.printer(event)

    @staticmethod
    def started(event: events.RunStarted) -> None:
        from glaucli.cli.render import onednn_words

        gpus = event.device["gpus"]
        where = "; ".join(f"{g['name']} ({g['memory_gb'] or '?'} GB, compute {g['compute_capability']})"
                          for g in gpus) if gpus else "CPU only"
        if not gpus and event.device.get("cpu_bfloat16") and event.hardware["precision"] != "mixed_bfloat16":
            where += f" ({', '.join(event.device['cpu_bfloat16'])}: bfloat16 unused, --mixed-precision off)"
        elif not gpus and event.device.get("cpu_bfloat16"):
            where += f" (bfloat16: {', '.join(event.device['cpu_bfloat16'])})"
        if not gpus and onednn_words(event.device):
            where += f", {onednn_words(event.device)}"
        h = event.hardware
        console.info(f"Training {event.backbone} at {event.image_size} px on {where}")
        console.info(f"Precision {h['precision']}, XLA {'on' if h['xla'] else 'off'}, strategy {h['strategy']}, "
                     f"{h['replicas']} replica(s), batch {h['global_batch']} global / {h['per_replica_batch']} "
                     "per replica")
        console.info(f"Data {event.data}: {event.train} training and {event.validation} validation images")
        console.info(f"Run folder {event.run}")


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed this option (not its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def _fmt(logs: dict) -> str:
    keys = ("loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc")
    return " ".join(f"{k} {float(logs[k]):.4f}" for k in keys if k in logs)


def train(
    ctx: typer.Context,
    backbone: Annotated[str, typer.Argument(help="Backbone name (glaucli backbones lists them).")] = DEFAULT.backbone,
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder or CSV manifest \\[default: newest complete download].", show_default=False)] = None,
    labels: options.Labels = None,
    classes: options.Classes = None,
    image_column: options.ImageColumn = None,
    label_column: options.LabelColumn = None,
    split_column: options.SplitColumn = None,
    skip_missing: options.SkipMissing = DEFAULT.skip_missing,
    recipe: Annotated[str, typer.Option("--recipe", help="default (two-phase transfer learning) or seed (the original project exactly: 299 px, 1/255, all layers, 50 epochs).")] = DEFAULT.recipe,
    image_size: Annotated[Optional[int], typer.Option("--image-size", min=16, help="Input size in px \\[default: the backbone's].", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Global batch size (split across GPUs).")] = DEFAULT.batch_size,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Epochs of the head phase, or of the only phase \\[default: 10; 50 for --recipe seed].", show_default=False)] = None,
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", min=0, help="Epochs of the fine-tuning phase (0 skips it).")] = DEFAULT.finetune_epochs,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the head phase (or the only phase).")] = DEFAULT.lr,
    finetune_lr: Annotated[float, typer.Option("--finetune-lr", help="Learning rate of the fine-tuning phase.")] = DEFAULT.finetune_lr,
    unfreeze: Annotated[Optional[str], typer.Option("--unfreeze", help="Fine-tuning: all, N layers, or a FRACTION of the backbone \\[default: the backbone's].", show_default=False)] = None,
    weights: Annotated[str, typer.Option("--weights", help="imagenet, none, or a backbone weights FILE (.weights.h5/.h5).")] = DEFAULT.weights,
    augment: Annotated[str, typer.Option("--augment", help="none, light or strong (training split only).")] = DEFAULT.augment,
    class_weight: Annotated[str, typer.Option("--class-weight", help="auto (balanced weights, 1.0 when classes are balanced) or none.")] = DEFAULT.class_weight,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most N images per split and class (a smoke run).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for weights, shuffling and augmentation \\[default: random, recorded].", show_default=False)] = None,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="Bit-identical results for a seed (TensorFlow op determinism; costs speed on GPUs).")] = DEFAULT.deterministic,
    patience: Annotated[int, typer.Option("--patience", min=1, help="Early stopping patience (epochs without a better val AUC).")] = DEFAULT.patience,
    mixed_precision: Annotated[str, typer.Option("--mixed-precision", help="auto (float16 on GPUs of compute capability >= 7.0, bfloat16 on CPUs with AVX512-BF16 or AMX, else float32), on (the same, or an error where neither exists) or off (float32).")] = DEFAULT.mixed_precision,
    xla: Annotated[Optional[bool], typer.Option("--xla/--no-xla", help="Compile the train step with XLA \\[default: on with a GPU].", show_default=False)] = None,
    strategy: Annotated[str, typer.Option("--strategy", help="auto (multiworker when TF_CONFIG names several workers, mirrored with several GPUs), none, mirrored or multiworker.")] = DEFAULT.strategy,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Write TensorBoard logs to RUN/tensorboard.")] = DEFAULT.tensorboard,
    head_features: Annotated[str, typer.Option("--head-features", help="cache (the frozen backbone runs once; the head phase trains on its pooled features) or live (the backbone runs every epoch).")] = DEFAULT.head_features,
    cache: Annotated[str, typer.Option("--cache", help="Decoded-image cache: auto (memory when the images fit a quarter of the free RAM, else a file in the run folder), memory, disk or none.")] = DEFAULT.cache,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue an interrupted RUN (folder or name) in place.", show_default=False)] = None,
    members: Annotated[Optional[List[str]], typer.Option("--member", hidden=True)] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name \\[default: the backbone; -2, -3... if taken].", show_default=False)] = None,
    variant: options.Variant = None,
    data_dir: options.DataDir = None,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Train a glaucoma classifier on BACKBONE. Ctrl-C stops cleanly; --resume continues."""
    options.apply(quiet)
    from glaucli.engine import training as engine

    settings = dict(backbone=backbone, data=data, data_dir=data_dir, variant=variant, labels=labels, classes=classes,
                    image_column=image_column, label_column=label_column, split_column=split_column,
                    skip_missing=skip_missing, recipe=recipe,
                    image_size=image_size, batch_size=batch_size, epochs=epochs,
                    finetune_epochs=finetune_epochs, lr=lr, finetune_lr=finetune_lr, unfreeze=unfreeze,
                    weights=weights, augment=augment, class_weight=class_weight, limit=limit, seed=seed,
                    deterministic=deterministic, patience=patience, mixed_precision=mixed_precision,
                    xla=xla, strategy=strategy, tensorboard=tensorboard, head_features=head_features,
                    cache=cache, members=members, name=name,
                    runs_dir=runs_dir)
    from glaucli.engine.signals import exit_on_second_signal

    with exit_on_second_signal():  # a second Ctrl-C ends the CLI at once; the API never exits
        if resume:
            given = {key: value for key, value in settings.items()
                     if _given(ctx, key) and key != "runs_dir"}
            result = engine.resume(resume, given, runs_dir, TrainProgress())
        else:
            result = engine.train(engine.TrainConfig(**settings), TrainProgress())
    m, best = result.metrics, result.meta.get("best_epoch") or {}
    console.info(f"Validation: AUC {m['auc']:.4f}, accuracy {m['accuracy']:.4f} at threshold "
                 f"{result.meta['threshold']:.3f}"
                 + (f" (best epoch {best['epoch']}, {best['phase']})" if best.get("epoch") else ""))
    if not result.meta["hardware"].get("chief", True):
        console.info("Worker finished; the chief wrote the run folder")
        if json_out:
            console.emit_json({"run": None, "chief": False, "metrics": m,
                               "weights_sha256": result.meta["weights_sha256"]})
        return
    console.info(f"Results saved to {result.run}")
    if json_out:
        console.emit_json({"run": str(result.run), "metrics": m, "best_epoch": result.meta.get("best_epoch"),
                           "warnings": result.meta.get("warnings", []),
                           "weights_sha256": result.meta["weights_sha256"]})
    else:
        console.emit_line(str(result.run))


def concat_command():
    """`ensemble concat BACKBONE BACKBONE...`: train's own options, one definition of each."""
    import inspect

    def concat(ctx: typer.Context, backbones: List[str], **kwargs) -> None:
        """Train one model in which several backbones see the input; their pooled features share one head."""
        train(ctx, backbone=backbones[0], members=list(backbones), **kwargs)

    params = [p for name, p in inspect.signature(train, eval_str=True).parameters.items()
              if name not in ("backbone", "members")]
    members = inspect.Parameter("backbones", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=Annotated[List[str], typer.Argument(
                                    help="Two or more backbone names.", show_default=False)])
    concat.__signature__ = inspect.Signature([params[0], members, *params[1:]])
    return concat


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(train)
