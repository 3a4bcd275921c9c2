"""Hostile inputs and injected faults: each ends in a correct result or one line, the documented
exit code, no traceback, and nothing already on disk lost."""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from glaucli.runs import read_meta
from tests.helpers import make_sample, sample_zip

SECRET = "hunter2-kaggle-secret"


def _one_line_error(result):
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors, result.stderr
    return errors[-1]


# -- images ---------------------------------------------------------------------------

@pytest.fixture
def hostile_folder(trained, tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    good = next((trained["data"] / "test" / "RG").glob("*.jpg"))
    shutil.copy(good, folder / "good.jpg")
    (folder / "png_garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (folder / "dir_named.jpg").mkdir()  # a folder that looks like an image
    shutil.copy(good, folder / "dir_named.jpg" / "inside.jpg")
    os.mkfifo(folder / "fifo.jpg")  # unreadable without permissions tricks (CI runs as root)
    (folder / "loop").symlink_to(folder)  # a symlink loop
    Image.new("L", (4000, 4000)).save(folder / "bomb.png")
    return folder


def test_hostile_images_each_get_one_error(cli, trained, hostile_folder, monkeypatch):
    import glaucli.data.images as images

    monkeypatch.setattr(images, "MAX_PIXELS", 4_000_000)
    result = cli("predict", hostile_folder, "--model", trained["run"], "--json", code=1)
    rows = {Path(r["image"]).name: r for r in json.loads(result.stdout)}
    assert "probability" in rows["good.jpg"] and "probability" in rows["inside.jpg"]
    assert "not a regular file" in rows["fifo.jpg"]["error"]
    assert "decompression bomb" in rows["bomb.png"]["error"]
    assert "error" in rows["png_garbage.png"]
    assert "Traceback" not in result.output


# -- datasets ---------------------------------------------------------------------------

def test_missing_class_folder_and_empty_split(cli, tmp_path):
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    shutil.rmtree(data / "train" / "RG")
    assert "train/RG holds no images" in _one_line_error(cli("train", "basic-cnn", "--data", data, code=3))
    data2 = make_sample(tmp_path / "d2", per_class=4, size=32)
    for f in (data2 / "validation" / "NRG").iterdir():
        f.unlink()
    cli("train", "basic-cnn", "--data", data2, code=3)
    assert not (tmp_path / "runs").exists()


def test_unknown_class_folder_warned_and_mixed_sizes_train(cli, tmp_path):
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    (data / "train" / "SUSPECT").mkdir()
    Image.new("RGB", (50, 70), (90, 40, 20)).save(data / "train" / "RG" / "odd_size.jpg")
    result = cli("train", "basic-cnn", "--data", data, "--image-size", "32", "--epochs", "1")
    assert "train/SUSPECT" in result.stderr
    assert read_meta(Path(result.stdout.strip()))["data"]["train"] == {"NRG": 4, "RG": 5}


def test_file_disappearing_during_training_is_one_line_and_resumable(cli, tmp_path):
    from glaucli import events
    from glaucli.engine import training as engine

    data = make_sample(tmp_path / "d", per_class=40, size=32)
    victim = sorted((data / "train" / "RG").glob("*.jpg"))[0]

    def vanish(event):
        if isinstance(event, events.EpochEnded) and event.epoch == 1:
            victim.write_bytes(b"gone")

    with pytest.raises(Exception) as err:
        engine.train(engine.TrainConfig(backbone="basic-cnn", data=data, runs_dir=tmp_path / "runs", image_size=32,
                                        batch_size=4, epochs=4, augment="none", seed=0,
                                        cache="none"),  # a decoded-image cache would never read it again
                     vanish)
    assert type(err.value).__name__ == "WorkError" and str(victim) in err.value.message
    run = tmp_path / "runs" / "train" / "basic-cnn"
    assert read_meta(run)["status"] == "failed" and (run / "last.keras").is_file()
    shutil.copy(sorted((data / "train" / "RG").glob("*.jpg"))[1], victim)
    cli("train", "--resume", run, "--quiet")
    assert read_meta(run)["status"] == "complete"


# -- models and flags --------------------------------------------------------------------

def test_run_folder_without_meta_and_bad_flags(cli, trained, tmp_path):
    bare = tmp_path / "bare-run"
    bare.mkdir()
    shutil.copy(trained["run"] / "best.keras", bare / "best.keras")
    assert "meta.json" in _one_line_error(cli("evaluate", bare, code=3))
    cli("evaluate", trained["run"], "--threshold", "0.5", "--target-specificity", "0.9", code=2)
    cli("predict", trained["data"] / "test", "--model", trained["run"], "--json", "--csv", tmp_path / "x.csv", code=2)
    cli("train", "basic-cnn", "--epochs", "-1", code=2)
    cli("train", "basic-cnn", "--batch-size", "0", code=2)
    cli("evaluate", trained["run"], "--split", "dev", code=2)
    cli("evaluate", trained["run"], "--bootstrap", "-5", code=2)


# -- injected faults ----------------------------------------------------------------------

def test_disk_full_while_saving_keeps_previous_model(trained, tmp_path, monkeypatch):
    import keras

    from glaucli.errors import WorkError
    from glaucli.models.saving import save_atomic

    target = tmp_path / "run" / "best.keras"
    target.parent.mkdir()
    shutil.copy(trained["run"] / "best.keras", target)
    before = target.read_bytes()
    model = keras.saving.load_model(target, safe_mode=True)

    def full(self, path, *a, **k):
        Path(path).write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(model), "save", full)
    with pytest.raises(WorkError, match="disk full"):
        save_atomic(model, target)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["best.keras"]  # no half file left





def test_disk_full_and_ctrl_c_while_extracting_leave_previous_tree(cli, tmp_path, monkeypatch):
    import builtins

    from glaucli.data import archive as extraction
    from glaucli.data import download

    archive = sample_zip(tmp_path)
    cli("download", "--from-zip", archive, "--name", "set")
    target = tmp_path / "data" / "set"
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    real_open = builtins.open
    writes = {"n": 0}

    class Full(io.RawIOBase):
        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, mode="r", *a, **k):
        if "w" in mode and str(path).endswith(".jpg"):
            writes["n"] += 1
            return Full()
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr(extraction, "open", fake_open, raising=False)
    assert "disk full" in _one_line_error(cli("download", "--from-zip", archive, "--name", "set", "--force", code=1))
    monkeypatch.undo()
    assert writes["n"] == 1
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before

    def interrupt(event):
        raise KeyboardInterrupt  # passes through the event dispatcher, as a Ctrl-C does

    with pytest.raises(KeyboardInterrupt):
        download.install_zip(archive, tmp_path / "data", "set", force=True, on_event=interrupt)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".set.extract")]


