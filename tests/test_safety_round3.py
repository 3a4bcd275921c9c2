"""Nothing is lost, round three (issue 29): every file a command reads is an input no output
may name; a file is replaced only when glaucli can prove it wrote it (safety.py's provenance
record) or with --force; each external collection evaluates into its own folder; models load
from .keras zips only; an unusable runs/data folder is exit 3. Each test failed before its fix."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import error_line


def _images_with_labels(trained, dest: Path, per_class: int = 4) -> Path:
    """A flat folder of the shared run's test photos plus labels.csv (`image,label`)."""
    dest.mkdir(parents=True)
    rows = []
    for cls in ("NRG", "RG"):
        for src in sorted((trained["data"] / "test" / cls).glob("*.jpg"))[:per_class]:
            shutil.copy(src, dest / src.name)
            rows.append([src.name, cls])
    with open(dest / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "label"])
        writer.writerows(rows)
    return dest


# -- 1. every file a command reads is an input ----------------------------------------------

def test_predict_csv_never_replaces_the_labels_file(cli, trained, tmp_path):
    flat = _images_with_labels(trained, tmp_path / "a")
    labels = flat / "labels.csv"
    before = labels.read_bytes()
    result = cli("predict", "--data", flat, "--labels", labels, "--model", trained["run"], "--csv", labels, code=2)
    assert "one of the inputs" in error_line(result)
    assert labels.read_bytes() == before


def test_predict_csv_never_replaces_the_split_manifest(cli, trained, tmp_path):
    manifest = tmp_path / "split.csv"
    cli("split", trained["data"], manifest)  # glaucli wrote it, and still it is an input here
    before = manifest.read_bytes()
    result = cli("predict", "--data", manifest, "--split", "test", "--model", trained["run"], "--csv", manifest,
                 code=2)
    assert "one of the inputs" in error_line(result)
    assert manifest.read_bytes() == before


def test_predict_csv_never_replaces_the_model_or_its_meta(cli, trained, run_copy):
    image = sorted((trained["data"] / "test" / "NRG").glob("*.jpg"))[0]
    for target in (run_copy / "meta.json", run_copy / "best.keras"):
        before = target.read_bytes()
        cli("predict", image, "--model", run_copy, "--csv", target, code=2)
        assert target.read_bytes() == before


# -- 2. export replaces only what glaucli provably wrote --------------------------------------

@pytest.mark.parametrize("fmt, name", [("onnx", "model.onnx"), ("tflite", "model.tflite")])
def test_export_keeps_a_users_own_model_file(cli, run_copy, tmp_path, fmt, name):
    mine = tmp_path / "mine" / name
    mine.parent.mkdir()
    mine.write_bytes(b"my own model, trained elsewhere")
    result = cli("export", run_copy, "-f", fmt, "-o", mine, code=2)
    assert "not a file glaucli wrote" in error_line(result) and "--force" in result.stderr
    assert mine.read_bytes() == b"my own model, trained elsewhere"


def test_export_replaces_a_previous_export_it_can_prove(run_copy, tmp_path):
    from glaucli.engine.export import output_path
    from glaucli.errors import UsageError
    from glaucli.runs import resolve_run
    from glaucli.safety import record_written

    run = resolve_run(run_copy, tmp_path)
    previous = tmp_path / "model.onnx"
    previous.write_bytes(b"an export glaucli wrote")
    record_written(previous)
    assert output_path(run, "onnx", previous) == previous
    previous.write_bytes(b"edited by the user since")  # the record no longer proves it
    with pytest.raises(UsageError):
        output_path(run, "onnx", previous)
    assert output_path(run, "onnx", previous, force=True) == previous


# -- 3. evaluate --output and predict --explain ---------------------------------------------

def test_evaluate_output_keeps_the_users_files(cli, trained, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "metrics.json").write_text('{"mine": true}')
    (out / "predictions.csv").write_text("my,own\n")
    result = cli("evaluate", trained["run"], "--bootstrap", "0", "--output", out, code=2)
    assert "metrics.json" in error_line(result) and "glaucli wrote" in error_line(result)
    assert (out / "metrics.json").read_text() == '{"mine": true}'
    assert (out / "predictions.csv").read_text() == "my,own\n"
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "predictions.csv"]  # refused before work


