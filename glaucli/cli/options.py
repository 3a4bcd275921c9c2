"""Option types shared by several commands (one definition each)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import console

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or info lines on stderr.")]
DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Where datasets live \\[env: GLAUCLI_DATA_DIR; default: ./data].",
    show_default=False)]
RunsDir = Annotated[Optional[Path], typer.Option(
    "--runs-dir", help="Where runs live \\[env: GLAUCLI_RUNS_DIR; default: ./runs].",
    show_default=False)]
Variant = Annotated[Optional[str], typer.Option(
    "--variant", help="Which tree to use when an archive holds several (default: release-crop).")]


def apply(quiet: bool) -> None:
    """Honour --quiet given after the subcommand as well as before it."""
    console.configure(quiet=quiet)


Threshold = Annotated[Optional[float], typer.Option(
    "--threshold", help="Decision threshold in [0, 1] \\[default: the run's].", show_default=False)]
Tta = Annotated[bool, typer.Option("--tta", help="Average predictions over flips.")]
NoOodCheck = Annotated[bool, typer.Option(
    "--no-ood-check", help="Skip the fundus and distribution checks (answer for every image).")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")]
Split = Annotated[str, typer.Option("--split", help="test, validation, train, or all (every image: a collection without splits).")]
OptionalSplit = Annotated[Optional[str], typer.Option(
    "--split", help="test, validation, train, or all \\[default: test, or all when the data has no splits].",
    show_default=False)]
Bootstrap = Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for the 95 % intervals (0: none).")]


def check_split(split: str) -> None:
    from glaucli.data.collection import ALL
    from glaucli.data.layout import SPLITS
    from glaucli.errors import UsageError

    if split not in (*SPLITS, ALL):
        raise UsageError(f"--split must be one of {', '.join(SPLITS)} or {ALL} (got {split!r})")


# -- the data options: every command that reads a collection takes these (collection.DataSpec)
_PANEL = "Data options"
Labels = Annotated[Optional[Path], typer.Option(
    "--labels", help="CSV of labels for the images under --data (a flat folder plus e.g. train_labels.csv).",
    show_default=False, rich_help_panel=_PANEL)]
Classes = Annotated[Optional[str], typer.Option(
    "--classes", help="Which folder names / label values are which class, e.g. RG=glaucoma,NRG=normal,healthy "
    "\\[default: the common names].", show_default=False, rich_help_panel=_PANEL)]
ImageColumn = Annotated[Optional[str], typer.Option(
    "--image-column", help="CSV column of image names \\[default: found by name].", show_default=False,
    rich_help_panel=_PANEL)]
LabelColumn = Annotated[Optional[str], typer.Option(
    "--label-column", help="CSV column of labels \\[default: found by name].", show_default=False,
    rich_help_panel=_PANEL)]
SplitColumn = Annotated[Optional[str], typer.Option(
    "--split-column", help="CSV column of splits (train/validation/test) \\[default: 'split' if present].",
    show_default=False, rich_help_panel=_PANEL)]
SkipMissing = Annotated[bool, typer.Option(
    "--skip-missing", help="Leave out CSV rows whose image is missing, repeated or unlabelled (counted and named).",
    rich_help_panel=_PANEL)]


def data_spec(data: Path | None, labels: Path | None = None, classes: str | None = None,
              image_column: str | None = None, label_column: str | None = None,
              split_column: str | None = None, skip_missing: bool = False, variant: str | None = None):
    from glaucli.data.collection import DataSpec

    return DataSpec(data, labels, classes, image_column, label_column, split_column,
                    skip_missing=skip_missing, variant=variant)


def announce(found) -> None:
    """A collection's notes and warnings, on stderr."""
    for text in found.notes:
        console.info(text)
    for text in found.warnings:
        console.warn(text)


def is_stdout(path: Path | None) -> bool:
    """`-` as an output path means stdout, as everywhere on the command line."""
    return path is not None and str(path) == "-"


def refuse_stdout(path: Path | None, flag: str) -> None:
    """An option that writes a folder or a page with its files cannot be stdout; never
    create a file or folder called `-`."""
    if is_stdout(path):
        from glaucli.errors import UsageError

        raise UsageError(f"{flag} writes files; - (stdout) cannot hold them", hint=f"pass {flag} PATH")


def resolve_run(arg, runs_dir: Path):
    """runs.resolve_run, and say on stderr what it chose (the library prints nothing)."""
    from glaucli.runs import resolve_run as resolve

    run = resolve(arg, runs_dir)
    if run.automatic:
        console.info(f"Using run {run.path}")
    for text in run.warnings:
        console.warn(text)
    return run
