"""write_sample_set: the one atomic writer behind `glaucli sample` and `glaucli demo`."""

from __future__ import annotations

import pytest

from glaucli.data.layout import read_manifest
from glaucli.errors import InputError


def test_written_whole_with_its_manifest(tmp_path):
    from glaucli.data.sample import write_sample_set

    dest = tmp_path / "out" / "empty"
    dest.mkdir(parents=True)
    counts = write_sample_set(dest, per_class=2, size=32, seed=1)
    assert read_manifest(dest)["counts"] == counts
    assert read_manifest(dest)["source"] == {"kind": "sample", "per_class": 2, "size": 32, "seed": 1}
    assert [p.name for p in dest.parent.iterdir()] == ["empty"]  # no staging folder left


def test_interrupted_leaves_nothing_and_existing_data_is_kept(tmp_path):
    from glaucli.data.sample import write_sample_set

    def interrupt(event):
        raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_sample_set(out / "set", per_class=2, size=32, on_event=interrupt)
    assert list(out.iterdir()) == []  # neither the set nor its staging folder
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "precious.txt").write_text("x")
    with pytest.raises(InputError):
        write_sample_set(tmp_path / "keep", per_class=2, size=32)
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["precious.txt"]
