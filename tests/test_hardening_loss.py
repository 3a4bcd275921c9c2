"""Hardening, round two (issue 16), class 1: nothing the user has is lost.

Each rule has a test that failed before the fix: a name given by the user is one path
component; an output that is one of the inputs is refused (exit 2); glaucli never replaces
what it did not create."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import error_line, make_sample, sample_zip


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}



# -- export -o -----------------------------------------------------------------------------

def test_export_onto_an_existing_folder_keeps_it(cli, run_copy, tmp_path):
    mine = tmp_path / "my-models"
    mine.mkdir()
    (mine / "notes.txt").write_text("years of work")
    before = _tree(mine)
    assert "did not write" in error_line(cli("export", run_copy, "-o", mine, code=2))
    assert _tree(mine) == before


@pytest.mark.parametrize("where, fmt", [("run", "saved-model"), ("runs", "saved-model"), ("model", "tflite"),
                                        ("model", "onnx"), ("meta", "tflite")])
def test_export_onto_the_run_itself_is_refused(cli, run_copy, where, fmt):
    """(A file format given a folder writes inside it: RUN/model.tflite loses nothing.)"""
    target = {"run": run_copy, "runs": run_copy.parent.parent, "model": run_copy / "best.keras",
              "meta": run_copy / "meta.json"}[where]
    before = _tree(run_copy)
    result = cli("export", run_copy, "-f", fmt, "-o", target, "--force", code=None)
    assert result.exit_code in (2, 3) and _tree(run_copy) == before
    if result.exit_code == 2:
        assert "one of the inputs" in error_line(result)


def test_export_file_formats_replace_only_previous_exports(cli, run_copy, tmp_path):
    from glaucli.engine.export import output_path
    from glaucli.errors import UsageError
    from glaucli.runs import resolve_run
    from glaucli.safety import record_written

    photo = tmp_path / "eye.jpg"
    photo.write_bytes(b"\xff\xd8 a photograph")
    result = cli("export", run_copy, "-f", "tflite", "-o", photo, code=2)
    assert "refusing to replace" in error_line(result) and "--force" in result.stderr
    assert photo.read_bytes() == b"\xff\xd8 a photograph"
    sidecar = tmp_path / "model.meta.json"
    sidecar.write_text("my own notes")  # the .meta.json an export writes beside model.tflite
    cli("export", run_copy, "-f", "tflite", "-o", tmp_path / "model.tflite", code=2)
    assert sidecar.read_text() == "my own notes"

    run = resolve_run(run_copy, tmp_path)
    (tmp_path / "old.tflite").write_bytes(b"a previous export")
    record_written(tmp_path / "old.tflite")  # its provenance record: a suffix alone proves nothing
    assert output_path(run, "tflite", tmp_path / "old.tflite") == tmp_path / "old.tflite"
    folder = tmp_path / "exports"
    folder.mkdir()
    assert output_path(run, "onnx", folder) == folder / "model.onnx"  # a folder: inside it
    previous = tmp_path / "previous_sm"
    previous.mkdir()
    (previous / "saved_model.pb").write_bytes(b"pb")
    (previous / "meta.json").write_text(json.dumps({"schema": 1, "run": "x", "format": "saved-model"}))
    with pytest.raises(UsageError):  # looks like an export, but nothing proves glaucli wrote it
        output_path(run, "saved-model", previous)
    record_written(previous / "meta.json")
    assert output_path(run, "saved-model", previous) == previous


# -- predict --csv -------------------------------------------------------------------------

def test_predict_csv_onto_an_input_image_keeps_the_photo(cli, trained, tmp_path):
    folder = tmp_path / "eyes"
    folder.mkdir()
    for src in sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[:2]:
        shutil.copy(src, folder / src.name)
    photo = sorted(folder.iterdir())[0]
    before = photo.read_bytes()
    for inputs in ([photo], [folder]):
        result = cli("predict", *inputs, "--model", trained["run"], "--csv", photo, code=2)
        assert "one of the inputs" in error_line(result)
        assert photo.read_bytes() == before


def test_predict_csv_replaces_only_its_own_csv(cli, trained, tmp_path):
    image = sorted((trained["data"] / "test" / "NRG").glob("*.jpg"))[0]
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes")
    assert "--csv" in error_line(cli("predict", image, "--model", trained["run"], "--csv", notes, code=2))
    assert notes.read_text() == "# my notes"
    cli("predict", image, "--model", trained["run"], "--csv", tmp_path, code=2)  # a folder
    old = tmp_path / "results.csv"
    old.write_text("image,probability\nold,0.1\n")  # a user's own CSV: kept
    cli("predict", image, "--model", trained["run"], "--csv", old, code=2)
    assert old.read_text() == "image,probability\nold,0.1\n"
    ours = tmp_path / "ours.csv"
    cli("predict", image, "--model", trained["run"], "--csv", ours)
    cli("predict", image, "--model", trained["run"], "--csv", ours)  # glaucli's own: replaced
    assert str(image) in ours.read_text()


# -- download --name / train --name ---------------------------------------------------------




@pytest.mark.parametrize("name", [".", "..", "/", "", "a/b", "../escape", "..\\x", "x" * 300])
def test_download_name_is_one_folder_name(cli, tmp_path, name):
    archive = sample_zip(tmp_path)
    cli("download", "--from-zip", archive, "--name", "other")
    data = tmp_path / "data"
    before = _tree(data)
    assert "--name" in error_line(cli("download", "--from-zip", archive, "--name", name, "--force", code=2))
    assert _tree(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "home", "set.zip", "zsrc"]


def test_download_never_replaces_a_folder_it_did_not_install(cli, tmp_path):
    archive = sample_zip(tmp_path)
    mine = tmp_path / "data" / "set"
    mine.mkdir(parents=True)
    (mine / "my-photos.txt").write_text("mine")
    for extra in ([], ["--force"]):
        assert "did not write" in error_line(cli("download", "--from-zip", archive, *extra, code=2))
        assert _tree(mine) == {"my-photos.txt": b"mine"}
    (tmp_path / "data" / "afile").write_text("x")
    cli("download", "--from-zip", archive, "--name", "afile", code=2)
    assert (tmp_path / "data" / "afile").read_text() == "x"
    cli("download", "owner/..", code=2)


@pytest.mark.parametrize("name", ["..", ".", "../../outside", "a/b", "/tmp/abs", ""])
def test_train_and_ensemble_names_are_one_folder_name(cli, tmp_path, name):
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    assert "--name" in error_line(cli("train", "basic-cnn", "--data", data, "--name", name, "--epochs", "1", code=2))
    assert "--name" in error_line(cli("ensemble", "mean", "a", "b", "--name", name, code=2))
    assert not (tmp_path / "runs").exists() and not (tmp_path / "outside").exists()


def test_report_and_split_outputs_are_never_inputs(cli, run_copy, tmp_path):
    before = _tree(run_copy)
    assert "--output" in error_line(cli("report", run_copy, "-o", run_copy / "best.keras", code=2))
    assert "--output" in error_line(cli("report", run_copy, "-o", run_copy / "meta.json", code=2))
    assert _tree(run_copy) == before
    data = make_sample(tmp_path / "flat", per_class=4, size=32)
    photo = sorted((data / "train" / "RG").glob("*.jpg"))[0]
    original = photo.read_bytes()
    assert "DEST" in error_line(cli("split", data, photo, code=2))
    assert photo.read_bytes() == original
