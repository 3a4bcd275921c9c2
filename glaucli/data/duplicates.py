"""Identical and near-identical images in a collection: within a split, and across splits
(train/test leakage, which flatters every figure measured on the test split)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dhash(pixels) -> str:
    """A 64-bit difference hash of an RGB array: the same for a photograph re-encoded,
    resized or slightly recompressed."""
    from PIL import Image

    small = Image.fromarray(pixels).convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    data = list(small.getdata())
    bits = [data[row * 9 + col] > data[row * 9 + col + 1] for row in range(8) for col in range(8)]
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


class DuplicateFinder:
    """Feed (path, split, keys) per image; `report()` groups equal keys."""

    def __init__(self):
        self.by_key: dict[str, dict[str, list[tuple[str, str]]]] = {"identical": defaultdict(list),
                                                                     "near": defaultdict(list)}

    def add(self, path: Path, split: str, digest: str, near: str | None = None) -> None:
        self.by_key["identical"][digest].append((str(path), split or "all"))
        if near is not None:
            self.by_key["near"][near].append((str(path), split or "all"))

    def report(self) -> dict:
        """{"identical": {"within_split": [...], "across_splits": [...]}, "near": {...}}, each
        group a list of {"path", "split"}; a near group that is all identical files is left out."""
        identical_sets = {frozenset(p for p, _ in group) for group in self.by_key["identical"].values()
                          if len(group) > 1}
        out = {}
        for kind, groups in self.by_key.items():
            within, across = [], []
            for group in groups.values():
                if len(group) < 2 or (kind == "near" and frozenset(p for p, _ in group) in identical_sets):
                    continue
                rows = [{"path": p, "split": s} for p, s in sorted(group)]
                (across if len({s for _, s in group}) > 1 else within).append(rows)
            out[kind] = {"within_split": within, "across_splits": across}
        return out
