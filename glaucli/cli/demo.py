"""glaucli demo: the whole pipeline offline on the built-in sample set, each step visible."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from glaucli import console, events
from glaucli.cli import options


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the demo's data and runs (re-runs reuse the data).")] = Path("glaucli-demo"),
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")] = 12,
    quiet: options.Quiet = False,
) -> None:
    """Sample data -> train -> evaluate -> predict with Grad-CAM, offline, in about a minute."""
    options.apply(quiet)
    from rich.table import Table

    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter, counts_table, print_evaluation, separating_digits
    from glaucli.cli.train import TrainProgress
    from glaucli.data.layout import Dataset, read_manifest
    from glaucli.data.sample import write_sample_set
    from glaucli.engine.evaluate import evaluate
    from glaucli.engine.predict import predict
    from glaucli.engine.training import TrainConfig, train

    data, runs_dir = directory / "data" / "sample", directory / "runs"
    if not directory.exists():
        # Inside a repository the demo folder must not show up as an untracked surprise.
        directory.mkdir(parents=True)
        (directory / ".gitignore").write_text("# written by glaucli demo: keep this folder out of git\n*\n")
    console.info(f"Everything the demo writes goes under {directory}/ (delete it when done)")

    console.err.rule("1/5  A synthetic fundus set (RG = large cup-to-disc ratio)")
    if read_manifest(data) is None:
        if data.exists() and any(data.iterdir()):
            from glaucli.errors import InputError

            raise InputError(f"{data} holds files but no manifest.json", hint="pass another --dir")
        with console.status("Drawing fundus images"):
            write_sample_set(data, per_class=80, size=96, seed=0)
    else:
        console.info(f"Reusing {data}")
    console.err.rule("2/5  The dataset")
    console.emit(counts_table(Dataset(data).counts(), title=f"Dataset {console.escape(data)}"))

    console.err.rule("3/5  Training basic-cnn (the original project's simple CNN) at 64 px")
    result = train(TrainConfig(backbone="basic-cnn", data=data, runs_dir=runs_dir, image_size=64,
                               batch_size=16, epochs=epochs, patience=epochs, seed=0, deterministic=True),
                   TrainProgress())
    run = resolve_run(result.run, runs_dir)

    console.err.rule("4/5  Evaluating on the test split")
    with EventPrinter({"scoring": "Evaluating"}) as show:  # the bar only, as before: no notes
        metrics, eval_dir = evaluate(run, bootstrap=500, on_event=lambda e: isinstance(e, events.Progress) and show(e))
    print_evaluation(metrics)

    console.err.rule("5/5  Predicting one image, with a Grad-CAM overlay")
    image = sorted((data / "test" / "RG").glob("*.jpg"))[0]
    # No fundus/distribution check: the demo shows a verdict and its explanation for this photo.
    (answer,) = predict([image], run, ood_check=False, explain_dir=directory / "gradcam")
    overlay = answer.explanation
    digits = separating_digits([(answer.probability, answer.threshold)], lo=4)
    table = Table(title="Prediction", caption=console.RESEARCH_NOTE)
    for column in ("image", "P(RG)", "threshold", "verdict", "Grad-CAM"):
        table.add_column(column, overflow="fold")
    table.add_row(console.escape(image), f"{answer.probability:.{digits}f}", f"{answer.threshold:.{digits}f}",
                  answer.verdict, console.escape(answer.note or overlay))
    console.emit(table)

    from glaucli.engine.report import build_report

    with console.status("Writing the report page"):
        page = build_report(run, on_event=EventPrinter({"scoring": None}))["report"]  # under the spinner: no bar
    summary = Table(title="Where everything is", show_header=False)
    for what, where in (("sample data", data), ("run (models, meta.json, curves.png)", run.path),
                        ("evaluation (metrics.json, plots)", eval_dir), ("Grad-CAM overlay", overlay),
                        ("report: open it in a browser", page)):
        summary.add_row(what, console.escape(where))
    console.emit(summary)
    flag = f"--runs-dir {shlex.quote(str(runs_dir))}"  # the demo's runs are not under ./runs
    console.emit(f"The demo's run, from later commands:\n"
                 f"  glaucli runs {flag}\n"
                 f"  glaucli predict IMAGE {flag}\n"
                 f"  glaucli evaluate {flag}\n"
                 "Next, on the real data (your own Kaggle account):\n"
                 "  glaucli download            # EyePACS-AIROGS-light v2\n"
                 "  glaucli train xception      # the original project's best backbone\n"
                 "  glaucli evaluate && glaucli predict eye.jpg")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Start here")(demo)
