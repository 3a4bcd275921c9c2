"""Optic disc localisation: found on generated photos with known discs and on a real one;
crops stay inside the image; no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glaucli.data.disc import Disc, disc_crop, find_field, locate_disc, square_crop, trim_border
from glaucli.data.images import load_image
from glaucli.data.sample import fundus_with_disc

RETINA = Path(__file__).resolve().parents[1] / "fixtures" / "retina.jpg"


def _hits(size: int, n: int, seed: int) -> tuple[int, list[float]]:
    rng = np.random.default_rng(seed)
    hits, confidences = 0, []
    for i in range(n):
        image, (x, y) = fundus_with_disc(("NRG", "RG")[i % 2], size, rng)
        disc = locate_disc(image)
        hits += np.hypot(disc.x - x, disc.y - y) <= size * 0.085  # the smallest disc radius drawn
        confidences.append(disc.confidence)
    return hits, confidences


@pytest.mark.parametrize("size", [64, 128, 256])
def test_disc_found_on_generated_photos(size):
    hits, confidences = _hits(size, 40, seed=size)
    assert hits >= 38, f"{hits} of 40 within a disc radius at {size} px"
    assert np.median(confidences) > 0.3


def test_disc_found_when_the_field_is_off_centre_and_padded():
    """A photo padded on the left (as the loader pads a wide one): the answer moves with it."""
    rng = np.random.default_rng(3)
    image, (x, y) = fundus_with_disc("RG", 128, rng)
    wide = np.zeros((128, 200, 3), np.uint8)
    wide[:, 72:] = image
    disc = locate_disc(wide)
    assert np.hypot(disc.x - (x + 72), disc.y - y) <= 128 * 0.085


def test_disc_in_image_coordinates_and_radius_from_the_field():
    rng = np.random.default_rng(4)
    image, _ = fundus_with_disc("NRG", 96, rng)
    disc = locate_disc(image)
    assert isinstance(disc, Disc) and 0 <= disc.x < 96 and 0 <= disc.y < 96
    assert 0.0 <= disc.confidence <= 1.0
    field = find_field(image)
    assert disc.radius == pytest.approx(field.diameter / 14, rel=0.05)
    assert set(disc.to_dict()) == {"x", "y", "radius", "confidence"}


def test_flat_image_has_no_confident_disc():
    """No field of view, no disc: still an answer (the middle, say), with low confidence."""
    grey = np.full((64, 64, 3), 128, np.uint8)
    assert locate_disc(grey).confidence < 0.2
    black = np.zeros((64, 64, 3), np.uint8)
    assert locate_disc(black).confidence < 0.2


def test_refuses_what_is_not_rgb():
    with pytest.raises(ValueError):
        locate_disc(np.zeros((32, 32), np.uint8))


@pytest.mark.skipif(not RETINA.is_file(), reason="tests/fixtures/retina.jpg not present")
def test_real_photo_disc():
    """tests/fixtures/retina.jpg is skimage/data/retina.jpg from the scikit-image 0.26.0 wheel
    (public domain, CC0; 1411 x 1411). Its disc is near the left edge, a bit above the
    middle (checked by eye)."""
    image = load_image(RETINA)
    disc = locate_disc(image)
    w = image.shape[1]
    assert 0.10 * w < disc.x < 0.25 * w and 0.40 * w < disc.y < 0.52 * w, disc
    assert disc.confidence > 0.3
    small = locate_disc(load_image(RETINA, 299))  # the same place at the network's size
    assert abs(small.x * w / 299 - disc.x) < disc.radius and abs(small.y * w / 299 - disc.y) < disc.radius


def test_disc_crop_is_square_centred_and_clamped():
    image = np.arange(100 * 120 * 3, dtype=np.uint32).reshape(100, 120, 3).astype(np.uint8)
    centred = disc_crop(image, Disc(60, 50, 5, 1.0), scale=3)
    assert centred.shape == (30, 30, 3)
    assert np.array_equal(centred, image[35:65, 45:75])
    corner = disc_crop(image, Disc(2, 98, 5, 1.0), scale=3)  # shifted inside, not padded
    assert np.array_equal(corner, image[70:100, 0:30])
    big = disc_crop(image, Disc(60, 50, 30, 1.0), scale=3)  # larger than the image: black around
    assert big.shape == (180, 180, 3)


def test_square_crop_unclamped_pads_black():
    image = np.full((10, 10, 3), 200, np.uint8)
    out = square_crop(image, 0, 0, 6, clamp=False)
    assert out.shape == (6, 6, 3) and out[:3, :3].max() == 0 and out[3:, 3:].min() == 200


def test_trim_border_keeps_the_field_of_view():
    rng = np.random.default_rng(5)
    image, _ = fundus_with_disc("RG", 96, rng)
    framed = np.zeros((160, 200, 3), np.uint8)
    framed[30:126, 60:156] = image
    trimmed = trim_border(framed)
    assert trimmed.shape[0] == trimmed.shape[1] and 80 <= trimmed.shape[0] <= 100
    assert trimmed.astype(int).sum() >= 0.98 * framed.astype(int).sum()


def test_jpeg_round_trip():
    """The same answer through a lossy JPEG round trip."""
    import io

    rng = np.random.default_rng(6)
    image, (x, y) = fundus_with_disc("NRG", 256, rng)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=70)
    again = locate_disc(np.asarray(Image.open(buf).convert("RGB")))
    assert np.hypot(again.x - x, again.y - y) <= 256 * 0.085


def test_no_tensorflow_import():
    code = ("import sys, numpy as np; from glaucli.data.disc import locate_disc; "
            "locate_disc(np.zeros((32, 32, 3), np.uint8)); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
