"""glaucli data [PATH]: find the collection, count it, optionally verify every image and
look for duplicates (within a split and across splits)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options
from glaucli.errors import WorkError


def data(
    path: Annotated[Optional[Path], typer.Argument(
        help="Dataset folder (or any folder above its tree), or a CSV manifest \\[default: newest complete download].",
        show_default=False)] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Decode and hash every image; list unreadable ones, identical files and copies of one photo (exit 1 if any is unreadable or in more than one split).")] = False,
    labels: options.Labels = None,
    classes: options.Classes = None,
    image_column: options.ImageColumn = None,
    label_column: options.LabelColumn = None,
    split_column: options.SplitColumn = None,
    skip_missing: options.SkipMissing = False,
    variant: options.Variant = None,
    data_dir: options.DataDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Show a dataset's split x class counts and image sizes; --verify decodes every image."""
    options.apply(quiet)
    from rich.markup import escape

    from glaucli.cli.render import EventPrinter, counts_table
    from glaucli.data.collection import resolve
    from glaucli.data.verify import survey

    dataset = resolve(options.data_spec(path, labels, classes, image_column, label_column, split_column,
                                        skip_missing, variant), config.data_dir(data_dir))
    options.announce(dataset)
    counts = dataset.counts()
    label = "Verifying images" if verify else "Reading image headers"
    with EventPrinter({"survey": label}) as show:
        found = survey(dataset.entries, decode=verify, on_event=show)
    summary, unreadable, duplicates = found.size_summary(), found.unreadable, found.duplicates
    if json_out:
        result = {"path": str(dataset.root), "data": dataset.describe(), "counts": counts,
                  "total": len(dataset.entries), "image_sizes": summary, "synthetic": dataset.synthetic}
        if verify:
            result["unreadable"] = unreadable
            result["duplicates"] = duplicates
        console.emit_json(result)
    else:
        console.emit(counts_table(counts, title=f"Dataset {escape(str(dataset.root))}"))
        if summary:
            console.emit(f"Image sizes: {_fmt(summary['most_common'])} most common "
                         f"({summary['distinct']} distinct; min {_fmt(summary['min'])}, "
                         f"max {_fmt(summary['max'])})")
        for bad in unreadable:
            console.err.print(f"[red]unreadable:[/] {escape(bad['error'])}")
        if verify and not unreadable:
            console.info(f"All {len(dataset.entries)} images decode.")
    if duplicates:
        _print_duplicates(duplicates)
    if unreadable and verify:
        raise WorkError(f"{len(unreadable)} of {len(dataset.entries)} images are unreadable",
                        hint="remove or replace them before training")
    if found.leaks:
        raise WorkError(f"{len(found.leaks)} photo(s) appear in more than one split (train/test leakage)",
                        hint="keep each image (and each patient) in one split: `glaucli split` groups them")


def _print_duplicates(found: dict) -> None:
    """One stderr line per group, the first few groups of each kind."""
    words = {("identical", "within_split"): "identical files in one split",
             ("identical", "across_splits"): "identical files across splits",
             ("near", "within_split"): "near-identical images in one split",
             ("near", "across_splits"): "near-identical images across splits"}
    for (kind, where), text in words.items():
        groups = found[kind][where]
        if not groups:
            continue
        console.warn(f"{len(groups)} group(s) of {text}")
        for group in groups[:5]:
            console.warn("  " + " = ".join(f"{g['path']} ({g['split']})" for g in group))


def _fmt(wh) -> str:
    return f"{wh[0]}x{wh[1]}"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(data)
