"""Helpers shared by tests (import them from here; conftest.py only holds fixtures)."""

from __future__ import annotations

from pathlib import Path


def make_sample(dest: Path, per_class: int = 6, size: int = 64, seed: int = 0) -> Path:
    """A tiny generated fundus set in the split/class layout (glaucli sample)."""
    from glaucli.data.sample import write_sample

    write_sample(dest, per_class=per_class, size=size, seed=seed)
    return dest
