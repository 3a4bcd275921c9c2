"""The command-line contract: entry point, fast start, exit codes, JSON schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import glaucli

HEAVY = ("tensorflow", "keras", "sklearn", "matplotlib", "PIL", "kaggle", "kagglesdk", "kagglehub")


def test_help_imports_no_heavy_package():
    code = ("import sys\nfrom glaucli.cli.app import app\n"
            "for args in (['--help'], ['sample', '--help'], ['data', '--help'], ['--version']):\n"
            "    try:\n        app(args, prog_name='glaucli')\n    except SystemExit:\n        pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_help_is_light():
    """Every command's --help (ensemble's subcommands included) loads no heavy package and
    shows that command's own usage line."""
    code = ("import sys, typer.main\nfrom glaucli.cli.app import app\n"
            "group = typer.main.get_command(app)\n"
            "paths = [[n] for n in group.commands] + [['ensemble', n] for n in "
            "getattr(group.commands['ensemble'], 'commands', {})]\n"
            "for path in paths:\n"
            "    try:\n        app([*path, '--help'], prog_name='glaucli')\n    except SystemExit as exc:\n"
            "        assert exc.code == 0, (path, exc.code)\n"
            "print('HEAVY', [m for m in %r if m in sys.modules])\n"
            "print('COUNT', len(paths))\n") % (HEAVY,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "COLUMNS": "200"}).stdout
    lines = out.splitlines()
    assert lines[-2] == "HEAVY []"
    count = int(lines[-1].split()[1])
    usages = [line for line in lines if line.strip().startswith("Usage: glaucli ")]
    assert count >= 18 and len(usages) == count
    for name in ("train", "predict", "evaluate", "download", "ensemble mean"):
        assert any(u.strip().startswith(f"Usage: glaucli {name} ") for u in usages), name


def test_installed_entry_point_and_module():
    script = str(Path(sys.executable).parent / "glaucli")
    for cmd in ([script, "--version"], [sys.executable, "-m", "glaucli", "--version"]):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"glaucli {glaucli.__version__}"


def test_no_args_shows_help(cli):
    result = cli(code=2)  # a command is required: the help, with the usage-error code
    assert "Usage: glaucli [OPTIONS] COMMAND" in result.output
    for name in ("demo", "train", "predict", "evaluate"):
        assert f" {name} " in result.output


def test_usage_error_exits_2(cli):
    cli("sample", "x", "--size", "3", code=2)
    cli("no-such-command", code=2)


def test_missing_input_exits_3_with_one_line(cli, tmp_path):
    result = cli("data", tmp_path / "nope", code=3)
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_json_and_quiet_after_subcommand(cli, sample_set):
    result = cli("data", sample_set, "--json", "--quiet")
    assert json.loads(result.stdout)["schema"] == 1
    assert result.stderr == ""


def test_unexpected_error_has_no_traceback_unless_debug(cli, sample_set, monkeypatch):
    from glaucli.data import layout

    def boom(folder):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(layout, "list_images", boom)
    result = cli("data", sample_set, code=1)
    assert "Error: unexpected RuntimeError: kaboom" in result.stderr
    assert "Traceback" not in result.stderr
    monkeypatch.setenv("GLAUCLI_DEBUG", "1")
    assert "Traceback" in cli("data", sample_set, code=1).stderr


def test_secrets_never_printed(cli, monkeypatch, tmp_path):
    from glaucli.data import layout
    from glaucli.errors import InputError

    monkeypatch.setenv("KAGGLE_KEY", "sekrit-value-123")

    def leak(*a, **k):
        raise InputError("bad key sekrit-value-123")

    monkeypatch.setattr(layout, "find_tree", leak)
    result = cli("data", tmp_path, code=3)
    assert "sekrit-value-123" not in result.output
    assert "***" in result.stderr


def test_info_json(cli, tmp_path, monkeypatch):
    kaggle_dir = tmp_path / "home" / ".kaggle"
    kaggle_dir.mkdir()
    (kaggle_dir / "kaggle.json").write_text('{"username": "u", "key": "zzsecretzz"}')
    os.chmod(kaggle_dir / "kaggle.json", 0o644)
    result = cli("info", "--json")
    info = json.loads(result.stdout)
    assert info["schema"] == 1 and info["tensorflow"] and info["keras"].startswith("3.")
    assert info["kaggle_credentials"].endswith("kaggle.json")
    assert "zzsecretzz" not in result.output
    assert "readable by other users" in result.stderr
