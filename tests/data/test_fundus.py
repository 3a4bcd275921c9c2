"""The cheap fundus check: real-photo conditions pass, ordinary pictures fail, fast."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from glaucli.data.fundus import check_fundus
from glaucli.data.images import load_image, pad_square
from tests.fundus_images import FUNDUS_LOOKALIKES, fundus_variants, non_fundus


def _as_loaded(arr: np.ndarray, size: int) -> np.ndarray:
    """What the one loader hands on: padded to a square, resized."""
    return np.asarray(pad_square(Image.fromarray(arr)).resize((size, size), Image.Resampling.BILINEAR))


@pytest.mark.parametrize("size", [48, 128, 299, 512])
def test_fundus_photos_pass_in_every_condition(size):
    for seed in (0, 1):
        for name, arr in fundus_variants(max(size, 64), seed).items():
            result = check_fundus(_as_loaded(arr, size))
            assert result.ok, (size, seed, name, result.reasons, result.measures)


@pytest.mark.parametrize("size", [48, 128, 512])
def test_ordinary_pictures_fail_with_a_reason(size):
    for seed in (0, 1):
        for name, arr in non_fundus(max(size, 64), seed).items():
            result = check_fundus(_as_loaded(arr, size))
            if name in FUNDUS_LOOKALIKES:  # round orange fields on black: left to the distribution check
                continue
            assert not result.ok and result.reasons and result.result == "fail", (size, seed, name, result.measures)


def test_sample_set_images_pass(tmp_path):
    from glaucli.data.sample import write_sample

    write_sample(tmp_path, per_class=6, size=96, seed=5)
    paths = sorted(tmp_path.rglob("*.jpg"))
    failed = [p.name for p in paths if not check_fundus(load_image(p, 64)).ok]
    assert len(paths) == 20 and failed == []


def test_black_padding_of_a_wide_photo_is_not_a_dark_surround():
    """The loader pads wide photos with black bars; those must not count as a fundus' surround."""
    wide = np.asarray(Image.fromarray(non_fundus(96)["uniform noise"]).resize((192, 96)))
    assert not check_fundus(_as_loaded(wide, 128)).ok


def test_grayscale_and_tiny_inputs_are_answered():
    assert not check_fundus(np.full((64, 64), 120, np.uint8)).ok
    assert check_fundus(np.zeros((4, 4, 3), np.uint8)).reasons == ["blank (black) image"]
