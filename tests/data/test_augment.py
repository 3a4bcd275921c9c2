"""Augmentation draws are independent: each random layer has its own seed (issue 15.1)."""

from __future__ import annotations

import numpy as np
import pytest


def _probe_image(path, size=48):
    """R encodes left/right, G top/bottom, B is flat: flips and brightness read off apart."""
    from PIL import Image

    img = np.zeros((size, size, 3), np.uint8)
    img[:, : size // 2, 0] = 220
    img[:, size // 2:, 0] = 30
    img[: size // 2, :, 1] = 220
    img[size // 2:, :, 1] = 30
    img[..., 2] = 128
    Image.fromarray(img).save(path)
    return path


def _draws(path, augment, n=384, size=48):
    from glaucli.data.pipeline import make_dataset

    ds = make_dataset([(path, 0)] * 64, size, 32, training=True, augment=augment, seed=7)
    images = np.concatenate([x.numpy() for x, _ in ds.take(n // 32)])
    half = size // 2
    hflip = images[:, :, :half, 0].mean(axis=(1, 2)) < images[:, :, half:, 0].mean(axis=(1, 2))
    vflip = images[:, :half, :, 1].mean(axis=(1, 2)) < images[:, half:, :, 1].mean(axis=(1, 2))
    # Brightness: the flat channel's centre, away from the rotation/zoom fill at the borders.
    c = slice(size // 4, 3 * size // 4)
    brightness = images[:, c, c, 2].mean(axis=(1, 2))
    return hflip, vflip, brightness


@pytest.mark.parametrize("augment", ["light", "strong"])
def test_flip_is_independent_of_brightness(tmp_path, augment):
    hflip, _, brightness = _draws(_probe_image(tmp_path / "probe.png"), augment)
    assert 0.35 < hflip.mean() < 0.65  # the flip happens about half the time
    assert np.std(brightness) > 1.0  # brightness does vary
    corr = np.corrcoef(hflip.astype(float), brightness)[0, 1]
    assert abs(corr) < 0.15, f"horizontal flip and brightness correlate: {corr:.2f}"


def test_horizontal_and_vertical_flips_are_independent(tmp_path):
    hflip, vflip, _ = _draws(_probe_image(tmp_path / "probe.png"), "strong")
    assert 0.35 < vflip.mean() < 0.65
    exactly_one = np.mean(hflip ^ vflip)
    assert 0.4 < exactly_one < 0.6, f"P(exactly one flip) = {exactly_one:.2f}"


def test_layer_seeds_are_distinct_and_follow_the_run_seed():
    from glaucli.data.pipeline import augmenter

    seeds = [layer.seed for layer in augmenter("strong", seed=3).layers]
    assert len(set(seeds)) == len(seeds)
    assert seeds == [layer.seed for layer in augmenter("strong", seed=3).layers]
    assert seeds != [layer.seed for layer in augmenter("strong", seed=4).layers]
