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
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")]
Split = Annotated[str, typer.Option("--split", help="test, validation or train.")]
Bootstrap = Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for the 95 % intervals (0: none).")]


def check_split(split: str) -> None:
    from glaucli.data.layout import SPLITS
    from glaucli.errors import UsageError

    if split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)} (got {split!r})")
