"""Precision choice per hardware, and the float32 best.keras of a bfloat16 run."""

from __future__ import annotations

import os
import platform

import numpy as np
import pytest

from glaucli import tf
from glaucli.engine import precision
from glaucli.errors import UsageError

linux_x86 = pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                               reason="TensorFlow's oneDNN switch applies to its x86-64 Linux build")

GPU = [{"name": "g", "compute_capability": "8.0", "memory_gb": 40}]
OLD_GPU = [{"name": "g", "compute_capability": "6.1", "memory_gb": 8}]


def test_choose_per_hardware():
    assert precision.choose("auto", GPU, []) == "mixed_float16"
    assert precision.choose("auto", OLD_GPU, []) == "float32"
    # bfloat16 where the CPU computes it: 1.4x faster fine-tuning, same AUC (README)
    assert precision.choose("auto", [], ["avx512_bf16"]) == "mixed_bfloat16"
    assert precision.choose("auto", [], ["amx_bf16"]) == "mixed_bfloat16"
    assert precision.choose("on", [], ["amx_bf16"]) == "mixed_bfloat16"
    assert precision.choose("auto", [], []) == "float32"
    assert precision.choose("off", [], ["avx512_bf16"]) == "float32"
    assert precision.choose("on", [], ["avx512_bf16"]) == "mixed_bfloat16"
    with pytest.raises(UsageError):
        precision.choose("on", [], [])
    assert set(precision.cpu_bfloat16()) <= set(precision.BF16_FLAGS)


def test_bfloat16_model_saves_a_float32_twin_with_the_same_weights():
    import keras

    from glaucli.models import backbones, classifier

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = classifier.build(backbones.get("mobilenet-v3-small"), 32).model
    finally:
        keras.mixed_precision.set_global_policy("float32")
    conv = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    assert conv.compute_dtype == "bfloat16"
    twin = precision.portable_twin(model)
    twin.set_weights(model.get_weights())
    assert {layer.compute_dtype for layer in twin.layers if layer.weights} == {"float32"}
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    # bfloat16 keeps ~3 significant digits: the float32 twin answers within that
    np.testing.assert_allclose(np.asarray(twin(x)), np.asarray(model(x)), atol=0.05)


def test_onednn_wanted_only_where_tensorflow_leaves_it_off_and_the_user_did_not_choose():
    """TensorFlow turns oneDNN on by itself only on CPUs with AVX512-VNNI, AVX512-BF16, AVX-VNNI
    or AMX; elsewhere the command line turns it on (issue 35), unless the user set it."""
    amd = {"avx2", "fma", "sse4_2"}
    assert tf.onednn_wanted({}, "x86_64", "Linux", amd)
    for flag in tf.ONEDNN_DEFAULT_FLAGS:
        assert not tf.onednn_wanted({}, "x86_64", "Linux", amd | {flag})
    assert not tf.onednn_wanted({"TF_ENABLE_ONEDNN_OPTS": "0"}, "x86_64", "Linux", amd)
    assert not tf.onednn_wanted({"TF_ENABLE_ONEDNN_OPTS": "1"}, "x86_64", "Linux", amd)
    assert not tf.onednn_wanted({}, "aarch64", "Linux", set())
    assert not tf.onednn_wanted({}, "x86_64", "Darwin", amd)


ONEDNN_PROBE = ("from tensorflow.python.util import _pywrap_util_port as port; "
                "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")


def _without_onednn_setting() -> dict:
    return {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}


@linux_x86
def test_the_api_imports_tensorflow_as_a_bare_import_does():
    """glaucli used to set TF_ENABLE_ONEDNN_OPTS=0 at import: every CPU step then ran on Eigen's
    kernels (issue 19). The library leaves the environment alone, so it must get what a bare
    `import tensorflow` gets on this very CPU (oneDNN on with AVX512-BF16/AMX, off on an AMD
    EPYC without AVX-512), not what the CPU it was written on got."""
    env = _without_onednn_setting()
    bare = _run("import os, tensorflow; " + ONEDNN_PROBE, env)
    via_glaucli = _run("import os; from glaucli.tf import tensorflow; tensorflow(); " + ONEDNN_PROBE, env)
    assert via_glaucli.stdout.split() == bare.stdout.split()
    assert via_glaucli.stdout.split()[0] == "None"  # the environment as the caller left it
    assert "oneDNN" not in via_glaucli.stderr  # its notice stays as quiet as the rest of the import


@linux_x86
def test_the_command_line_runs_onednn_unless_the_user_chose():
    """`glaucli info --json` reports oneDNN on wherever glaucli runs on x86-64 Linux: by
    TensorFlow's own default on CPUs with its neural-network features, turned on by glaucli
    elsewhere; TF_ENABLE_ONEDNN_OPTS=0 from the user wins."""
    env = _without_onednn_setting()
    state = _info_onednn(env)
    tensorflow_default = not tf.onednn_wanted({}, platform.machine(), platform.system(), tf.cpu_flags())
    assert state == {"on": True, "by": "tensorflow" if tensorflow_default else "glaucli"}
    assert _info_onednn({**env, "TF_ENABLE_ONEDNN_OPTS": "0"}) == {"on": False, "by": "user"}


def _info_onednn(env: dict) -> dict:
    import json

    out = _run("from glaucli.cli.app import main; main()", env, "info", "--json")
    return json.loads(out.stdout)["devices"]["onednn"]


def _run(code: str, env: dict, *args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
