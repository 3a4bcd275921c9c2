"""Hardening, round two (issue 16), classes 2 and 4: what glaucli prints.

Every printed line goes through the secret scrubber; every user string is shown as text, never
read as rich markup; a run is `failed`, never `running`, after any error; --json is valid JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glaucli.runs import read_meta
from tests.helpers import make_sample

SECRET = "k3y-0f-d0ra-1234567890"


# -- secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["env", "file"])
def test_every_console_channel_is_scrubbed(capsys, monkeypatch, how):
    from glaucli import console, secrets

    if how == "env":
        monkeypatch.setenv("KAGGLE_KEY", SECRET)
    else:
        monkeypatch.setattr(secrets, "_known", {SECRET})
    console.reset()
    console.info(f"info {SECRET}")
    console.warn(f"the download failed (url: /s?k={SECRET})")
    with console.Progress(f"Downloading {SECRET}", 2, "images", every=0) as bar:
        bar.advance(status=SECRET)
        bar.advance(status=SECRET)
    with console.status(f"status {SECRET}"):
        pass
    console.emit(f"table line {SECRET}")
    console.emit_line(f"line {SECRET}")
    console.emit_json({"url": f"/s?k={SECRET}"})
    with console.JsonArray() as rows:
        rows.add({"url": SECRET})
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert err.count("***") >= 4 and out.count("***") >= 4


def test_retry_warning_with_the_key_in_a_redirect_url_is_scrubbed(cli, monkeypatch):
    """The server put the key into the signed URL; the retry warning quoted the URL."""
    from glaucli.data import kaggle, neterrors

    class LeakyApi:
        def __init__(self, found, on_event):
            pass

        def version(self, ref):
            return 1

        def signed_url(self, ref, version):
            return f"http://127.0.0.1:9/s?k={SECRET}"  # nothing listens there

        def offline_hint(self, ref, kept=0):
            return "check the network"

    class QuotingFailure:  # a library error that quotes the URL it failed on
        def __init__(self, url):
            self.url = url

        def __str__(self):
            return f"connection reset at {self.url}"

        def worth_retrying(self, attempt):
            return True

    monkeypatch.setattr(neterrors, "describe", lambda exc, url=None: QuotingFailure(url))

    monkeypatch.setenv("KAGGLE_USERNAME", "dora")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    monkeypatch.setenv("GLAUCLI_RETRY_BACKOFF", "0")
    monkeypatch.setattr(kaggle, "_Api", LeakyApi)
    monkeypatch.setattr(kaggle, "MAX_ATTEMPTS", 2)
    result = cli("download", code=1)
    assert "Warning:" in result.stderr and "/s?k=***" in result.stderr
    assert SECRET not in result.output


def test_library_warnings_and_log_records_are_scrubbed(capsys, monkeypatch):
    import logging
    import warnings

    from glaucli import console

    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(logging, "lastResort", logging.lastResort)
    console.reset()
    warnings.warn(f"Unverified HTTPS request to /s?k={SECRET}", stacklevel=1)
    # A library's log record with no handler configured goes to logging.lastResort:
    logging.lastResort.handle(logging.makeLogRecord({"msg": f"redirected to /s?k={SECRET}", "levelno": 30}))
    err = capsys.readouterr().err
    assert SECRET not in err and err.count("***") == 2


# -- markup -----------------------------------------------------------------------------------

MARKUP = "a[/red][bold]x"  # a folder "a[" holding "red][bold]x": the path reads as a closing tag


def test_paths_with_markup_are_text(cli, trained, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # the table keeps each path on one line
    folder = tmp_path / MARKUP
    folder.mkdir(parents=True)
    shutil.copy(sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0], folder / "eye[bold].jpg")
    result = cli("predict", folder, "--model", trained["run"])
    assert f"{MARKUP}/eye[bold].jpg" in result.stdout.replace("\n", "")
    (folder / "bad[red].png").write_bytes(b"not a png")
    result = cli("predict", folder, "--model", trained["run"], code=1)
    assert "bad[red].png" in result.stderr
    assert "[/red]missing" in cli("predict", tmp_path / "[/red]missing.jpg", code=3).stderr


def test_data_train_and_runs_show_markup_as_text(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")
    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / MARKUP, per_class=4, size=32)
    assert MARKUP in "".join(cli("data", data).stdout.split())  # the title wraps at the table's width
    result = cli("train", "basic-cnn", "--data", data, "--image-size", "32", "--epochs", "1",
                 "--name", "[red]run[bold]", "--weights", "none")
    run = Path(result.stdout.strip())
    assert run.name == "[red]run[bold]" and read_meta(run)["status"] == "complete"
    assert MARKUP in "".join(result.stderr.split())
    assert "[red]run[bold]" in cli("runs").stdout


@pytest.mark.parametrize("when", ["start", "threshold"])
def test_a_failing_renderer_never_fails_the_run(tmp_path, when, monkeypatch, caplog):
    """A display bug is logged once and the training carries on (issue 17: it used to mark
    the run failed, or leave it `running` forever)."""
    from glaucli import events
    from glaucli.engine import training as engine

    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / "d", per_class=4, size=32)
    seen = []

    def renderer(event):
        if (isinstance(event, events.RunStarted) and when == "start"
                or isinstance(event, events.Message) and "threshold" in event.text):
            raise RuntimeError("a renderer failed")

    result = engine.train(engine.TrainConfig(backbone="basic-cnn", data=data, runs_dir=tmp_path / "runs",
                                             image_size=32, epochs=2, weights="none", seed=0),
                          [renderer, seen.append])
    assert read_meta(result.run)["status"] == "complete"
    assert sum(isinstance(e, events.EpochEnded) for e in seen) == 2  # the other listener saw it all
    failures = [r for r in caplog.records if r.name == "glaucli.events" and r.levelname == "WARNING"]
    assert len(failures) == 1 and "a renderer failed" in failures[0].getMessage()


def test_an_interrupt_in_the_middle_of_an_error_leaves_the_run_failed_not_running(tmp_path, monkeypatch):
    from glaucli import events
    from glaucli.engine import training as engine

    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / "d", per_class=4, size=32)

    def fatal(event):  # a BaseException is not a display bug: it passes through, as Ctrl-C does
        if isinstance(event, events.RunStarted):
            raise SystemExit(9)

    with pytest.raises(SystemExit):
        engine.train(engine.TrainConfig(backbone="basic-cnn", data=data, runs_dir=tmp_path / "runs",
                                        image_size=32, epochs=1, weights="none", seed=0), fatal)
    meta = read_meta(tmp_path / "runs" / "train" / "basic-cnn")
    assert meta["status"] == "failed" and "--resume" in meta["resume"]


# -- JSON -------------------------------------------------------------------------------------

def test_json_output_is_strict_json_even_with_nan(capsys):
    from glaucli import console

    console.emit_json({"metrics": {"auc": float("nan"), "f1": float("inf"), "ok": 0.5}})
    with console.JsonArray() as rows:
        rows.add({"probability": float("nan")})
    out = capsys.readouterr().out
    assert "NaN" not in out and "Infinity" not in out
    first, second = out.split("\n[")
    assert json.loads(first)["metrics"] == {"auc": None, "f1": None, "ok": 0.5}
    assert json.loads("[" + second) == [{"probability": None}]
