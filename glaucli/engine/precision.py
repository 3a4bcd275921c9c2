"""Mixed precision: float16 on GPUs, bfloat16 on CPUs that compute it natively.

`auto` picks float16 on GPUs of compute capability >= 7.0 and bfloat16 on CPUs with
AVX512-BF16 or AMX: in glaucli's default xception recipe at 224 px a fine-tuning epoch took
11-12 s against 16-19 s in float32, with the same validation AUC (README, Performance). An
earlier measurement saw bfloat16 ~8x slower: TensorFlow then ran without oneDNN (glaucli
had switched it off) and emulated bfloat16. Variables stay float32 either way; the saved
best.keras is float32 so it runs everywhere.
"""

from __future__ import annotations

import contextlib

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bfloat16() -> list[str]:
    """The bfloat16 instructions this CPU reports (Linux /proc/cpuinfo); [] elsewhere."""
    from glaucli.tf import cpu_flags

    flags = cpu_flags()
    return [f for f in BF16_FLAGS if f in flags]


def choose(mode: str, gpus: list[dict], cpu_flags: list[str]) -> str:
    """The Keras policy for --mixed-precision `mode` on this hardware (raises UsageError)."""
    from glaucli.errors import UsageError

    if gpus:
        capable = all(float(g.get("compute_capability") or 0) >= 7.0 for g in gpus)
        return "mixed_float16" if mode == "on" or (mode == "auto" and capable) else "float32"
    if mode == "on" and not cpu_flags:
        raise UsageError("--mixed-precision on needs a GPU or a CPU with AVX512-BF16 or AMX "
                         "(emulated bfloat16 is slow)")
    return "mixed_bfloat16" if mode == "on" or (mode == "auto" and cpu_flags) else "float32"


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


def use(policy: str) -> None:
    """Make `policy` the process-wide Keras policy (inside `restored()`, for its run only)."""
    from glaucli.tf import keras

    keras().mixed_precision.set_global_policy(policy)


@contextlib.contextmanager
def restored():
    """Keep the process-wide Keras policy as it was around a training run, so that a run in
    bfloat16 does not leave later models of the same process (API, tests) in bfloat16."""
    from glaucli.tf import keras

    previous = keras().mixed_precision.global_policy()
    try:
        yield
    finally:
        use(previous)
