"""glaucli sample DEST: write the built-in synthetic fundus set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glaucli import console
from glaucli.cli import options


def sample(
    dest: Annotated[Path, typer.Argument(help="Folder to create; must not exist or be empty.")],
    per_class: Annotated[int, typer.Option("--per-class", min=1, max=100_000,
                                           help="Training images per class (validation and test get max(2, N/10)).")] = 40,
    size: Annotated[int, typer.Option("--size", min=32, max=2048, help="Image side in pixels.")] = 128,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Same seed, same images.")] = 0,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Write a synthetic fundus set (RG = large cup-to-disc ratio) in the dataset layout."""
    options.apply(quiet)
    from glaucli.cli.render import EventPrinter, counts_table
    from glaucli.data.sample import write_sample_set

    with EventPrinter({"drawing": "Drawing fundus images"}) as show:
        counts = write_sample_set(dest, per_class, size, seed, on_event=show)
    if json_out:
        console.emit_json({"path": str(dest), "counts": counts})
    else:
        console.emit(counts_table(counts, title=f"Sample set in {console.escape(dest)}"))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(sample)
