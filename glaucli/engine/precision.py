"""Mixed precision: float16 on GPUs, bfloat16 on CPUs that compute it natively.

A CPU with AVX512-BF16 or AMX runs a large convolutional network's training steps about
1.4-2x faster in `mixed_bfloat16` (README, Performance); without those instructions
bfloat16 is emulated and slower, so `auto` picks it only where they exist, and not for
basic-cnn, too small for the savings to beat the casts. Variables stay float32 either
way; the saved best.keras is rewritten to float32 so it runs at full speed everywhere.
"""

from __future__ import annotations

import contextlib

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bfloat16() -> list[str]:
    """The bfloat16 instructions this CPU reports (Linux /proc/cpuinfo); [] elsewhere."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in BF16_FLAGS if f in flags]
    except OSError:
        pass
    return []


def choose(mode: str, gpus: list[dict], cpu_flags: list[str], backbones: list[str]) -> str:
    """The Keras policy for --mixed-precision `mode` on this hardware (raises UsageError)."""
    from glaucli.errors import UsageError

    if gpus:
        capable = all(float(g.get("compute_capability") or 0) >= 7.0 for g in gpus)
        return "mixed_float16" if mode == "on" or (mode == "auto" and capable) else "float32"
    if mode == "on" and not cpu_flags:
        raise UsageError("--mixed-precision on needs a GPU or a CPU with AVX512-BF16 or AMX "
                         "(emulated bfloat16 is slow)")
    if mode == "on" or (mode == "auto" and cpu_flags and "basic-cnn" not in backbones):
        return "mixed_bfloat16"
    return "float32"


def float32_config(config):
    """A model config with every bfloat16 layer policy made float32 (same weights, exact math)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") == "mixed_bfloat16":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [float32_config(value) for value in config]
    return "float32" if config == "mixed_bfloat16" else config


def portable_twin(model):
    """An optimizer-free copy of `model`'s architecture for best.keras, in float32 if the
    model computes in bfloat16."""
    from glaucli.tf import keras

    return keras().Model.from_config(float32_config(model.get_config()))


@contextlib.contextmanager
def restored():
    """Keep the process-wide Keras policy as it was around a training run, so that a run in
    bfloat16 does not leave later models of the same process (API, tests) in bfloat16."""
    from glaucli.tf import keras

    previous = keras().mixed_precision.global_policy()
    try:
        yield
    finally:
        keras().mixed_precision.set_global_policy(previous)
