"""The Python API: lazy, and without process-wide side effects (issue 17)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import warnings

import pytest

from glaucli import events
from tests.helpers import make_sample


def test_importing_the_api_imports_no_tensorflow():
    code = ("import sys, glaucli, glaucli.api as api; assert callable(api.train) and callable(api.predict); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def run_threshold(run):
    from glaucli.runs import read_meta

    return read_meta(run)["threshold"]


def _state():
    from glaucli.tf import keras

    return {"SIGINT": signal.getsignal(signal.SIGINT), "SIGTERM": signal.getsignal(signal.SIGTERM),
            "policy": keras().mixed_precision.global_policy().name, "warnings": list(warnings.filters),
            "socket": socket.getdefaulttimeout()}


def test_train_resume_evaluate_predict_leave_the_process_as_they_found_it(tmp_path, monkeypatch):
    import matplotlib.pyplot  # noqa: F401 - modules that add filters at import are loaded first
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401

    from glaucli import api
    from glaucli.errors import Interrupted
    from glaucli.tf import keras

    monkeypatch.setenv("GLAUCLI_RUN_EAGERLY", "1")
    data = make_sample(tmp_path / "mini", per_class=12, size=48, seed=1)
    mine = lambda signum, frame: None  # noqa: E731 - the caller's own handlers
    previous = {sig: signal.signal(sig, mine) for sig in (signal.SIGINT, signal.SIGTERM)}
    keras().mixed_precision.set_global_policy("mixed_bfloat16")  # the caller's policy, not the default
    try:
        before = _state()

        def stop_at_first_batch(event):  # a Ctrl-C in the middle of the first epoch
            if isinstance(event, events.BatchEnded) and event.step == 1:
                os.kill(os.getpid(), signal.SIGINT)

        config = api.TrainConfig("basic-cnn", data=data, image_size=32, epochs=2, batch_size=8, seed=0,
                                 runs_dir=tmp_path / "runs")
        with pytest.raises(Interrupted):
            api.train(config, stop_at_first_batch)
        assert _state() == before
        run = next((tmp_path / "runs" / "train").iterdir())
        result = api.resume(run, runs_dir=tmp_path / "runs")
        assert result.run == run and 0 <= result.metrics["auc"] <= 1
        assert _state() == before

        keras().mixed_precision.set_global_policy("float32")
        before = _state()
        unsaved, nowhere = api.evaluate(run, split="validation", bootstrap=0, save=False)
        assert nowhere is None and not (run / "eval").exists()  # a notebook's evaluation writes nothing
        metrics, folder = api.evaluate(run, split="validation", bootstrap=0)
        assert metrics["schema"] == 1 and (folder / "metrics.json").is_file()
        assert metrics["metrics"] == unsaved["metrics"]
        answers = list(api.predict([data / "test"], run, ood_check=False, explain_dir=tmp_path / "cams"))
        assert len(answers) == 4 and {a.label for a in answers} <= {"RG", "NRG"}
        assert all(0 <= a.probability <= 1 and a.error is None and a.explanation.is_file() for a in answers)
        assert all(a.threshold == pytest.approx(run_threshold(run)) for a in answers)
        assert _state() == before
    finally:
        keras().mixed_precision.set_global_policy("float32")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
