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
