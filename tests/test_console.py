"""console.py, the output contract: data on stdout, the rest on stderr; plain lines when
stderr is not a terminal; --quiet; NO_COLOR."""

from __future__ import annotations

import json

import pytest

from glaucli import console


@pytest.fixture(autouse=True)
def fresh_console():
    console.reset()
    yield
    console.reset()


def test_data_on_stdout_everything_else_on_stderr(capsys):
    console.emit_json({"a": 1})
    console.info("working")
    console.warn("careful")
    out, err = capsys.readouterr()
    assert json.loads(out) == {"schema": 1, "a": 1}
    assert err.splitlines() == ["working", "Warning: careful"]


def test_json_array_streams_valid_json(capsys):
    with console.JsonArray() as rows:
        rows.add({"i": 1})
        rows.add({"i": 2})
    with console.JsonArray():
        pass
    first, empty = capsys.readouterr().out.split("]\n")[:2]
    assert json.loads(first + "]") == [{"i": 1}, {"i": 2}] and json.loads(empty + "]") == []


def test_progress_is_plain_lines_off_a_terminal(capsys):
    with console.Progress("Predicting", 3, "images", every=3600) as bar:
        bar.advance()  # the first line comes at once, then at most one per `every` seconds
        bar.advance()
        bar.advance()  # ... and the finished one always
    assert capsys.readouterr().err.splitlines() == ["Predicting: 1/3 images", "Predicting: 3/3 images"]


def test_byte_progress_picks_one_unit_for_the_pair(capsys):
    with console.Progress("Downloading", 40_000, "bytes", every=3600) as bar:
        bar.update(40_000)
    line = capsys.readouterr().err.strip()
    assert line.startswith("Downloading: 40.0/40.0 kB (") and line.endswith(" kB/s)")


def test_quiet_silences_progress_and_info_but_not_warnings(capsys):
    console.configure(quiet=True)
    console.info("working")
    with console.Progress("Training", 2, "steps") as bar:
        bar.update(2)
    console.warn("careful")
    assert capsys.readouterr() == ("", "Warning: careful\n")


def test_no_color_is_honoured_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal as far as rich can tell
    console.reset()
    console.warn("careful")
    assert "\x1b[33m" in capsys.readouterr().err  # yellow
    monkeypatch.setenv("NO_COLOR", "1")
    console.reset()
    console.warn("careful")
    err = capsys.readouterr().err
    assert "\x1b[33m" not in err and "Warning: careful" in err


def test_warnings_show_markup_as_text(capsys):
    console.warn("[red]not markup[/]")
    assert capsys.readouterr().err == "Warning: [red]not markup[/]\n"
