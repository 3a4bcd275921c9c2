"""glaucli predict IMAGE_OR_DIR...: a verdict per fundus photograph, optional Grad-CAM."""

from __future__ import annotations

import collections
import contextlib
import csv
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def predict(
    inputs: Annotated[Optional[List[str]], typer.Argument(help="Image files, folders (recursive) or globs.", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Run folder, run name or .keras file \\[default: latest complete run].", show_default=False)] = None,
    threshold: options.Threshold = None,
    tta: options.Tta = False,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="Write the results as CSV to FILE (- for stdout) instead of the table.", show_default=False)] = None,
    explain: Annotated[Optional[Path], typer.Option("--explain", help="Write a Grad-CAM overlay PNG per image into DIR.", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Predict a labelled collection (folder tree or CSV manifest) instead: rows gain its true label.", show_default=False)] = None,
    labels: options.Labels = None,
    classes: options.Classes = None,
    image_column: options.ImageColumn = None,
    label_column: options.LabelColumn = None,
    split_column: options.SplitColumn = None,
    skip_missing: options.SkipMissing = False,
    split: Annotated[str, typer.Option("--split", help="With --data: test, validation, train or all.")] = "all",
    no_ood_check: options.NoOodCheck = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any image is not assessed (not a gradable fundus photograph).")] = False,
    batch_size: options.BatchSize = 32,
    runs_dir: options.RunsDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Predict referable glaucoma for fundus photographs (research use only)."""
    options.apply(quiet)
    from rich.markup import escape

    from glaucli.cli.options import resolve_run
    from glaucli.cli.render import EventPrinter
    from glaucli.engine.predict import check_threshold, find_images
    from glaucli.engine.predict import predict as run_predict
    from glaucli.errors import UsageError, WorkError

    check_threshold(threshold)
    if json_out and csv_file:
        raise UsageError("--json and --csv exclude each other")
    options.refuse_stdout(explain, "--explain")
    truth: dict[Path, str] = {}
    read: list[Path] = []  # the files the command reads besides the images: no output may name one
    if data is not None or labels is not None:
        if inputs:
            raise UsageError("give images or --data, not both")
        from glaucli.data.collection import resolve
        from glaucli.data.labels import CLASSES

        options.check_split(split)
        found = resolve(options.data_spec(data, labels, classes, image_column, label_column, split_column,
                                          skip_missing), config.data_dir(None))
        options.announce(found)
        read += found.sources()
        pairs = found.require(split)
        paths = [p for p, _ in pairs]
        truth = {p: CLASSES[y] for p, y in pairs}
    elif not inputs:
        raise UsageError("give image files, folders or globs (or --data)")
    else:
        paths = list(find_images(inputs))  # paths only: missing inputs fail before any work
    if not paths:
        from glaucli.errors import InputError

        raise InputError("no image files found in " + ", ".join(inputs or [str(data)]))
    run = resolve_run(model, config.runs_dir(runs_dir))
    read += run.inputs()
    if csv_file is not None and not options.is_stdout(csv_file):
        from glaucli.safety import output_file

        # never over a photo, the labels or manifest, the model, or a file glaucli did not write
        output_file(csv_file, [*paths, *read], "--csv", (".csv", ".txt"))
    if explain is not None:
        from glaucli.engine.explain import check_explain_dir

        check_explain_dir(paths, explain)  # before any work: a user's PNG of an output's name stays
    # A bar only for more than one batch; it shows from the first batch on.
    show = EventPrinter({"scoring": "Predicting" if len(paths) > batch_size else None})
    answers = run_predict(paths, run, threshold, tta, batch_size, not no_ood_check, explain, on_event=show)

    # Rows stream to --json / --csv as they come (flat memory for 100k files); only the
    # terminal table, which needs them all, keeps them.
    table_rows: list[dict] = []
    failed = total = 0
    not_assessed: collections.Counter = collections.Counter()  # reason code -> images
    with contextlib.ExitStack() as stack:
        json_array = stack.enter_context(console.JsonArray()) if json_out else None
        csv_writer = None
        if csv_file:
            if options.is_stdout(csv_file):
                fh = sys.stdout
            else:  # a temp file renamed into place, then the provenance record
                from glaucli.safety import owned_path

                fh = stack.enter_context(open(stack.enter_context(owned_path(csv_file)), "w", newline=""))
            csv_writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS + (["true_label"] if truth else []),
                                        extrasaction="ignore")
            csv_writer.writeheader()
        stack.enter_context(show)
        for answer in answers:
            total += 1
            if answer.error:
                failed += 1
                console.err.print(f"[red]Error:[/] {escape(answer.error)}")
            elif answer.label is None:
                not_assessed[answer.ood["reason"]] += 1
            if answer.note:
                console.warn(f"{answer.path}: {answer.note}")
            row = prediction_row(answer, truth)
            if json_array is not None:
                json_array.add(row)
            if csv_writer is not None:
                ood = row.get("ood") or {}
                csv_writer.writerow({**row, "ood_score": ood.get("score"), "ood_cutoff": ood.get("cutoff"),
                                     "fundus_check": ood.get("fundus_check"), "ood_flag": ood.get("flag"),
                                     "reason": ood.get("reason")})
            if not (json_out or csv_file):
                table_rows.append(row)

    if csv_file:
        if not options.is_stdout(csv_file):
            console.info(f"Results saved to {csv_file}")
    elif not json_out:
        console.emit(predictions_table(table_rows, run.name))
    flagged = sum(not_assessed.values())
    if flagged:
        from glaucli.contract import NOT_ASSESSED

        why = ", ".join(f"{n} {NOT_ASSESSED[code].removeprefix('not assessed: ')}" for code, n in not_assessed.items())
        console.warn(f"{flagged} of {total} image(s) not assessed: {why} (--json gives the reasons)")
    if failed:
        raise WorkError(f"{failed} of {total} image(s) could not be read; the others were predicted")
    if flagged and strict:
        raise WorkError(f"{flagged} of {total} image(s) not assessed (--strict)")


CSV_FIELDS = ["image", "probability", "label", "threshold", "verdict", "reason", "ood_score", "ood_cutoff",
              "fundus_check", "ood_flag", "error", "explanation", "heatmap", "run", "synthetic"]


def prediction_row(answer, truth: dict) -> dict:
    """An engine Prediction as the --json object (the table and CSV read the same keys, in
    this order); with --data, `truth` maps each path to its true label."""
    row: dict = {"image": str(answer.path), "run": answer.run, "synthetic": answer.synthetic}
    if answer.error:
        return {**row, "error": answer.error}
    row.update(probability=round(answer.probability, 6), label=answer.label, threshold=round(answer.threshold, 6))
    if truth:
        row["true_label"] = truth.get(answer.path)
    row["verdict"] = answer.verdict
    if answer.ood is not None:
        row["ood"] = answer.ood
    if answer.explanation is not None:
        row.update(explanation=str(answer.explanation), heatmap=str(answer.heatmap))
        if answer.note:
            row["explanation_note"] = answer.note
    return row


def predictions_table(rows: list[dict], run_name: str):
    """Designed for 80 columns: the threshold is the same for every row, so it sits in the
    caption (with P(RG)'s precision, enough to tell the two apart), and paths fold. A row not
    assessed says why in the words of contract.NOT_ASSESSED, without its "not assessed: "."""
    from rich.markup import escape
    from rich.table import Table

    from glaucli.cli.render import display_path, separating_digits

    scored = [r for r in rows if "error" not in r]
    cut = scored[0]["threshold"] if scored else None
    digits = separating_digits([(r["probability"], r["threshold"]) for r in scored], lo=4)
    caption = console.RESEARCH_NOTE
    if cut is not None:
        caption = f"RG suspected when P(RG) >= {cut:.{digits}f} (threshold)\n{caption}"
    if any(r.get("label", "") is None for r in rows):
        caption = f"Not assessed: no verdict, --json gives every reason\n{caption}"
    synthetic = " [yellow]synthetic model: demo only[/]" if any(r.get("synthetic") for r in rows) else ""
    table = Table(title=f"Predictions ({escape(run_name)}){synthetic}", caption=caption)
    table.add_column("image", overflow="fold", ratio=1)
    table.add_column("P(RG)", justify="right", no_wrap=True)
    table.add_column("verdict")
    with_truth = any(r.get("true_label") for r in rows)  # predict --data: the collection's labels
    if with_truth:
        table.add_column("true", no_wrap=True)
    for r in rows:
        image = escape(display_path(r["image"]))
        truth = [r.get("true_label") or "-"] if with_truth else []
        if "error" in r:
            table.add_row(image, "-", "[red]error[/]", *truth)
        elif r["label"] is None:  # not assessed: a yellow row, no glaucoma verdict
            table.add_row(image, "-", escape(r["verdict"].replace("not assessed: ", "not assessed:\n")), *truth,
                          style="yellow")
        else:
            style = "bold red" if r["label"] == "RG" else "green"
            table.add_row(image, f"{r['probability']:.{digits}f}", f"[{style}]{escape(r['verdict'])}[/]", *truth)
    return table


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(predict)
