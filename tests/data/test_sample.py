from __future__ import annotations

import hashlib

import numpy as np

from glaucli.data.layout import CLASSES, SPLITS, read_manifest


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.jpg"))}


def test_layout_counts_and_determinism(cli, tmp_path):
    cli("sample", tmp_path / "a", "--per-class", "20", "--size", "48", "--seed", "7")
    cli("sample", tmp_path / "b", "--per-class", "20", "--size", "48", "--seed", "7")
    cli("sample", tmp_path / "c", "--per-class", "20", "--size", "48", "--seed", "8")
    for split, n in (("train", 20), ("validation", 2), ("test", 2)):
        for cls in CLASSES:
            assert len(list((tmp_path / "a" / split / cls).glob("*.jpg"))) == n
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    assert read_manifest(tmp_path / "a")["counts"]["train"] == {"NRG": 20, "RG": 20}
    assert set(read_manifest(tmp_path / "a")["counts"]) == set(SPLITS)


def test_refuses_to_write_over_existing_data(cli, tmp_path):
    target = tmp_path / "keep"
    target.mkdir()
    (target / "precious.txt").write_text("x")
    cli("sample", target, code=3)
    assert (target / "precious.txt").read_text() == "x"
    assert [p.name for p in target.iterdir()] == ["precious.txt"]


def test_images_look_like_fundus_and_carry_the_label():
    from glaucli.data.sample import make_fundus

    rng = np.random.default_rng(0)
    img = make_fundus("RG", 96, rng)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert img[:3, :3].mean() < 25  # dark corners
    assert img[48, 48, 0] > img[48, 48, 2]  # orange-red fundus
    # Brightest blob (cup) is larger for RG than NRG on average.
    bright = {c: np.mean([(make_fundus(c, 96, rng).min(axis=2) > 200).sum() for _ in range(20)])
              for c in CLASSES}
    assert bright["RG"] > 2 * bright["NRG"]
