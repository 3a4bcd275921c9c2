"""glaucli report [RUN]: one self-contained HTML page with metrics, calibration, errors and training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def report(
    run: Annotated[Optional[str], typer.Argument(help="Run folder, run name, or .keras file \\[default: latest complete run].", show_default=False)] = None,
    split: options.Split = "test",
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder \\[default: the run's own].", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The HTML file to write \\[default: RUN/report.html].", show_default=False)] = None,
    gallery: Annotated[int, typer.Option("--gallery", min=0, help="Most confident false negatives and false positives to show, each.")] = 8,
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")] = False,
    batch_size: options.BatchSize = 32,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Write one self-contained HTML page about a run: metrics, calibration, error gallery, training.

    Reuses the run's stored evaluation of the split when its settings match, else evaluates.
    Prints the page's path on stdout."""
    options.apply(quiet)
    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.report import build_report

    options.check_split(split)
    options.refuse_stdout(output, "--output")
    resolved = resolve_run(run, config.runs_dir(runs_dir))
    if output is not None:
        from glaucli.runs import META
        from glaucli.safety import output_file

        output_file(output, [resolved.model_path, resolved.path / META], "--output", (".html", ".htm"))
    with EventPrinter({"scoring": f"Evaluating {resolved.name} on {split}"}) as show:
        made = build_report(resolved, split, data, output, gallery, batch_size, on_event=show)
    if json_out:
        console.emit_json(made)
    else:
        console.emit_line(made["report"])
    if open_page:
        import webbrowser

        if not webbrowser.open(Path(made["report"]).resolve().as_uri()):
            console.warn("no browser found to open the page")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(report)
