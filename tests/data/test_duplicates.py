"""data/duplicates.py: copies of a real photo are found, different photos of one kind are not.

tests/fixtures/retina.jpg is the public-domain (CC0) fundus photograph shipped as
skimage/data/retina.jpg in the scikit-image 0.26.0 wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from glaucli.data.duplicates import DuplicateFinder, thumbnail
from glaucli.data.sample import make_fundus
from tests.copies import copies

RETINA = Path(__file__).resolve().parents[1] / "fixtures" / "retina.jpg"


def _retina(size: int = 384) -> np.ndarray:
    return np.asarray(Image.open(RETINA).convert("RGB").resize((size, size), Image.Resampling.LANCZOS))


def test_copies_of_a_real_photo_are_one_group_and_look_alikes_are_not():
    original = _retina()
    finder = DuplicateFinder()
    finder.add(Path("retina.jpg"), "train", "retina", thumbnail(original))
    made = copies(original)
    for i, (kind, pixels) in enumerate(made.items()):
        finder.add(Path(kind), "train" if i % 2 else "test", kind, thumbnail(pixels))
    # Not copies: the mirror image (another eye's layout, the same camera), a crop of a quarter,
    # and generated fundus photos (a round field, a disc, vessels: alike at a glance).
    finder.add(Path("mirror"), "train", "mirror", thumbnail(original[:, ::-1].copy()))
    finder.add(Path("quarter crop"), "train", "quarter", thumbnail(original[:288, 96:].copy()))
    rng = np.random.default_rng(0)
    for i in range(6):
        finder.add(Path(f"generated-{i}"), "train", f"g{i}", thumbnail(make_fundus("NRG" if i % 2 else "RG", 128, rng)))
    report = finder.report()
    assert report["near"]["within_split"] == []
    [group] = report["near"]["across_splits"]
    assert sorted(row["path"] for row in group) == sorted(["retina.jpg", *made])
    assert report["identical"] == {"within_split": [], "across_splits": []}


def test_identical_files_are_not_reported_again_as_near():
    pixels = _retina(128)
    finder = DuplicateFinder()
    for name in ("a", "b"):
        finder.add(Path(name), "train", "same-digest", thumbnail(pixels))
    report = finder.report()
    assert len(report["identical"]["within_split"]) == 1 and report["near"]["within_split"] == []
