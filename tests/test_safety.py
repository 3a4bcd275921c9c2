"""safety.py's file helpers: one temp-and-rename for every file glaucli writes."""

from __future__ import annotations

import numpy as np
import pytest

from glaucli.safety import atomic_path, read_json_object, write_json_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    tmp_path = tmp_path / "out"  # beside the fixtures' own folders
    tmp_path.mkdir()
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"auc": 0.9, "nan": float("nan")})
    assert read_json_object(target) == {"auc": 0.9, "nan": None}  # strict JSON: no NaN
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("{half")
        raise RuntimeError("disk full")
    assert read_json_object(target) == {"auc": 0.9, "nan": None}
    write_text_atomic(tmp_path / "r.html", "é")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == "é"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "r.html"]


def test_the_temp_keeps_the_suffix(tmp_path):
    """np.savez appends .npz to a name without it; savefig picks the format by suffix."""
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with atomic_path(tmp_path / "ood.npz") as tmp:
        assert tmp.suffix == ".npz" and tmp.parent == tmp_path
        np.savez(tmp, a=np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ood.npz"]
    assert np.load(tmp_path / "ood.npz")["a"].tolist() == [0, 1, 2]
