"""glaucli sample DEST: write the built-in synthetic fundus set."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from glaucli import console
from glaucli.cli import options
from glaucli.errors import InputError


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
    from glaucli.cli.render import counts_table
    from glaucli.data.layout import write_manifest
    from glaucli.data.sample import total_images, write_sample

    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest} already exists and is not an empty folder",
                         hint="choose a new folder; glaucli never writes over existing data")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target, then rename: an interrupted run leaves nothing half-made.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        with console.Progress("Drawing fundus images", total_images(per_class), "images") as bar:
            counts = write_sample(staging, per_class, size, seed, on_image=bar.advance)
        write_manifest(staging, {"kind": "sample", "per_class": per_class, "size": size,
                                 "seed": seed}, counts)
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if json_out:
        console.emit_json({"path": str(dest), "counts": counts})
    else:
        console.emit(counts_table(counts, title=f"Sample set in {console.escape(dest)}"))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(sample)
