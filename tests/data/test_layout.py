from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glaucli.data.layout import Dataset, find_tree
from glaucli.errors import InputError
from tests.helpers import make_sample


def test_finds_nested_tree_and_prefers_release_crop(tmp_path):
    make_sample(tmp_path / "release-crop" / "release-crop", per_class=2, size=32)
    make_sample(tmp_path / "release-raw" / "release-raw", per_class=2, size=32)
    assert find_tree(tmp_path) == tmp_path / "release-crop" / "release-crop"
    assert find_tree(tmp_path, variant="release-raw") == tmp_path / "release-raw" / "release-raw"
    with pytest.raises(InputError):
        find_tree(tmp_path, variant="nope")


def test_several_candidates_are_listed(tmp_path):
    make_sample(tmp_path / "a", per_class=2, size=32)
    make_sample(tmp_path / "b", per_class=2, size=32)
    with pytest.raises(InputError, match="several dataset trees.*a, b"):
        find_tree(tmp_path)


def test_no_tree(tmp_path):
    (tmp_path / "train" / "RG").mkdir(parents=True)
    with pytest.raises(InputError, match="no dataset tree"):
        find_tree(tmp_path)


def test_counts_any_extension_case(tmp_path):
    root = make_sample(tmp_path / "eyepac-light-v2-512-jpg", per_class=3, size=32)
    (root / "train" / "RG" / "train_RG_00000.jpg").rename(root / "train" / "RG" / "UPPER.JPG")
    (root / "train" / "RG" / "notes.txt").write_text("not an image")
    ds = Dataset(find_tree(tmp_path))
    assert ds.counts() == {"train": {"NRG": 3, "RG": 3}, "validation": {"NRG": 2, "RG": 2},
                           "test": {"NRG": 2, "RG": 2}}
    labels = [label for _, label in ds.files("train")]
    assert labels == [0, 0, 0, 1, 1, 1]
    assert len(ds.files("train", limit=1)) == 2


def test_data_command_counts_and_verify(cli, tmp_path):
    root = make_sample(tmp_path / "release-crop" / "release-crop", per_class=3, size=32)
    info = cli.json("data", tmp_path)
    assert info["path"] == str(root) and info["total"] == 14
    assert info["image_sizes"]["most_common"] == [32, 32]
    (root / "test" / "RG" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    result = cli("data", tmp_path, "--verify", "--json", code=1)
    bad = json.loads(result.stdout)["unreadable"]
    assert [b["path"] for b in bad] == [str(root / "test" / "RG" / "broken.jpg")]


def test_data_defaults_to_newest_download(cli, tmp_path):
    cli("data", code=3)
    cli("sample", tmp_path / "data" / "mini", "--per-class", "2", "--size", "32")
    assert cli.json("data")["path"] == str(tmp_path / "data" / "mini")


def test_other_spellings_of_splits_and_classes(cli, tmp_path):
    """`val`, `Train`, `rg`: found, counted, trained on; archives are normalised."""
    import zipfile

    src = make_sample(tmp_path / "src", per_class=3, size=32)
    odd = tmp_path / "odd"
    for split, new_split in (("train", "Train"), ("validation", "val"), ("test", "TEST")):
        for cls, new_cls in (("NRG", "nrg"), ("RG", "Rg")):
            (odd / new_split).mkdir(parents=True, exist_ok=True)
            shutil.copytree(src / split / cls, odd / new_split / new_cls)
    ds = Dataset(find_tree(odd))
    assert ds.counts()["validation"] == {"NRG": 2, "RG": 2} and ds.unknown_folders() == []
    cli("train", "basic-cnn", "--data", odd, "--image-size", "32", "--epochs", "1", "--quiet")
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(odd.rglob("*.jpg")):
            zf.write(f, "pack/" + f.relative_to(odd).as_posix())
    info = cli.json("download", "--from-zip", archive)
    assert (Path(info["path"]) / "validation" / "RG").is_dir() and info["counts"]["test"] == {"NRG": 2, "RG": 2}
