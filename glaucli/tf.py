"""Import TensorFlow and Keras quietly, once, only when a command needs them.

Even with TF_CPP_MIN_LOG_LEVEL=3 the wheel prints CUDA/oneDNN/absl lines at
import, from C++ straight to file descriptor 2, so the descriptor itself is
redirected during the import (and the captured text shown if it fails).
`--verbose` (or GLAUCLI_VERBOSE=1 for library users) leaves everything visible.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

_verbose: bool | None = None  # set by the CLI's --verbose; None: the environment decides
_onednn_by_glaucli = False     # set when the CLI turned oneDNN on where TensorFlow leaves it off

# TensorFlow (>= 2.9, x86-64 Linux) turns oneDNN on by itself only on CPUs with one of these
# neural-network features (its release notes; /proc/cpuinfo's names). Elsewhere it runs Eigen's
# kernels, though oneDNN trains faster there too (Xception, AMD EPYC without AVX-512: 14.3
# against 9.3-11.4 img/s; README, Performance).
ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


def set_verbose(flag: bool | None) -> None:
    global _verbose
    _verbose = flag


def is_verbose() -> bool:
    return _verbose if _verbose is not None else os.environ.get("GLAUCLI_VERBOSE") == "1"


@contextmanager
def native_stderr_silenced():
    """Silence what C++ code writes to file descriptor 2 (shown again if the block fails),
    unless --verbose."""
    if is_verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from Linux /proc/cpuinfo (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def onednn_wanted(environ, machine: str, system: str, flags: set[str]) -> bool:
    """Whether the command line should set TF_ENABLE_ONEDNN_OPTS=1: on x86-64 Linux, where
    TensorFlow leaves oneDNN off on this CPU, unless the user chose (their setting wins)."""
    return ("TF_ENABLE_ONEDNN_OPTS" not in environ and system == "Linux"
            and machine in ("x86_64", "AMD64") and not flags & set(ONEDNN_DEFAULT_FLAGS))


def enable_onednn_for_cli() -> None:
    """Turn oneDNN on for this process where TensorFlow would leave it off. The CLI calls this
    before TensorFlow's import; the Python API never does (it leaves the environment alone)."""
    global _onednn_by_glaucli
    import platform

    wanted = onednn_wanted(os.environ, platform.machine(), platform.system(), cpu_flags())
    if wanted and "tensorflow" not in sys.modules:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
        _onednn_by_glaucli = True


def onednn_state() -> dict:
    """Whether TensorFlow runs oneDNN's kernels, and who decided: "tensorflow" (its default for
    this CPU), "glaucli" (the command line turned it on) or "user" (TF_ENABLE_ONEDNN_OPTS)."""
    tensorflow()
    try:
        from tensorflow.python.util import _pywrap_util_port as port

        on = bool(port.IsMklEnabled())
    except (ImportError, AttributeError):  # not a build TensorFlow ships for x86-64 Linux
        on = False
    by = "glaucli" if _onednn_by_glaucli else "user" if "TF_ENABLE_ONEDNN_OPTS" in os.environ else "tensorflow"
    return {"on": on, "by": by}


def _import_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        import tensorflow
    return tensorflow


def tensorflow():
    """The `tensorflow` module, imported quietly."""
    tf = sys.modules.get("tensorflow") or _import_quietly()
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl ships with TensorFlow; be safe anyway
        pass
    tf.get_logger().setLevel("ERROR")
    return tf


def keras():
    """The `keras` module (Keras 3), after a quiet TensorFlow import."""
    tensorflow()
    import keras

    return keras
