"""`glaucli info`: what a person debugging an install needs, as data (like `yolo checks`).

Everything but the device probe is read without importing TensorFlow (package
metadata, the Keras cache folder, the file system); the probe imports it, which is
what makes `info` take seconds, and its duration is reported so nobody has to guess.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import time
from importlib import metadata
from pathlib import Path

EXTRAS = {"tf2onnx": "export", "onnxruntime": "export", "tensorboard": "tensorboard"}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def keras_cache() -> Path:
    """Where Keras keeps downloaded weights (`$KERAS_HOME/models`, default ~/.keras/models)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def cached_weights() -> dict[str, str]:
    """Backbone -> the ImageNet weights file (without top) already in the Keras cache."""
    from glaucli.models.backbones import REGISTRY

    folder = keras_cache()
    files = sorted(p for p in folder.glob("*.h5")) if folder.is_dir() else []
    found = {}
    for backbone in REGISTRY.values():
        if not backbone.pretrained:
            continue
        key = _squash(backbone.name)
        for path in files:
            name = _squash(path.name)
            # "notop" marks the headless file; "resnet50" must not claim a "resnet50v2" file.
            if "notop" in name and re.search(key + r"(?!v\d)", name):
                found[backbone.name] = str(path)
                break
    return found


def disk_free(path: Path) -> dict:
    """Free space where `path` is (or would be created)."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {"path": str(path.resolve()), "free_gb": round(usage.free / 1e9, 1), "total_gb": round(usage.total / 1e9, 1)}


def memory() -> dict:
    """Total and available RAM (GB), from /proc/meminfo where there is one."""
    total = available = None
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        total = int(fields["MemTotal"].split()[0]) * 1024
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            pass

    def gb(n):
        return round(n / 1e9, 1) if n else None

    return {"total_gb": gb(total), "available_gb": gb(available), "cpus": os.cpu_count()}


def gpu_report() -> dict:
    """Whether TensorFlow sees a GPU, and if not, the likely reason. Imports TensorFlow."""
    from glaucli.engine.devices import describe_devices

    began = time.monotonic()
    from glaucli.tf import tensorflow

    tf = tensorflow()
    imported = time.monotonic() - began
    devices = describe_devices()
    build = dict(tf.sysconfig.get_build_info())
    cuda_build = bool(build.get("is_cuda_build")) or tf.test.is_built_with_cuda()
    reason = None
    if not devices["gpus"]:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if not cuda_build:
            reason = "this TensorFlow is not a CUDA build (pip install \"glaucli[gpu]\" on Linux with an NVIDIA GPU)"
        elif visible is not None and visible.strip() in ("", "-1"):
            reason = f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
        elif platform.system() == "Linux" and not Path("/proc/driver/nvidia/version").exists():
            reason = "a CUDA build, but no NVIDIA driver is loaded (no GPU, or the driver is not installed)"
        else:
            reason = ("a CUDA build, but no GPU visible: no NVIDIA GPU, or its driver/CUDA libraries are "
                      "missing (check `nvidia-smi`; glaucli -v info shows TensorFlow's own messages)")
    return {**devices, "cuda_build": cuda_build, "cuda_version": build.get("cuda_version"),
            "cudnn_version": build.get("cudnn_version"), "no_gpu_reason": reason,
            "tensorflow_import_s": round(imported, 1), "probe_s": round(time.monotonic() - began, 1)}


def collect(data_dir: Path, runs_dir: Path, credentials_source: str | None) -> dict:
    """The whole report."""
    import glaucli

    return {
        "glaucli": glaucli.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "keras": _version("keras"),
        "extras": {name: _version(name) for name in EXTRAS},
        "imagenet_weights": {"cache": str(keras_cache()), "cached": cached_weights()},
        "kaggle_credentials": credentials_source,
        "data_dir": str(data_dir.resolve()),
        "runs_dir": str(runs_dir.resolve()),
        "disk": {"data_dir": disk_free(data_dir), "runs_dir": disk_free(runs_dir)},
        "memory": memory(),
        "devices": gpu_report(),
    }
