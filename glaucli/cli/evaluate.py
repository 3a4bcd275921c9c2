"""glaucli evaluate [RUN]: screening metrics, confusion matrices, curves, a CI gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def evaluate(
    run: Annotated[Optional[str], typer.Argument(help="Run folder, run name, or .keras file \\[default: latest complete run].", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder or CSV manifest, e.g. another collection (external validation) \\[default: the run's own].", show_default=False)] = None,
    labels: options.Labels = None,
    classes: options.Classes = None,
    image_column: options.ImageColumn = None,
    label_column: options.LabelColumn = None,
    split_column: options.SplitColumn = None,
    skip_missing: options.SkipMissing = False,
    split: options.OptionalSplit = None,
    threshold: options.Threshold = None,
    target_specificity: Annotated[Optional[float], typer.Option("--target-specificity", help="Pick the threshold reaching this specificity on the validation split (on the evaluated data itself when there is none; marked as such).", show_default=False)] = None,
    tta: options.Tta = False,
    bootstrap: options.Bootstrap = 1000,
    fail_under: Annotated[Optional[str], typer.Option("--fail-under", help="Exit 4 unless every NAME>=VALUE holds, e.g. accuracy=0.9,auc=0.95.", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Folder for metrics.json, predictions.csv and plots \\[default: RUN/eval/SPLIT, plus -tta, -tTHRESHOLD or -specVALUE when set].", show_default=False)] = None,
    no_ood_check: options.NoOodCheck = False,
    batch_size: options.BatchSize = 32,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Evaluate a run: sensitivity, specificity, AUC, pAUC, intervals, confusion matrix, plots."""
    options.apply(quiet)
    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter, print_evaluation
    from glaucli.engine.evaluate import evaluate as run_evaluation
    from glaucli.engine.evaluate import failed_gate, parse_gate
    from glaucli.errors import QualityGateError

    if split is not None:
        options.check_split(split)
    options.refuse_stdout(output, "--output")
    gate = parse_gate(fail_under)
    spec = options.data_spec(data, labels, classes, image_column, label_column, split_column, skip_missing)
    resolved = resolve_run(run, config.runs_dir(runs_dir))
    with EventPrinter({"scoring": f"Evaluating {resolved.name}"}) as show:
        result, out = run_evaluation(resolved, spec, split, threshold, target_specificity, tta, bootstrap,
                                     output, batch_size, ood_check=not no_ood_check, on_event=show)
    if resolved.meta.get("synthetic"):
        console.warn(f"{resolved.name} was trained on synthetic data (glaucli sample), not real photographs")
    if result.get("no_better_than_chance"):
        console.warn(f"{resolved.name} is no better than chance on this split: {result['chance_reason']}")
    if json_out:
        console.emit_json(result)
    else:
        print_evaluation(result)
    console.info(f"Results saved to {out}")
    failed = failed_gate(result, gate)
    if failed:
        raise QualityGateError("quality gate not met: " + "; ".join(failed))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(evaluate)
