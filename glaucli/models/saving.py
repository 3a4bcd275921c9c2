"""Saving a model so that nothing on disk is ever half written, and naming its weights."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from glaucli.errors import WorkError
from glaucli.models import classifier


def save_atomic(model, path: Path) -> None:
    """Keras insists on a .keras suffix, so the temp name keeps it; then rename. A failed
    save (disk full) leaves the previous file whole and no half file behind. Stochastic
    layers frozen for a phase are saved with their own rates."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        with classifier.original_rates(model):
            model.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise WorkError(f"disk full while saving {path}; the previous {path.name} is intact",
                            hint="free space, then continue with glaucli train --resume") from None
        raise


def weights_digest(model) -> str:
    """SHA-256 of the weights: equal digests, equal models (workers, reproductions)."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()
