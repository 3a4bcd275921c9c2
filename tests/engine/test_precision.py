"""Precision choice per hardware, and the float32 best.keras of a bfloat16 run."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from glaucli.engine import precision
from glaucli.errors import UsageError

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


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                    reason="TensorFlow's oneDNN switch applies to its x86-64 Linux build")
def test_glaucli_imports_tensorflow_with_onednn_kept_on(tmp_path):
    """glaucli used to set TF_ENABLE_ONEDNN_OPTS=0: every CPU step then ran on Eigen's kernels,
    fine-tuning 1.5x slower in float32 and bfloat16 emulated, ~8x slower (issue 19)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    code = ("import os; from glaucli.tf import tensorflow; tensorflow(); "
            "from tensorflow.python.util import _pywrap_util_port as port; "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["None", "True"]
    assert "oneDNN" not in out.stderr  # its notice stays as quiet as the rest of TensorFlow's import
