"""The decoded-image cache: same pixels as decoding, later epochs without the files, memory or disk."""

from __future__ import annotations

import numpy as np
import pytest

from glaucli.data import image_cache
from glaucli.data.layout import Dataset, find_tree
from glaucli.data.pipeline import make_dataset
from glaucli.errors import UsageError
from tests.helpers import make_sample


def _batches(pairs, cache=None):
    return [x.numpy() for x in make_dataset(pairs, 24, 5, with_labels=False, cache=cache)]


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_cache_serves_the_decoded_pixels_after_the_files_are_gone(tmp_path, mode):
    pairs = Dataset(find_tree(make_sample(tmp_path / "d", per_class=4, size=40))).require("train")
    plain = _batches(pairs)
    with image_cache.ImageCache([p for p, _ in pairs], 24, mode, tmp_path) as cache:
        first = _batches(pairs, cache)
        assert cache.filled.all()
        assert (tmp_path / image_cache.FILE).is_file() == (mode == "disk")
        for path, _ in pairs:  # a second epoch decodes nothing: it needs no file
            path.unlink()
        second = _batches(pairs, cache)
    for a, b, c in zip(plain, first, second, strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert not (tmp_path / image_cache.FILE).exists()  # closing removes the file it made


def test_training_stream_with_cache_matches_without(tmp_path):
    pairs = Dataset(find_tree(make_sample(tmp_path / "d", per_class=5, size=40))).require("train")

    def take(cache):
        ds = make_dataset(pairs, 24, 4, training=True, seed=3, deterministic=True, cache=cache)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(6)]  # a bit more than two epochs

    with image_cache.ImageCache([p for p, _ in pairs], 24, "memory") as cache:
        cached = take(cache)
    for (xa, ya), (xb, yb) in zip(take(None), cached, strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


def test_auto_picks_memory_within_the_budget_else_disk():
    one = 96 * 96 * 3
    assert image_cache.choose("auto", 10, 96, budget=10 * one) == "memory"
    assert image_cache.choose("auto", 11, 96, budget=10 * one) == "disk"
    assert image_cache.choose("none", 10, 96) == "none"
    assert image_cache.available_memory() > 0
    with pytest.raises(UsageError):
        image_cache.choose("ram", 1, 1)
    assert image_cache.open_cache("none", [], 8, None) is None


def test_bad_cache_and_head_features_values_are_usage_errors(cli, sample_set):
    for flag in (["--cache", "ram"], ["--head-features", "sometimes"]):
        result = cli("train", "basic-cnn", "--data", sample_set, *flag, code=2)
        assert "Error:" in result.stderr
