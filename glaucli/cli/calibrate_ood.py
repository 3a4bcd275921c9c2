"""glaucli calibrate-ood [RUN]: add the distribution check to a run without retraining."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def calibrate_ood(
    run: Annotated[Optional[str], typer.Argument(help="Run folder or run name \\[default: latest complete run].", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder \\[default: the run's own].", show_default=False)] = None,
    percentile: Annotated[float, typer.Option("--percentile", help="Cut-off: this percentile of the validation images' scores.")] = 99.0,
    batch_size: options.BatchSize = 32,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Fit the distribution check of a run (training split) and its cut-off (validation split)."""
    options.apply(quiet)
    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.ood import calibrate_run

    resolved = resolve_run(run, config.runs_dir(runs_dir))
    with console.status(f"Fitting the distribution check of {resolved.name}"):
        info = calibrate_run(resolved, data, percentile, batch_size, on_event=EventPrinter())
    if json_out:
        console.emit_json({"run": str(resolved.path), "ood": info})
    else:
        console.emit_line(str(resolved.path))
        console.info(f"Distribution check: cut-off {info['cutoff']:.4g} (the {info['percentile']:g}th percentile "
                     f"of {info['n_validation']} validation images), fitted on {info['n_train']} training images; "
                     f"saved to {resolved.path / info['file']} and meta.json")


def register(app: typer.Typer) -> None:
    app.command("calibrate-ood", rich_help_panel="Models")(calibrate_ood)
