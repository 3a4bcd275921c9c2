"""runs.py: run folders, meta.json, the latest run; the library prints nothing."""

from __future__ import annotations

import json

import pytest

from glaucli import runs
from glaucli.errors import InputError


def _run(root, kind, name, status="complete", finished="2026-01-01T00:00:00+00:00", model=True):
    folder = runs.new_run_dir(root, kind, name)
    runs.write_meta(folder, {"status": status, "finished_at": finished, "threshold": 0.3})
    if model:
        (folder / runs.BEST).write_bytes(b"not really a model")
    return folder


def test_names_are_never_reused(tmp_path):
    assert [runs.new_run_dir(tmp_path, "train", "cnn").name for _ in range(3)] == ["cnn", "cnn-2", "cnn-3"]


def test_meta_carries_the_schema_and_is_written_atomically(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    runs.write_meta(folder, {"status": "running"})
    assert json.loads((folder / runs.META).read_text()) == {"schema": 1, "status": "running"}
    assert [p.name for p in folder.iterdir()] == [runs.META]  # no temp file left behind


def test_latest_is_the_newest_complete_run_and_is_chosen_silently(tmp_path, capsys):
    _run(tmp_path, "train", "old", finished="2026-01-01T00:00:00+00:00")
    newest = _run(tmp_path, "ensemble", "new", finished="2026-03-01T00:00:00+00:00")
    _run(tmp_path, "train", "stopped", status="interrupted", finished="2026-05-01T00:00:00+00:00")
    run = runs.resolve_run(None, tmp_path)
    assert (run.path, run.automatic, run.threshold, run.warnings) == (newest, True, 0.3, [])
    assert capsys.readouterr() == ("", "")  # the CLI says "Using run ...", not the library


def test_a_named_run_is_not_automatic(tmp_path):
    folder = _run(tmp_path, "train", "cnn")
    assert runs.resolve_run("cnn", tmp_path).automatic is False
    assert runs.resolve_run(folder, tmp_path).path == folder


def test_a_bare_model_file_returns_its_warning_instead_of_printing_it(tmp_path, capsys):
    model = tmp_path / "loose.keras"
    model.write_bytes(b"x")
    run = runs.resolve_run(model, tmp_path / "runs")
    assert run.meta == {} and run.threshold == 0.5
    assert run.warnings == ["no meta.json beside loose.keras: threshold 0.5, no dataset recorded"]
    assert capsys.readouterr() == ("", "")


def test_no_complete_run_is_an_input_error(tmp_path):
    _run(tmp_path, "train", "stopped", status="interrupted")
    with pytest.raises(InputError, match="no complete run"):
        runs.resolve_run(None, tmp_path)
    with pytest.raises(InputError, match="no run 'nope'"):
        runs.resolve_run("nope", tmp_path)


def test_the_cli_names_the_run_it_chose_and_shows_warnings(tmp_path, capsys):
    from glaucli.cli.options import resolve_run

    folder = _run(tmp_path, "train", "cnn")
    resolve_run(None, tmp_path)
    model = tmp_path / "loose.keras"
    model.write_bytes(b"x")
    resolve_run(model, tmp_path)
    out, err = capsys.readouterr()
    assert out == ""
    assert f"Using run {folder}" in err and "Warning: no meta.json beside loose.keras" in err


def test_run_meta_holds_the_common_fields_in_one_order():
    from glaucli.contract import RESEARCH_NOTE
    from glaucli.runs import run_meta

    meta = run_meta("ensemble", "complete", backbone="mean(a, b)", image_size=64, preprocessing="per member",
                    threshold=0.25, data={"path": "/d"}, synthetic=False, versions={"glaucli": "x"},
                    started_at="2026-01-01T00:00:00+00:00", method="mean")
    assert list(meta)[:10] == ["kind", "status", "started_at", "finished_at", "backbone", "image_size",
                               "classes", "threshold", "preprocessing", "resample"]
    assert list(meta)[10:] == ["method", "data", "synthetic", "versions", "note"]
    assert meta["classes"] == ["NRG", "RG"] and meta["note"] == RESEARCH_NOTE and meta["finished_at"]
    assert run_meta("train", "running", backbone="b", image_size=1, preprocessing="p", threshold=0.5, data={},
                    synthetic=True, versions={})["finished_at"] is None


def test_run_collection_names_what_is_missing(tmp_path, sample_set):
    with pytest.raises(InputError, match="records no dataset"):
        runs.run_collection({}, tmp_path)
    with pytest.raises(InputError, match="no longer there"):
        runs.run_collection({"data": {"path": str(tmp_path / "gone")}}, tmp_path)
    assert runs.run_collection({"data": {"path": str(sample_set)}}, tmp_path).splits() == ["train", "validation",
                                                                                         "test"]
    assert runs.run_collection({}, tmp_path, sample_set).root == sample_set  # --data wins


def test_one_threshold_rule(tmp_path):
    from glaucli.errors import UsageError

    assert all(runs.is_threshold(v) for v in (0, 0.5, 1, 1.0))
    assert not any(runs.is_threshold(v) for v in (-0.1, 1.01, float("nan"), float("inf"), True, "0.5", None))
    assert runs.check_threshold(None) is None and runs.check_threshold(0.3) == 0.3
    with pytest.raises(UsageError, match=r"--threshold must be within \[0, 1\]"):
        runs.check_threshold(float("nan"))
    with pytest.raises(InputError, match="threshold"):
        runs.meta_threshold({"threshold": True}, tmp_path)
