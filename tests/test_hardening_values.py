"""Hardening, round two (issue 16), classes 5 and 6: files glaucli wrote earlier, now corrupt
(one line, exit 3, or recovered from where that is safe), and values checked before any work
starts (exit 2, naming the flag or the environment variable)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.data.test_download import kaggle, v1_zip, v2_zip  # noqa: F401 - fixtures
from tests.helpers import error_line, make_sample

# -- corrupt meta.json / state / manifest -----------------------------------------------------

@pytest.fixture
def runs_with_a_bad_one(trained, tmp_path):
    """A runs folder holding a good copy of the shared run and a run whose meta.json we spoil."""
    runs = tmp_path / "runs"
    good = runs / "train" / "good"
    shutil.copytree(trained["run"], good, ignore=shutil.ignore_patterns("eval", "export"))
    bad = runs / "train" / "bad"
    shutil.copytree(good, bad)
    return runs, good, bad


def _spoil(run: Path, **changes) -> None:
    meta = json.loads((run / "meta.json").read_text())
    meta.update(changes)
    (run / "meta.json").write_text(json.dumps(meta))  # json.dumps writes NaN as NaN


@pytest.mark.parametrize("threshold", ["abc", float("nan"), 7, -0.1, None, [0.5], True])
def test_bad_threshold_is_exit_3(cli, trained, runs_with_a_bad_one, threshold):
    runs, good, bad = runs_with_a_bad_one
    _spoil(bad, threshold=threshold)
    image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    assert "threshold" in error_line(cli("predict", image, "--model", bad, code=3))
    cli("predict", image, "--model", bad, "--threshold", "0.5")  # an explicit threshold still works


@pytest.mark.parametrize("data", [5, {"path": 5}, {"path": ["x"]}, "a string"])
def test_bad_dataset_path_is_exit_3(cli, runs_with_a_bad_one, data):
    runs, good, bad = runs_with_a_bad_one
    _spoil(bad, data=data)
    result = cli("evaluate", bad, "--bootstrap", "0", code=3)
    assert "meta.json" in error_line(result) or "records no dataset" in error_line(result)


def test_one_bad_run_never_breaks_runs_or_latest(cli, trained, runs_with_a_bad_one, monkeypatch):
    runs, good, bad = runs_with_a_bad_one
    monkeypatch.setenv("GLAUCLI_RUNS_DIR", str(runs))
    _spoil(good, finished_at="2999-01-01T00:00:00+00:00")
    for corrupt in ("[1, 2]", '{"status": "complete", "finished_at": 5, "metrics": [1], "kind": 3}',
                    "garbage", '{"status": "complete", "metrics": {"validation": {"auc": "x"}}}'):
        (bad / "meta.json").write_text(corrupt)
        listed = cli.json("runs")["runs"]
        assert good.name in [r["name"] for r in listed]
        cli("runs")  # the table too
        image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
        assert "Using run " + str(good) in cli("predict", image).stderr
    (bad / "meta.json").write_text("[1, 2]")
    assert "meta.json" in error_line(cli("evaluate", bad, code=3))


@pytest.mark.parametrize("args", ["[1]", '{"batch_size": "abc"}', '{"lr": "fast"}', '{"members": 3}'])
def test_resume_with_corrupt_args_is_exit_3(cli, runs_with_a_bad_one, args):
    runs, good, bad = runs_with_a_bad_one
    meta = json.loads((bad / "meta.json").read_text())
    spoiled = json.loads(args)
    meta.update(status="interrupted",
                args=spoiled if isinstance(spoiled, list) else {**meta["args"], **spoiled})
    (bad / "meta.json").write_text(json.dumps(meta))
    assert "corrupt" in error_line(cli("train", "--resume", bad, code=3))


@pytest.mark.parametrize("manifest", ["[]", "{}", '{"counts": 3}', "garbage"])
def test_corrupt_manifest(cli, tmp_path, manifest):
    data = tmp_path / "data"
    make_sample(data / "one", per_class=3, size=32)
    from glaucli.data.layout import write_manifest

    write_manifest(data / "one", {"kind": "sample"}, {"train": {"NRG": 3, "RG": 3}})
    broken = make_sample(data / "two", per_class=3, size=32)
    (broken / "manifest.json").write_text(manifest)
    assert cli.json("data")["path"] == str(data / "one")  # the latest usable one
    src = make_sample(tmp_path / "zsrc", per_class=3, size=32)
    archive = tmp_path / "two.zip"
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.rglob("*.jpg")):
            zf.write(f, "x/" + f.relative_to(src).as_posix())
    info = cli.json("download", "--from-zip", archive)  # glaucli's own (broken) install: replaced
    assert info["already_complete"] is False and json.loads((broken / "manifest.json").read_text())["counts"]


@pytest.mark.parametrize("state", ["not json{", "[1]", '{"size": "big"}', '{"size": 10}', '{"etag": 5}'])
def test_garbage_download_state_restarts_the_download(cli, kaggle, v2_zip, tmp_path, state):  # noqa: F811
    part = tmp_path / "data" / ".downloads" / "v2-v3.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 2000)  # larger than '{"size": 10}' says: cannot be resumed
    part.with_name(part.name + ".json").write_text(state)
    info = cli.json("download")
    assert info["counts"]["validation"] == {"NRG": 2, "RG": 2}
    assert info["source"]["archive"]["size"] == len(v2_zip)
    assert not part.exists()


def test_a_part_the_server_cannot_resume_restarts(cli, kaggle, v2_zip, tmp_path):  # noqa: F811
    """416 for a part that does not fit the object: start over, not 'failed, re-run' forever."""
    import hashlib

    part = tmp_path / "data" / ".downloads" / "v2-v3.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * (len(v2_zip) + 10))
    etag = '"' + hashlib.md5(v2_zip).hexdigest() + '"'
    part.with_name(part.name + ".json").write_text(json.dumps({"etag": etag, "size": None, "md5": None}))
    assert cli.json("download")["source"]["archive"]["size"] == len(v2_zip)


# -- values checked before work ------------------------------------------------------------------

@pytest.mark.parametrize("flags", [["--lr", "nan"], ["--lr", "inf"], ["--lr", "-1"], ["--finetune-lr", "nan"],
                                   ["--finetune-lr", "-inf"], ["--unfreeze", "nan"], ["--unfreeze", "inf"],
                                   ["--seed", "-1"], ["--seed", str(2**40)], ["--image-size", "100000"]])
def test_train_values_refused_before_work(cli, tmp_path, flags):
    result = cli("train", "basic-cnn", "--data", tmp_path / "nothing-here", *flags, code=2)
    assert flags[0] in error_line(result) or "learning rate" in error_line(result)


@pytest.mark.parametrize("gate", ["auc=nan", "auc=inf", "auc=-inf", "accuracy=1e999"])
def test_fail_under_values_refused(cli, gate):
    assert "--fail-under" in error_line(cli("evaluate", "no-such-run", "--fail-under", gate, code=2))


@pytest.mark.parametrize("variable, value", [("GLAUCLI_HTTP_TIMEOUT", "abc"), ("GLAUCLI_HTTP_TIMEOUT", "-1"),
                                             ("GLAUCLI_HTTP_TIMEOUT", "0"), ("GLAUCLI_HTTP_TIMEOUT", "nan"),
                                             ("GLAUCLI_RETRY_BACKOFF", "abc"), ("GLAUCLI_RETRY_BACKOFF", "-1"),
                                             ("GLAUCLI_RETRY_BACKOFF", "inf")])
def test_numeric_environment_variables(cli, kaggle, monkeypatch, variable, value):  # noqa: F811
    monkeypatch.setenv(variable, value)
    assert variable in error_line(cli("download", code=2))
    assert not kaggle.b.requests  # refused before any request


@pytest.mark.parametrize("variable, command", [("GLAUCLI_DATA_DIR", "data"), ("GLAUCLI_RUNS_DIR", "runs"),
                                               ("GLAUCLI_DATA_DIR", "download")])
def test_folder_variables_pointing_at_a_file(cli, tmp_path, monkeypatch, variable, command):
    """A folder that is a file is an unusable input path: exit 3, README's rule (issue 29)."""
    afile = tmp_path / "a-file"
    afile.write_text("x")
    monkeypatch.setenv(variable, str(afile))
    assert variable in error_line(cli(command, code=3))
    assert afile.read_text() == "x"


