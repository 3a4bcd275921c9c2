"""glaucli compare RUN RUN...: the main metrics of several runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, List, Optional

import typer

from glaucli import config, console
from glaucli.cli import options

if TYPE_CHECKING:
    from rich.table import Table

MAIN = ("auc", "pauc_90", "sens_at_95spec", "accuracy", "sensitivity", "specificity", "f1")


def compare(
    runs: Annotated[List[str], typer.Argument(help="Runs to compare (folders, names or .keras files).", show_default=False)],
    data: Annotated[Optional[Path], typer.Option("--data", help="Dataset folder or CSV manifest, one for all runs \\[default: each run's own].", show_default=False)] = None,
    labels: options.Labels = None,
    classes: options.Classes = None,
    image_column: options.ImageColumn = None,
    label_column: options.LabelColumn = None,
    split_column: options.SplitColumn = None,
    skip_missing: options.SkipMissing = False,
    split: options.OptionalSplit = None,
    bootstrap: options.Bootstrap = 1000,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write a self-contained HTML comparison page to FILE.", show_default=False)] = None,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Evaluate several runs on one split and show their metrics (with 95 % intervals) side by side."""
    options.apply(quiet)
    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.evaluate import evaluate

    if split is not None:
        options.check_split(split)
    spec = options.data_spec(data, labels, classes, image_column, label_column, split_column, skip_missing)
    options.refuse_stdout(html, "--html")
    resolved = [resolve_run(r, config.runs_dir(runs_dir)) for r in runs]  # all inputs checked first
    results, folders = [], []
    for run in resolved:
        with EventPrinter({"scoring": f"Evaluating {run.name}"}) as show:
            result, folder = evaluate(run, spec, split, bootstrap=bootstrap, on_event=show)
        results.append(result)
        folders.append(folder)
    if html is not None:
        from glaucli.engine.report import build_compare

        page = build_compare(list(zip(resolved, results, folders)), split or results[0]["split"], html)
        console.info(f"Comparison page saved to {page}")
    for run, r in zip(resolved, results):
        if r["no_better_than_chance"]:
            console.warn(f"{run.name} is no better than chance on this split: {r['chance_reason']}")
    if json_out:
        keys = ("run", "split", "threshold", "n", "metrics", "ci95", "data", "external", "synthetic",
                "no_better_than_chance", "chance_reason")
        console.emit_json({"split": split, "runs": [{k: r[k] for k in keys} for r in results]})
        return
    from rich.markup import escape

    sources = {(r["data"]["path"], r["split"]) for r in results}
    if any(r["synthetic"] or run.meta.get("synthetic") for run, r in zip(resolved, results)):
        console.warn("* synthetic data (glaucli sample), for training or evaluation: it says nothing about glaucoma")
    if len(sources) > 1:
        console.warn("the runs were evaluated on different data: " + "; ".join(
            f"{r['run']}: {r['data']['path']} ({r['split']})" for r in results))
    title = "Comparison on " + (escape(f"{Path(results[0]['data']['path']).name} ({results[0]['split']})")
                                if len(sources) == 1 else "each run's own data")
    names = [run.name + (" *" if run.meta.get("synthetic") or r["synthetic"] else "") for run, r in zip(resolved, results)]
    console.emit(compare_table(title, names, results))


def compare_table(title: str, names: list[str], results: list[dict]) -> "Table":
    """Metrics down, runs across: each run's column holds the value and, folded beneath it,
    its 95 % interval, so two or three runs fit 80 columns and names fold instead of being cut."""
    from rich.markup import escape
    from rich.table import Table

    caption = "best value in bold (never a model no better than chance)"
    table = Table(title=title, caption=caption + ("; [dim]95 % interval beneath[/]" if any(r["ci95"] for r in results) else ""))
    table.add_column("metric", no_wrap=True)
    for name in names:
        table.add_column(escape(name), justify="right", overflow="fold", min_width=7)
    for metric in MAIN:
        best = max((r["metrics"][metric] for r in results if not r.get("no_better_than_chance")), default=None)
        cells = []
        for r in results:
            value, ci = r["metrics"][metric], r["ci95"].get(metric)
            text = f"[bold]{value:.3f}[/]" if value == best and not r.get("no_better_than_chance") else f"{value:.3f}"
            cells.append(text + (f"\n[dim]{ci[0]:.3f}-{ci[1]:.3f}[/]" if ci else ""))
        table.add_row(metric, *cells)  # the names of metrics.json and --fail-under
    return table


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(compare)
