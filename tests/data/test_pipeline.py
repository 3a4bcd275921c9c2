"""The training stream: as many epochs as the phase runs, in the endless stream's order."""

from __future__ import annotations

import numpy as np

from glaucli.data.layout import Dataset, find_tree
from glaucli.data.pipeline import make_dataset, steps_per_epoch
from tests.helpers import make_sample


def test_a_phase_stream_ends_after_its_epochs_in_the_same_order(tmp_path):
    """An endless stream kept tf.data's workers producing epochs nobody would read, and
    Keras' fit waited for them when it returned (8-33 s after a fine-tuning phase)."""
    pairs = Dataset(find_tree(make_sample(tmp_path / "d", per_class=5, size=40))).require("train")

    def batches(**kw):
        ds = make_dataset(pairs, 24, 4, training=True, seed=3, first_epoch=2, deterministic=True, **kw)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(100)]

    steps = steps_per_epoch(len(pairs), 4)
    phase = batches(epochs=3)
    assert len(phase) == 3 * steps
    for (xa, ya), (xb, yb) in zip(phase, batches()[:len(phase)], strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
