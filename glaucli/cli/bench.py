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
           ("first_epoch_s", "tracing s"), ("peak_rss_mb", "peak MB"))


def bench(
    backbones: Annotated[Optional[List[str]], typer.Argument(help="Backbones \\[default: basic-cnn mobilenet-v3-small].", show_default=False)] = None,
    image_size: Annotated[int, typer.Option("--image-size", min=16)] = 96,
    batch_size: options.BatchSize = 16,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Batches per measurement.")] = 8,
    data: Annotated[Optional[Path], typer.Option("--data", help="A real dataset folder \\[default: a temporary sample set].", show_default=False)] = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Measure input pipeline, training, inference and latency for backbones on this machine."""
    options.apply(quiet)
    from glaucli.engine.bench import bench as run_bench

    result = run_bench(backbones, image_size, batch_size, steps, data, report=console.info)
    if json_out:
        console.emit_json(result)
        return
    from rich.table import Table

    gpus = result["device"]["gpus"]
    table = Table(title="glaucli bench on " + (", ".join(g["name"] for g in gpus) if gpus else "CPU only"))
    table.add_column("backbone")
    for _, title in COLUMNS:
        table.add_column(title, justify="right")
    for r in result["results"]:
        table.add_row(f"{r['backbone']} {r['image_size']} px", *(str(r[key]) for key, _ in COLUMNS))
    console.emit(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Info")(bench)
