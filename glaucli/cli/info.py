"""glaucli info: what a person debugging an install needs (like `yolo checks`)."""

from __future__ import annotations

import time

import typer

from glaucli import config, console
from glaucli.cli import options


def info(json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """Versions, optional extras, cached ImageNet weights, Kaggle credentials (never the secret), free disk, RAM, and whether TensorFlow sees a GPU (and why not). Importing TensorFlow for the GPU check takes most of its few seconds."""
    options.apply(quiet)
    from glaucli.cli.render import EventPrinter
    from glaucli.data.credentials import find_credentials
    from glaucli.engine.checks import collect

    began = time.monotonic()
    creds = find_credentials(on_event=EventPrinter())
    with console.status("Importing TensorFlow to ask it about GPUs"):
        result = collect(config.data_dir(), config.runs_dir(), creds.source if creds else None)
    dev = result["devices"]
    console.info(f"info took {time.monotonic() - began:.1f} s, {dev['tensorflow_import_s']:.1f} s of it importing TensorFlow")
    if json_out:
        console.emit_json(result)
        return
    console.emit(_table(result))


def _table(result: dict):
    from rich.markup import escape
    from rich.table import Table

    from glaucli.cli.render import onednn_words

    dev, mem = result["devices"], result["memory"]
    table = Table(show_header=False, title="glaucli info")
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for key in ("glaucli", "python", "platform", "tensorflow", "keras"):
        table.add_row(key, escape(str(result[key] or "not installed")))
    table.add_row("extras", ", ".join(f"{name} {version}" if version else f"{name}: no"
                                      for name, version in result["extras"].items()))
    gpus = "\n".join(f"{g['name']} ({g['memory_gb'] or '?'} GB, compute {g['compute_capability'] or '?'})"
                     for g in dev["gpus"])
    build = f"CUDA {dev['cuda_version']}, cuDNN {dev['cudnn_version']}" if dev["cuda_build"] else "CPU-only build"
    table.add_row("GPU", escape(gpus or f"none: {dev['no_gpu_reason']}"))
    table.add_row("TensorFlow build", build)
    table.add_row("oneDNN", onednn_words(dev).removeprefix("oneDNN "))
    weights = result["imagenet_weights"]
    table.add_row("ImageNet weights", escape(", ".join(weights["cached"]) or "none cached")
                  + escape(f" (in {weights['cache']})"))
    table.add_row("kaggle credentials", escape(result["kaggle_credentials"] or "not found (anonymous)"))
    for key in ("data_dir", "runs_dir"):
        disk = result["disk"][key]
        table.add_row(key.replace("_", " "), escape(f"{result[key]} ({disk['free_gb']} GB free)"))
    table.add_row("memory", f"{mem['available_gb']} GB available of {mem['total_gb']} GB, {mem['cpus']} CPUs")
    return table


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Info")(info)
