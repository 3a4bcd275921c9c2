"""glaucli export [RUN] --format ...: SavedModel, TFLite or ONNX, checked against Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def export(
    run: Annotated[Optional[str], typer.Argument(help="Run folder, name or .keras file \\[default: latest complete run].", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="saved-model, tflite or onnx (onnx needs glaucli\\[export]).")] = "saved-model",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write \\[default: RUN/export/].", show_default=False)] = None,
    float16: Annotated[bool, typer.Option("--float16", help="TFLite with float16 weights (half the size).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file at --output that is not a previous export.")] = False,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Export a model with its preprocessing inside, then check it answers like the Keras model."""
    options.apply(quiet)
    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.export import check_options, output_path
    from glaucli.engine.export import export as run_export

    check_options(fmt, float16)
    options.refuse_stdout(output, "--output")
    resolved = resolve_run(run, config.runs_dir(runs_dir))
    output_path(resolved, fmt, output, float16, force)  # before the spinner: a refusal is instant
    with console.status(f"Exporting {resolved.name}"):
        result = run_export(resolved, fmt, output, float16, force, on_event=EventPrinter())
    console.info(f"Largest difference from the Keras model on {result['checked_on']}: "
                 f"{result['max_abs_diff']:.2e} (tolerance {result['tolerance']:.0e})")
    console.info(f"Results saved to {result['path']} ({result['size_bytes'] / 1e6:.2f} MB)")
    if json_out:
        console.emit_json(result)
    else:
        console.emit_line(result["path"])


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(export)
