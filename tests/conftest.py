"""Shared fixtures: isolated environment, tiny generated datasets, the CLI runner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glaucli.cli.app import app
from tests.helpers import make_sample

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MEMORY_CAP_GB = float(os.environ.get("GLAUCLI_TEST_MEMORY_CAP_GB", "16"))


def _cap_address_space() -> None:
    """A memory bomb fails its test, not the machine: the suite runs under RLIMIT_AS, and every
    child process (`glaucli` subprocesses included) inherits the cap. Not with a CUDA device,
    which reserves far more address space than memory; GLAUCLI_TEST_MEMORY_CAP_GB=0 disables it."""
    import resource

    if MEMORY_CAP_GB <= 0 or os.path.exists("/dev/nvidiactl"):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = int(MEMORY_CAP_GB * 2**30)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


_cap_address_space()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No real credentials, proxies or user folders leak into a test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith("KAGGLE_") or name.lower() in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLAUCLI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GLAUCLI_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("GLAUCLI_DEBUG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield


class Cli:
    """Runs glaucli in-process; stdout and stderr kept apart as a shell sees them."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0, **kwargs):
        result = self.runner.invoke(app, [str(a) for a in args], **kwargs)
        if code is not None and result.exit_code != code:
            raise AssertionError(
                f"glaucli {' '.join(map(str, args))}: exit {result.exit_code}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}")
        return result

    def json(self, *args: str, code: int | None = 0):
        result = self(*args, "--json", code=code)
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def sample_set(tmp_path) -> Path:
    return make_sample(tmp_path / "sample")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One tiny basic-cnn run shared by the evaluate/predict/hostile-input tests."""
    base = tmp_path_factory.mktemp("trained")
    data = make_sample(base / "data" / "mini", per_class=60, size=72, seed=3)
    runs = base / "runs"
    result = CliRunner().invoke(app, ["train", "basic-cnn", "--data", str(data), "--runs-dir", str(runs),
                                      "--image-size", "48", "--epochs", "12", "--batch-size", "16",
                                      "--seed", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    return {"run": Path(result.stdout.strip()), "data": data, "runs": runs}


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    """A private copy of the shared run (without its evaluations and exports), so a test that
    writes into it, or breaks a rule, spoils no other."""
    import shutil

    run = tmp_path / "runs" / "train" / "mine"
    shutil.copytree(trained["run"], run, ignore=shutil.ignore_patterns("eval", "export"))
    return run
