"""Issue 18: every table reads at 80 and at 120 columns (nothing cut with an ellipsis)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from glaucli.cli.compare import MAIN, compare_table
from glaucli.cli.predict import predictions_table
from glaucli.cli.render import separating_digits
from glaucli.cli.runs import runs_table

WIDTHS = (80, 120)


def render(table, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "…" not in text and "..." not in text, text
    assert max(len(line) for line in text.splitlines()) <= width, text
    return text


def _result(shift: float = 0.0, ci: bool = True) -> dict:
    metrics = {m: 0.5 + shift + i / 20 for i, m in enumerate(MAIN)}
    return {"metrics": metrics, "ci95": {m: (0.29213, 0.61234) for m in MAIN} if ci else {}}


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_names_headers_and_intervals_whole(width):
    names = ["basic-cnn", "basic-cnn-2", "efficientnet-v2-b0"]  # two runs used to read `basic-…`
    text = render(compare_table("Comparison on test", names, [_result(), _result(0.01), _result(0.02)]), width)
    for name in names:
        assert f" {name} " in text
    for metric in MAIN:
        assert f" {metric} " in text
    assert text.count("0.292-0.612") == 3 * len(MAIN)


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_without_intervals_has_no_empty_cells(width):
    text = render(compare_table("Comparison on test", ["a", "b"], [_result(ci=False), _result(0.1, ci=False)]), width)
    assert "interval" not in text and "0.292" not in text


def _run_row(name, kind="train", model="inception-resnet-v2", status="complete"):
    return {"name": name, "path": f"/runs/{name}", "kind": kind, "backbone": model, "status": status,
            "val_auc": 0.91234, "date": "2026-12-02T03:11:37.123456+00:00", "resume": None}


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_names_and_dates_whole(width):
    rows = [_run_row("inception-resnet-v2-12", status="interrupted"), _run_row("resnet50-unfreeze-half-3"),
            _run_row("mean-3", "ensemble", "mean")]
    text = render(runs_table(rows, "/home/someone/projects/glaucoma/runs"), width)
    for row in rows:
        assert f" {row['name']} " in text  # on one line, not cut
    assert "2026-12-02" in text and "03:11" in text and "0.9123" in text
    assert "ensemble" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_very_long_name_folds_but_is_all_there(width):
    name = "a-very-long-user-given-run-name-for-my-thesis-chapter-4"
    text = render(runs_table([_run_row(name)], "runs"), width)
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert name in cells


@pytest.mark.parametrize("width", WIDTHS)
def test_predict_table_paths_fold_and_numbers_tell_apart(width):
    path = "/data/clinic-export/2026/left-eyes/patient_000123_visit_04_left_eye.jpg"
    rows = [{"image": path, "probability": 0.48112, "label": "NRG", "threshold": 0.481463,
             "verdict": "no referable glaucoma"},
            {"image": "/tmp/unlike.jpg", "probability": 0.2, "label": None, "threshold": 0.481463,
             "verdict": "not assessed: unlike this run's training photographs"},
            {"image": "/tmp/broken.jpg", "error": "cannot decode"}]
    text = render(predictions_table(rows, "basic-cnn-2"), width)
    assert "0.4811 " in text and ">= 0.4815" in text  # not 0.4811 next to 0.481
    assert "no referable glaucoma" in text and "Research use only" in text
    verdicts = " ".join(line.split("│")[3].strip() for line in text.splitlines() if line.startswith("│"))
    assert "not assessed: unlike this run's training photographs" in verdicts  # why, in its row
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert path in cells


def test_separating_digits():
    assert separating_digits([(0.48112, 0.481463)]) == 4
    assert separating_digits([(0.5, 0.25)]) == 3
    assert separating_digits([(0.4811201, 0.4811205)]) == 6
    assert separating_digits([(0.3, 0.3)]) == 3  # equal values need no digits to differ


def test_one_event_printer_for_every_command(capsys):
    """Message -> an info line, Warned -> a warning, Progress -> one bar per task (plain lines
    off a terminal), titled per command; a title of None hides the task; training events pass."""
    from glaucli import console, events
    from glaucli.cli.render import EventPrinter

    console.reset()
    try:
        with EventPrinter({"scoring": "Evaluating r", "hidden": None}) as show:
            show(events.Message("Using dataset d"))
            show(events.Warned("careful"))
            show(events.Progress("scoring", 4, 8, "images"))
            show(events.Progress("hidden", 1, 2, "images"))
            show(events.Progress("scoring", 8, 8, "images"))
            assert show.bars == {}  # closed when done == total
            show(events.Progress("extract", 5, None, "files"))  # an unnamed task shows as its name
            show(events.EpochEstimated(1.0))
            assert list(show.bars) == ["extract"]
        assert show.bars == {}
        assert capsys.readouterr().err.splitlines() == [
            "Using dataset d", "Warning: careful", "Evaluating r: 4/8 images", "Evaluating r: 8/8 images",
            "extract: 5 files"]
    finally:
        console.reset()