def test_two_downloads_at_once_second_refused(cli, tmp_path):
    archive = sample_zip(tmp_path)
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / ".set.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = cli("download", "--from-zip", archive, "--name", "set", code=1)
    assert "another glaucli download" in _one_line_error(result)
    cli("download", "--from-zip", archive, "--name", "set")


def test_ctrl_c_during_download_keeps_part_and_resumes(tmp_path):
    """A real `glaucli download` process, stalled by the fake server, then SIGINT."""
    import signal
    import subprocess
    import sys
    import time

    from tests.data.fake_kaggle import Behaviour, FakeKaggle
    from tests.data.test_download import V2, zip_tree

    data = zip_tree(tmp_path, ["eyepac-light-v2-512-jpg"], per_class=6)
    behaviour = Behaviour(archives={V2: data}, stall_at=len(data) // 2, stalls=1)
    with FakeKaggle(behaviour) as server:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(HTTP_PROXY=server.proxy, http_proxy=server.proxy, KAGGLE_API_ENVIRONMENT="LOCALHOST",
                   GLAUCLI_HTTP_TIMEOUT="30", KAGGLE_KEY=SECRET, KAGGLE_USERNAME="dora", GLAUCLI_DEBUG="1")
        proc = subprocess.Popen([sys.executable, "-m", "glaucli", "download"], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        part = tmp_path / "data" / ".downloads" / "v2-v3.zip.part"
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size >= len(data) // 2) and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and SECRET not in out + err
        assert part.stat().st_size == len(data) // 2 and not (tmp_path / "data" / "v2").exists()
        env["GLAUCLI_HTTP_TIMEOUT"] = "2"
        done = subprocess.run([sys.executable, "-m", "glaucli", "download", "--json"], env=env, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert behaviour.requests[-1][2] == f"bytes={len(data) // 2}-"
