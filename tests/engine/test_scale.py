"""Training at scale, checked on CPU: mirrored over two logical devices, the precision policy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import make_sample

MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    # Logical devices must exist before TensorFlow initialises: hence this subprocess.
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from glaucli.engine.training import TrainConfig, train
    result = train(TrainConfig(backbone="basic-cnn", data=sys.argv[1], runs_dir=sys.argv[2], image_size=32,
                               batch_size=8, epochs=2, strategy="mirrored", seed=0, augment="none"))
    print(json.dumps({"hardware": result.meta["hardware"], "status": result.meta["status"]}))
""")


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_mirrored_on_two_logical_cpus(tmp_path):
    data = make_sample(tmp_path / "d", per_class=8, size=32)
    out = subprocess.run([sys.executable, "-c", MIRRORED, str(data), str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["status"] == "complete"
    assert info["hardware"]["strategy"] == "mirrored" and info["hardware"]["replicas"] == 2
    assert info["hardware"]["per_replica_batch"] == 4 and info["hardware"]["global_batch"] == 8


def test_mixed_precision_policy_keeps_output_float32():
    import keras

    from glaucli.models import backbones, classifier

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = classifier.build(backbones.get("mobilenet-v3-small"), 32).model
    finally:
        keras.mixed_precision.set_global_policy("float32")
    conv = next(layer for layer in model.layers if type(layer).__name__ == "Conv2D")
    assert conv.compute_dtype == "float16"
    assert model.get_layer("head_logits").compute_dtype == "float32"
    assert model.get_layer("probability").compute_dtype == "float32"
    assert model.output.dtype == "float32"


def test_cpu_report_and_refusals(cli, sample_set):
    from glaucli.engine.precision import cpu_bfloat16

    common = ["train", "basic-cnn", "--data", sample_set, "--image-size", "32", "--epochs", "1"]
    result = cli(*common)
    assert "CPU only" in result.stderr and "XLA off, strategy none" in result.stderr
    if cpu_bfloat16():  # AVX512-BF16 or AMX: bfloat16 unless switched off
        assert "Precision mixed_bfloat16" in result.stderr
        off = cli(*common, "--mixed-precision", "off").stderr
        assert "Precision float32" in off and "bfloat16 unused" in off
    else:
        assert "Precision float32" in result.stderr
        assert "mixed-precision" in cli(*common, "--mixed-precision", "on", code=2).stderr
    cli(*common, "--strategy", "ring", code=2)


@pytest.mark.slow  # > 20 s on 2 CPU cores: CI runs it in its second pytest call
def test_multiworker_two_processes_identical_weights_one_run_folder(tmp_path):
    """Two real `glaucli train` processes on 127.0.0.1 form a cluster from TF_CONFIG."""
    import os
    import socket

    data = make_sample(tmp_path / "d", per_class=12, size=32)
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        env = {k: v for k, v in env.items() if "proxy" not in k.lower()}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "glaucli", "train", "basic-cnn", "--data", str(data), "--runs-dir",
             str(tmp_path / "runs"), "--image-size", "32", "--batch-size", "8", "--epochs", "2", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(json.loads(out))
    finally:
        for proc in procs:
            proc.kill()
    chief, worker = outputs
    assert chief["run"] == str(tmp_path / "runs" / "train" / "basic-cnn") and worker["run"] is None
    assert chief["weights_sha256"] == worker["weights_sha256"]
    assert [p.name for p in (tmp_path / "runs" / "train").iterdir()] == ["basic-cnn"]
    meta = json.loads((tmp_path / "runs" / "train" / "basic-cnn" / "meta.json").read_text())
    assert meta["hardware"]["strategy"] == "multiworker" and meta["hardware"]["replicas"] == 2
    assert meta["status"] == "complete"


@pytest.mark.gpu
def test_gpu_defaults_to_mixed_precision_and_xla(cli, sample_set):
    """Run with `pytest -m gpu` on a machine with a GPU of compute capability >= 7.0."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible")
    run = cli("train", "mobilenet-v3-small", "--weights", "none", "--data", sample_set, "--image-size", "64",
              "--epochs", "1", "--quiet").stdout.strip()
    hardware = json.loads((Path(run) / "meta.json").read_text())["hardware"]
    assert hardware["precision"] == "mixed_float16" and hardware["xla"] is True
