"""glaucli backbones: the registry."""

from __future__ import annotations

import typer

from glaucli import console
from glaucli.cli import options


def backbones(json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """List the backbones train accepts: sizes, parameters, preprocessing."""
    options.apply(quiet)
    from dataclasses import asdict

    from glaucli.models.backbones import REGISTRY

    rows = [{k: v for k, v in asdict(b).items() if k != "constructor"} for b in REGISTRY.values()]
    if json_out:
        console.emit_json({"backbones": rows})
        return
    from rich.table import Table

    table = Table(title="Backbones")
    for column in ("name", "size", "min", "params", "preprocessing", "pretrained", "note"):
        table.add_column(column, justify="right" if column in ("size", "min", "params") else "left")
    for b in REGISTRY.values():
        table.add_row(b.name, str(b.default_size), str(b.min_size), f"{b.params / 1e6:.2f}M",
                      b.preprocessing, "imagenet" if b.pretrained else "scratch", b.note)
    console.emit(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(backbones)
