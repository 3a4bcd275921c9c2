"""What hardware TensorFlow sees."""

from __future__ import annotations


def describe_devices() -> dict:
    """GPUs with name, memory (GB) and compute capability (an empty list means CPU only), and
    the CPU's bfloat16 instructions, and whether TensorFlow runs oneDNN's kernels (and who chose)."""
    from glaucli.engine.precision import cpu_bfloat16
    from glaucli.tf import onednn_state, tensorflow

    tf = tensorflow()
    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        memory = None
        try:
            memory = round(tf.config.experimental.get_memory_info(gpu.name.replace(
                "physical_device:", ""))["peak"] / 1e9, 1) or None
        except (ValueError, RuntimeError):
            pass
        gpus.append({"name": details.get("device_name", gpu.name),
                     "compute_capability": ".".join(map(str, details.get("compute_capability", ()))) or None,
                     "memory_gb": memory})
    return {"gpus": gpus, "cpu_only": not gpus, "cpu_bfloat16": cpu_bfloat16(),
            "onednn": onednn_state()}


def versions() -> dict:
    """The software a run was made with, as meta.json records it."""
    import platform

    from glaucli import __version__
    from glaucli.tf import keras, tensorflow

    return {"glaucli": __version__, "tensorflow": tensorflow().__version__,
            "keras": keras().__version__, "python": platform.python_version()}
