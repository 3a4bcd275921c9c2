"""glaucli data [PATH]: find the dataset tree, count it, optionally verify every image."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options
from glaucli.errors import WorkError


def data(
    path: Annotated[Optional[Path], typer.Argument(
        help="Dataset folder or any folder above its tree \\[default: newest complete download].",
        show_default=False)] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Decode every image; list unreadable ones (exit 1 if any).")] = False,
    variant: options.Variant = None,
    data_dir: options.DataDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Show a dataset's split x class counts and image sizes; --verify decodes every image."""
    options.apply(quiet)
    from rich.markup import escape

    from glaucli.cli.render import counts_table
    from glaucli.data.images import ImageError, image_size, load_image
    from glaucli.data.layout import CLASSES, SPLITS, list_images, resolve_dataset

    dataset = resolve_dataset(path, config.data_dir(data_dir), variant)
    listed = {s: {c: list_images(dataset.folder(s, c)) for c in CLASSES} for s in SPLITS}  # one walk
    files = [p for by_class in listed.values() for images in by_class.values() for p in images]
    counts = {s: {c: len(images) for c, images in by_class.items()} for s, by_class in listed.items()}
    sizes: Counter[tuple[int, int]] = Counter()
    unreadable: list[dict[str, str]] = []
    label = "Verifying images" if verify else "Reading image headers"
    with console.Progress(label, len(files), "images") as bar:
        for file in files:
            try:
                if verify:
                    sizes[load_image(file).shape[1::-1]] += 1
                else:
                    sizes[image_size(file)] += 1
            except ImageError as exc:
                unreadable.append({"path": str(file), "error": str(exc)})
            bar.advance()
    summary = _size_summary(sizes)
    if json_out:
        result = {"path": str(dataset.root), "counts": counts, "total": len(files),
                  "image_sizes": summary}
        if verify:
            result["unreadable"] = unreadable
        console.emit_json(result)
    else:
        console.emit(counts_table(counts, title=f"Dataset {dataset.root}"))
        if summary:
            console.emit(f"Image sizes: {_fmt(summary['most_common'])} most common "
                         f"({summary['distinct']} distinct; min {_fmt(summary['min'])}, "
                         f"max {_fmt(summary['max'])})")
        for bad in unreadable:
            console.err.print(f"[red]unreadable:[/] {escape(bad['error'])}")
        if verify and not unreadable:
            console.info(f"All {len(files)} images decode.")
    if unreadable and verify:
        raise WorkError(f"{len(unreadable)} of {len(files)} images are unreadable",
                        hint="remove or replace them before training")


def _size_summary(sizes: Counter) -> dict:
    if not sizes:
        return {}
    by_area = sorted(sizes, key=lambda wh: (wh[0] * wh[1], wh))
    return {"most_common": list(sizes.most_common(1)[0][0]), "min": list(by_area[0]),
            "max": list(by_area[-1]), "distinct": len(sizes)}


def _fmt(wh) -> str:
    return f"{wh[0]}x{wh[1]}"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(data)
