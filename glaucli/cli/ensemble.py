"""glaucli ensemble METHOD ...: concat (trained), mean, vote, stack (of trained runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from glaucli import console
from glaucli.cli import options
from glaucli.cli.train import concat_command

ensemble_app = typer.Typer(help="Combine backbones or trained runs into one model (a run under runs/ensemble/).",
                           no_args_is_help=True)

Members = Annotated[List[str], typer.Argument(help="Two or more runs (folders, names or .keras files).",
                                              show_default=False)]
Data = Annotated[Optional[Path], typer.Option("--data", help="Dataset whose validation split fits the ensemble \\[default: the first member's].", show_default=False)]
Name = Annotated[Optional[str], typer.Option("--name", help="Run name \\[default: the method].", show_default=False)]


def _combine(method: str, runs: list[str], data, name, runs_dir, json_out: bool, quiet: bool) -> None:
    options.apply(quiet)
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.ensemble import combine

    with EventPrinter() as show:
        run, meta = combine(method, runs, data, name, runs_dir, on_event=show)
    m = meta["metrics"]["validation"]
    console.info(f"Validation: AUC {m['auc']:.4f}, accuracy {m['accuracy']:.4f} at threshold {meta['threshold']:.3f}")
    console.info(f"Results saved to {run}")
    if json_out:
        console.emit_json({"run": str(run), "metrics": m})
    else:
        console.emit_line(str(run))


@ensemble_app.command()
def mean(runs: Members, data: Data = None, name: Name = None, runs_dir: options.RunsDir = None,
         json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """Soft voting: the mean of the members' P(RG); threshold chosen on validation."""
    _combine("mean", runs, data, name, runs_dir, json_out, quiet)


@ensemble_app.command()
def vote(runs: Members, data: Data = None, name: Name = None, runs_dir: options.RunsDir = None,
         json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """Hard majority vote of the members' verdicts (each at its own threshold)."""
    _combine("vote", runs, data, name, runs_dir, json_out, quiet)


@ensemble_app.command()
def stack(runs: Members, data: Data = None, name: Name = None, runs_dir: options.RunsDir = None,
          json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """A logistic head on the frozen members' outputs, fitted on validation (threshold by cross-validation)."""
    _combine("stack", runs, data, name, runs_dir, json_out, quiet)


ensemble_app.command(name="concat")(concat_command())


def register(app: typer.Typer) -> None:
    app.add_typer(ensemble_app, name="ensemble", rich_help_panel="Models")
