"""glaucli bench: how fast glaucli runs on this machine, and whether its pipeline keeps up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from glaucli import console
from glaucli.cli import options

COLUMNS = (("pipeline_img_s", "pipeline img/s"), ("train_pipeline_img_s", "train img/s (pipeline)"),
           ("train_memory_img_s", "train img/s (memory)"), ("pipeline_to_memory_ratio", "ratio"),
           ("inference_img_s", "inference img/s"), ("latency_ms", "latency ms"),
           ("first_epoch_s", "tracing s"), ("peak_rss_mb", "peak MB"),
           ("finetune_glaucli_img_s", "fine-tune img/s glaucli"), ("finetune_keras_img_s", "bare Keras"),
           ("finetune_ratio", "ratio (goal >= 0.95)"), ("tflite_img_s", "TFLite img/s"), ("onnx_img_s", "ONNX img/s"))


def bench(
    backbones: Annotated[Optional[List[str]], typer.Argument(help="Backbones \\[default: basic-cnn mobilenet-v3-small].", show_default=False)] = None,
    image_size: Annotated[int, typer.Option("--image-size", min=16)] = 96,
    batch_size: options.BatchSize = 16,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Batches per measurement.")] = 8,
    data: Annotated[Optional[Path], typer.Option("--data", help="A real dataset folder \\[default: a temporary sample set].", show_default=False)] = None,
    mixed_precision: Annotated[str, typer.Option("--mixed-precision", help="auto (as train: float16 on recent GPUs, bfloat16 on CPUs with AVX512-BF16/AMX), on or off.")] = "auto",
    formats: Annotated[str, typer.Option("--formats", help="Exported formats to time, comma-separated: tflite, onnx, or none.")] = "tflite,onnx",
    versus_keras: Annotated[bool, typer.Option("--versus-keras/--no-versus-keras", help="Time glaucli's fine-tuning loop against a bare Keras fit.")] = True,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Measure input pipeline, training, inference and latency for backbones on this machine."""
    options.apply(quiet)
    from glaucli.cli.render import EventPrinter, onednn_words
    from glaucli.engine.bench import bench as run_bench

    chosen = [] if formats.strip().lower() == "none" else [f.strip().lower() for f in formats.split(",") if f.strip()]
    with EventPrinter() as show:
        result = run_bench(backbones, image_size, batch_size, steps, data, mixed_precision=mixed_precision,
                           formats=chosen, versus_keras=versus_keras, on_event=show)
    if json_out:
        console.emit_json(result)
        return
    from rich.table import Table

    gpus = result["device"]["gpus"]
    where = ", ".join(g["name"] for g in gpus) if gpus else f"CPU only, {onednn_words(result['device'])}"
    precision = result["results"][0]["precision"] if result["results"] else ""
    table = Table(title=f"glaucli bench on {console.escape(where)}, {precision}")
    table.add_column("backbone")
    for _, title in COLUMNS:
        table.add_column(title, justify="right")
    for r in result["results"]:
        table.add_row(f"{r['backbone']} {r['image_size']} px", *(str(r.get(key, "-")) for key, _ in COLUMNS))
    console.emit(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Info")(bench)
