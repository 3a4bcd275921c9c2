"""Import TensorFlow and Keras quietly, once, only when a command needs them.

Even with TF_CPP_MIN_LOG_LEVEL=3 the wheel prints CUDA/oneDNN/absl lines at
import, from C++ straight to file descriptor 2, so the descriptor itself is
redirected during the import (and the captured text shown if it fails).
`--verbose` leaves everything visible.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

from glaucli import console


@contextmanager
def native_stderr_silenced():
    """Silence what C++ code writes to file descriptor 2 (shown again if the block fails),
    unless --verbose."""
    if console.is_verbose():
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
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
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
    if not console.is_verbose():
        import warnings

        # Keras' UserWarnings (e.g. "shuffle=True ... ignored") are noise for CLI users.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"keras(\.|$)")
    return tf


def keras():
    """The `keras` module (Keras 3), after a quiet TensorFlow import."""
    tensorflow()
    import keras

    return keras
