"""Split a collection that has no splits: stratified by class, grouped (patient, eye)
when asked, written as a manifest CSV (path,label,split): kilobytes, not copies."""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from pathlib import Path

from glaucli.data.labels import CLASSES
from glaucli.errors import InputError, UsageError
from glaucli.safety import owned_path


def assign(labels: list[int], val: float, test: float, seed: int, groups: list[str] | None = None) -> list[str]:
    """A split name per entry. Entries sharing a group go together; groups are stratified
    by their class make-up (all NRG, all RG, mixed) and dealt out until each split holds
    its share of images. With fractions above 0, a stratum of 3+ units gives each split one."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise UsageError("--val and --test must be within [0, 1) and leave images for training")
    units: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(groups if groups is not None else range(len(labels))):
        units[str(key)].append(i)
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for members in units.values():
        kinds = {labels[i] for i in members}
        strata["mixed" if len(kinds) > 1 else CLASSES[kinds.pop()]].append(members)
    rng = random.Random(seed)
    out = ["train"] * len(labels)
    for name in sorted(strata):
        members_list = sorted(strata[name])  # a fixed order before the seeded shuffle
        rng.shuffle(members_list)
        total = sum(map(len, members_list))
        groups = len(members_list)
        targets = [("test", _share(total, test, groups)), ("validation", _share(total, val, groups))]
        filled = {"test": 0, "validation": 0}
        for members in members_list:
            split = next((s for s, want in targets if filled[s] < want), "train")
            if split != "train":
                filled[split] += len(members)
            for i in members:
                out[i] = split
    return out


def _share(total: int, fraction: float, units: int) -> int:
    if fraction <= 0:
        return 0
    return max(1, round(total * fraction)) if units >= 3 else round(total * fraction)


def write_manifest_csv(dest: Path, entries: list[tuple[Path, int, str]], groups: list[str] | None = None) -> Path:
    """path,label,split[,group] with paths relative to the CSV's folder; written beside it,
    then renamed, and never over an existing file."""
    if dest.exists():
        raise InputError(f"{dest} already exists", hint="choose a new file name; glaucli never writes over files")
    dest.parent.mkdir(parents=True, exist_ok=True)
    base = dest.resolve().parent
    with owned_path(dest) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "split"] + (["group"] if groups else []))
        for i, (path, label, split) in enumerate(entries):
            rel = os.path.relpath(Path(path).resolve(), base).replace(os.sep, "/")
            writer.writerow([rel, CLASSES[label], split] + ([groups[i]] if groups else []))
    return dest
