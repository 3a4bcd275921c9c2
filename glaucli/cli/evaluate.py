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
    from glaucli.engine.evaluate import evaluate as run_evaluation
    from glaucli.engine.evaluate import failed_gate, parse_gate
    from glaucli.errors import QualityGateError

    if split is not None:
        options.check_split(split)
    options.refuse_stdout(output, "--output")
    gate = parse_gate(fail_under)
    spec = options.data_spec(data, labels, classes, image_column, label_column, split_column, skip_missing)
    resolved = resolve_run(run, config.runs_dir(runs_dir))
    with console.Progress(f"Evaluating {resolved.name}", None, "images") as bar:
        result, out = run_evaluation(resolved, spec, split, threshold, target_specificity, tta, bootstrap,
                                     output, batch_size, on_batch=bar.update, report=console.info,
                                     ood_check=not no_ood_check)
    if resolved.meta.get("synthetic"):
        console.warn(f"{resolved.name} was trained on synthetic data (glaucli sample), not real photographs")
    if json_out:
        console.emit_json(result)
    else:
        _print_report(result)
    console.info(f"Results saved to {out}")
    failed = failed_gate(result, gate)
    if failed:
        raise QualityGateError("quality gate not met: " + "; ".join(failed))


def settings_line(result: dict) -> str:
    """Which settings produced these figures (each setting has its own RUN/eval folder)."""
    source = {"run": "the run's", "validation-youden": "the run's", "given": "given",
              "target-specificity": "for the target specificity on validation",
              "target-specificity-recomputed": "for the target specificity on these images, optimistic"
              }.get(result.get("threshold_source", "run"), result.get("threshold_source"))
    boot = result.get("bootstrap")
    return (f"{result['split']} split, threshold {result['threshold']:.4f} ({source}), "
            f"TTA {'on' if result.get('tta') else 'off'}, "
            + (f"{boot} bootstrap resamples" if boot else "no intervals" if boot == 0 else "bootstrap intervals"))


def _print_report(result: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from glaucli.data.labels import CLASSES

    c = result["confusion"]
    data = result["data"]
    where = f"{escape(Path(data['path']).name)} ({data['kind']}" + (", external" if result.get("external") else "") + ")"
    if result.get("synthetic"):
        console.warn("synthetic data (glaucli sample): these figures say nothing about glaucoma")
    cm = Table(title=f"Confusion matrix ({where}, {result['split']}, threshold {result['threshold']:.3f}"
                     + ("" if result["threshold_source"] in ("run", "validation-youden", "given") else f": {result['threshold_source']}")
                     + ")")
    cm.add_column("true \\ predicted")
    for cls in CLASSES:
        cm.add_column(f"pred {cls}", justify="right")
    for cls, (a, b) in zip(CLASSES, ((c["tn"], c["fp"]), (c["fn"], c["tp"]))):
        total = max(1, a + b)
        cm.add_row(f"true {cls}", f"{a} ({a / total:.1%})", f"{b} ({b / total:.1%})")
    console.emit(cm)
    table = Table(title=f"Metrics, n = {result['n']['NRG']} NRG + {result['n']['RG']} RG",
                  caption=escape(settings_line(result)))
    table.add_column("metric")
    table.add_column("value", justify="right")
    if result["ci95"]:  # --bootstrap 0: no intervals, no empty column
        table.add_column("95 % CI", justify="right")
    for name, value in result["metrics"].items():
        ci = result["ci95"].get(name)
        cells = [name, f"{value:.4f}"] + ([f"{ci[0]:.4f} - {ci[1]:.4f}" if ci else "-"] if result["ci95"] else [])
        table.add_row(*cells)
    console.emit(table)
    pc = Table(title="Per class")
    for column in ("class", "precision", "recall", "f1", "support"):
        pc.add_column(column, justify="left" if column == "class" else "right")
    for cls, row in result["per_class"].items():
        pc.add_row(cls, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"]))
    console.emit(pc)
    _print_flagged(result.get("ood"), result["metrics"])
    console.emit("[dim]pauc_90: partial AUC over 90-100 % specificity, McClish-standardised (0.5-1).[/]", markup=True)


def _print_flagged(ood: dict | None, metrics: dict) -> None:
    """How many images the fundus/distribution checks would not assess, metrics without them."""
    if not ood:
        return
    from rich.table import Table

    title = f"Not assessed by predict: {ood['flagged']} of {ood['n']} ({ood['share']:.1%})"
    caption = f"fundus check failed {ood['fundus_failed']}, beyond the distribution cut-off {ood['beyond_cutoff']}"
    if not ood["flagged"] or not ood["metrics_assessed"]:
        console.emit(f"[dim]{title}; {caption}[/]", markup=True)
        return
    table = Table(title=title, caption=caption)
    for column in ("metric", "all images", "assessed only"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        table.add_row(name, f"{metrics[name]:.4f}", f"{ood['metrics_assessed'][name]:.4f}")
    console.emit(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(evaluate)
