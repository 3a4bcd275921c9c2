"""Helpers shared by tests (import them from here; conftest.py only holds fixtures)."""

from __future__ import annotations

from pathlib import Path


def make_sample(dest: Path, per_class: int = 6, size: int = 64, seed: int = 0) -> Path:
    """A tiny generated fundus set in the split/class layout (glaucli sample)."""
    from glaucli.data.sample import write_sample

    write_sample(dest, per_class=per_class, size=size, seed=seed)
    return dest


def error_line(result) -> str:
    """The one `Error:` line a failed command printed (no traceback, exactly one such line)."""
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def sample_zip(tmp_path: Path) -> Path:
    """set.zip: a tiny sample set under one `inner/` folder, as a downloaded archive holds it."""
    import zipfile

    src = make_sample(tmp_path / "zsrc", per_class=3, size=32)
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.rglob("*.jpg")):
            zf.write(f, "inner/" + f.relative_to(src).as_posix())
    return archive
