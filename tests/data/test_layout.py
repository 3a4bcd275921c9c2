from __future__ import annotations

import json

import pytest

from glaucli.data.layout import Dataset, find_tree
from glaucli.errors import InputError
from tests.conftest import make_sample


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