def test_evaluate_output_replaces_its_own_previous_files(cli, trained, tmp_path):
    out = tmp_path / "results"
    cli("evaluate", trained["run"], "--bootstrap", "0", "--output", out)
    cli("evaluate", trained["run"], "--bootstrap", "0", "--output", out)  # provably glaucli's: replaced
    assert json.loads((out / "metrics.json").read_text())["schema"] == 1
    (out / "roc.png").write_bytes(b"my own figure")  # edited since: no longer glaucli's
    cli("evaluate", trained["run"], "--bootstrap", "0", "--output", out, code=2)
    assert (out / "roc.png").read_bytes() == b"my own figure"


def test_predict_explain_keeps_the_users_pngs(cli, trained, tmp_path):
    image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    out = tmp_path / "cams"
    out.mkdir()
    mine = out / f"{image.stem}_gradcam.png"
    mine.write_bytes(b"my own annotated figure")
    result = cli("predict", image, "--model", trained["run"], "--explain", out, code=2)
    assert "glaucli wrote" in error_line(result)
    assert mine.read_bytes() == b"my own annotated figure"
    assert [p.name for p in out.iterdir()] == [mine.name]
    fresh = tmp_path / "fresh"
    cli("predict", image, "--model", trained["run"], "--explain", fresh)
    cli("predict", image, "--model", trained["run"], "--explain", fresh)  # its own PNGs: replaced
    assert (fresh / f"{image.stem}_gradcam.png").is_file()


def test_the_explain_engine_refuses_too(trained, tmp_path):
    """The API path (a stream of paths, no pre-check) refuses at the file, not over it."""
    from glaucli.engine.explain import explain, explainer_for
    from glaucli.engine.scoring import load_model
    from glaucli.errors import UsageError
    from glaucli.runs import resolve_run

    run = resolve_run(trained["run"], trained["runs"])
    image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    (tmp_path / "eye_heatmap.png").write_bytes(b"mine")
    with pytest.raises(UsageError):
        explain(explainer_for(load_model(run.model_path), run.meta), image, tmp_path, "eye")
    assert (tmp_path / "eye_heatmap.png").read_bytes() == b"mine"


# -- 4. one folder per external collection ----------------------------------------------------

def test_two_collections_with_same_named_labels_keep_both_evaluations(cli, trained, run_copy, tmp_path):
    a = _images_with_labels(trained, tmp_path / "a", per_class=3)
    b = _images_with_labels(trained, tmp_path / "b", per_class=5)
    first = cli.json("evaluate", run_copy, "--data", a, "--labels", a / "labels.csv", "--bootstrap", "0")
    second = cli.json("evaluate", run_copy, "--data", b, "--labels", b / "labels.csv", "--bootstrap", "0")
    assert first["external"] and second["external"]
    folders = sorted((run_copy / "eval").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("labels-") for f in folders)
    totals = sorted(sum(json.loads((f / "metrics.json").read_text())["n"].values()) for f in folders)
    assert totals == [6, 10]


# -- 5. models load from .keras zips only -------------------------------------------------------

def test_h5_and_savedmodel_folders_are_refused(cli, trained, tmp_path):
    import zipfile

    from glaucli.engine.scoring import load_model
    from glaucli.errors import InputError

    image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    result = cli("predict", image, "--model", h5, code=3)
    assert ".keras" in error_line(result) and "model.save" in result.stderr
    zipped_h5 = tmp_path / "zipped.h5"  # a zip with another suffix is refused by name, not content
    shutil.copy(trained["run"] / "best.keras", zipped_h5)
    assert zipfile.is_zipfile(zipped_h5)
    with pytest.raises(InputError, match="not a .keras model file"):
        load_model(zipped_h5)
    saved = tmp_path / "saved_model_dir"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"pb")
    with pytest.raises(InputError, match="is a folder"):
        load_model(saved)


def test_the_keras_floor_has_no_known_safe_mode_bypass():
    import re

    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()  # no tomllib on Python 3.10
    floor = re.search(r'"keras>=(\d+)\.(\d+)', text)
    assert floor and (int(floor[1]), int(floor[2])) >= (3, 14)


# -- 6. an unusable runs or data folder is exit 3 ----------------------------------------------

def test_a_runs_or_data_dir_that_is_a_file_is_exit_3(cli, tmp_path, monkeypatch):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    assert "is a file" in error_line(cli("runs", "--runs-dir", a_file, code=3))
    monkeypatch.setenv("GLAUCLI_RUNS_DIR", str(a_file))
    cli("runs", code=3)
    monkeypatch.setenv("GLAUCLI_DATA_DIR", str(a_file))
    assert "GLAUCLI_DATA_DIR" in error_line(cli("data", code=3))
