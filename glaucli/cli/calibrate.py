"""glaucli calibrate [RUN]: temperature scaling fitted on the validation split, stored in the run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options
from glaucli.errors import WorkError


def calibrate(
    run: Annotated[Optional[str], typer.Argument(help="Run folder or run name \\[default: latest complete run].", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder \\[default: the run's own].", show_default=False)] = None,
    tta: options.Tta = False,
    batch_size: options.BatchSize = 32,
    reset: Annotated[bool, typer.Option("--reset", help="Remove the run's temperature from meta.json (undo calibrate).")] = False,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Fit temperature scaling on the validation split so P(RG) matches observed frequencies.

    Stored in the run's meta.json (the model file is unchanged); evaluate, predict and report apply it
    and say so. Verdicts do not change: the threshold is mapped the same way. A temperature that
    sits on the edge of the search range or does not lower the validation log-loss is not kept
    (exit 1). --reset removes a stored temperature."""
    options.apply(quiet)
    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.calibrate import calibrate as fit

    resolved = resolve_run(run, config.runs_dir(runs_dir))
    if reset:
        _reset(resolved, json_out)
        return
    with console.status(f"Fitting temperature scaling for {resolved.name} on the validation split"):
        block = fit(resolved, data, batch_size, tta, on_event=EventPrinter())
    if json_out:
        console.emit_json({"run": str(resolved.path), "calibration": block})
    else:
        from rich.table import Table

        kept = "fitted on validation" if block["kept"] else "fitted on validation, NOT kept"
        table = Table(title=f"Temperature scaling: T = {block['temperature']:.4f} ({kept})")
        for column in ("split", "images", "ECE before", "ECE after", "Brier before", "Brier after",
                       "log-loss before", "log-loss after"):
            table.add_column(column, justify="left" if column == "split" else "right")
        for split in ("validation", "test"):
            if split in block:
                b = block[split]
                table.add_row(split + (" (fit)" if split == "validation" else " (held out)"), str(b["n"]),
                              f"{b['ece_before']:.4f}", f"{b['ece_after']:.4f}",
                              f"{b['brier_before']:.4f}", f"{b['brier_after']:.4f}",
                              f"{b['log_loss_before']:.4f}", f"{b['log_loss_after']:.4f}")
        console.emit(table)
    if not block["kept"]:
        raise WorkError(f"temperature not kept: {block['reason']}",
                        hint=f"{resolved.path / 'meta.json'} is unchanged; the probabilities stay as the model gives them")
    console.info(f"Saved in {resolved.path / 'meta.json'}; evaluate, predict and report now apply it")


def _reset(resolved, json_out: bool) -> None:
    from glaucli.engine.calibrate import reset

    removed = reset(resolved)
    if json_out:
        console.emit_json({"run": str(resolved.path), "removed": removed})
    elif removed is None:
        console.info(f"{resolved.name} has no temperature to remove; nothing changed")
    else:
        console.info(f"Removed T = {removed.get('temperature', float('nan')):.4f} from {resolved.path / 'meta.json'}; "
                     "evaluate, predict and report use the model's own probabilities again")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(calibrate)
