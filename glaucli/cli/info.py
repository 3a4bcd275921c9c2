"""glaucli info: versions, devices, credentials (never the secret), locations."""

from __future__ import annotations

import platform

import typer

from glaucli import __version__, config, console
from glaucli.cli import options


def info(json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """Show versions, devices, where Kaggle credentials were found, and the data/runs folders."""
    options.apply(quiet)
    from glaucli.data.credentials import find_credentials
    from glaucli.engine.devices import describe_devices
    from glaucli.tf import keras, tensorflow

    tf, keras_module = tensorflow(), keras()
    creds = find_credentials(warn=console.warn)
    result = {
        "glaucli": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras_module.__version__,
        "devices": describe_devices(),
        "kaggle_credentials": creds.source if creds else None,
        "data_dir": str(config.data_dir().resolve()),
        "runs_dir": str(config.runs_dir().resolve()),
    }
    if json_out:
        console.emit_json(result)
        return
    from rich.table import Table

    table = Table(show_header=False, title="glaucli info")
    for key in ("glaucli", "python", "tensorflow", "keras"):
        table.add_row(key, result[key])
    gpus = result["devices"]["gpus"]
    table.add_row("devices", "\n".join(f"{g['name']} ({g['memory_gb'] or '?'} GB)" for g in gpus)
                  or "CPU only")
    table.add_row("kaggle credentials", result["kaggle_credentials"] or "not found (anonymous)")
    table.add_row("data dir", result["data_dir"])
    table.add_row("runs dir", result["runs_dir"])
    console.emit(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Info")(info)