def test_other_values_refused_before_work(cli, trained, tmp_path):
    afile = tmp_path / "metrics-here"
    afile.write_text("mine")
    assert "--output" in error_line(cli("evaluate", trained["run"], "--output", afile, "--bootstrap", "0", code=2))
    assert afile.read_text() == "mine"
    cli("sample", tmp_path / "s", "--seed", "-1", code=2)
    cli("predict", "x.jpg", "--threshold", "nan", code=2)
    cli("evaluate", trained["run"], "--target-specificity", "nan", code=2)


@pytest.mark.parametrize("state", ['{"epoch": "three"}', '{"phase_index": -1}', '{"stop": [1]}', "[]"])
def test_garbage_training_state_is_unreadable_not_a_crash(tmp_path, state):
    from glaucli.engine.training.state import TrainState

    (tmp_path / "state.json").write_text(state)
    assert TrainState.load(tmp_path) is None  # resume then starts the run over in its own folder


def test_garbage_tf_config_and_columns(cli, tmp_path, monkeypatch):
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    monkeypatch.setenv("TF_CONFIG", '["not", "an", "object"]')
    assert "TF_CONFIG" in error_line(cli("train", "basic-cnn", "--data", data, "--epochs", "1", code=2))
    monkeypatch.delenv("TF_CONFIG")
    monkeypatch.setenv("COLUMNS", "wide")
    cli("runs")


def test_stack_on_a_too_small_validation_split(cli, trained, tmp_path):
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    for f in sorted((data / "validation" / "NRG").iterdir())[1:]:
        f.unlink()
    result = cli("ensemble", "stack", trained["run"], trained["run"], "--data", data, code=3)
    assert "2 images per class" in error_line(result)
    assert not (tmp_path / "runs" / "ensemble").exists()
