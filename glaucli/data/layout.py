"""Find and check the split/class tree: `<root>/{train,validation,test}/{NRG,RG}`.

Real archives nest it (`release-crop/release-crop/train/RG`,
`eyepac-light-v2-512-jpg/train/RG`); v1 also carries a `release-raw` tree
beside `release-crop`, which is why the preferred variant is `release-crop`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePath

from glaucli.data.images import is_image_file
from glaucli.errors import InputError

SPLITS = ("train", "validation", "test")
CLASSES = ("NRG", "RG")  # label index = position: NRG = 0, RG = 1
# Other spellings seen in the wild, matched case-insensitively ("val", "Train", "rg").
_ALIASES = {"train": ("train", "training"), "validation": ("validation", "val", "valid"),
            "test": ("test", "testing"), "NRG": ("nrg",), "RG": ("rg",)}
_CANONICAL = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
PREFERRED_VARIANT = "release-crop"
MANIFEST = "manifest.json"
_MAX_DEPTH = 6


def canonical(name: str) -> str | None:
    """The split or class a folder name stands for (`Val` -> `validation`), or None."""
    return _CANONICAL.get(name.lower())


def subdir(parent: Path, name: str) -> Path:
    """The child folder of `parent` that stands for split/class `name`, in whatever spelling
    it exists; `parent / name` when there is none."""
    if (parent / name).is_dir():
        return parent / name
    try:
        return next(d for d in sorted(parent.iterdir()) if d.is_dir() and canonical(d.name) == name)
    except (StopIteration, OSError):
        return parent / name


def _is_split_dir(path: Path) -> bool:
    return all(subdir(path, cls).is_dir() for cls in CLASSES)


def _is_root(path: Path) -> bool:
    return any(_is_split_dir(subdir(path, split)) for split in SPLITS)


def find_roots(path: Path) -> list[Path]:
    """Every directory under `path` (itself included) that holds split folders."""
    found: list[Path] = []
    for current, dirs, _files in os.walk(path, followlinks=False):
        here = Path(current)
        if len(here.relative_to(path).parts) > _MAX_DEPTH:
            dirs[:] = []
            continue
        if _is_root(here):
            found.append(here)
            dirs[:] = []  # a root's own split folders are not roots
        else:
            dirs.sort()
    return found


def find_tree(path: Path, variant: str | None = None) -> Path:
    """The one split/class tree under `path`, or an InputError that says why not."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a directory")
    roots = find_roots(path)
    if not roots:
        raise InputError(
            f"no dataset tree under {path}",
            hint="expected train/, validation/, test/ folders each holding NRG/ and RG/",
        )
    rel = choose_root([r.relative_to(path) for r in roots], variant, str(path))
    return path / rel


def choose_root(roots: list[PurePath], variant: str | None, where: str) -> PurePath:
    """Pick one tree among candidates (relative paths): the variant asked for,
    else release-crop when present, else the only one."""
    if variant:
        chosen = [r for r in roots if variant in r.parts]
        if not chosen:
            raise InputError(f"no dataset variant {variant!r} under {where}",
                             hint="trees found: " + _names(roots))
        roots = chosen
    elif len(roots) > 1:
        roots = [r for r in roots if PREFERRED_VARIANT in r.parts] or roots
    if len(roots) > 1:
        raise InputError(f"several dataset trees under {where}: " + _names(roots),
                         hint="pick one with --variant NAME or pass its folder")
    return roots[0]


def _names(roots: list[PurePath]) -> str:
    return ", ".join(str(r) if r.parts else "." for r in roots)


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, any extension case, sorted."""
    if not folder.is_dir():
        return []
    files = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        files.extend(Path(current) / n for n in sorted(names) if is_image_file(Path(n)))
    return files


@dataclass(frozen=True)
class Dataset:
    """A split/class tree on disk."""

    root: Path

    def folder(self, split: str, cls: str) -> Path:
        return subdir(subdir(self.root, split), cls)

    def files(self, split: str, limit: int | None = None) -> list[tuple[Path, int]]:
        """(path, label) pairs of one split; at most `limit` per class."""
        pairs = []
        for label, cls in enumerate(CLASSES):
            images = list_images(self.folder(split, cls))
            pairs.extend((p, label) for p in images[:limit])
        return pairs

    def unknown_folders(self) -> list[str]:
        """Folders beside the class folders that glaucli ignores (e.g. train/SUSPECT)."""
        found = []
        for split in SPLITS:
            folder = subdir(self.root, split)
            if folder.is_dir():
                found += [f"{folder.name}/{d.name}" for d in folder.iterdir()
                          if d.is_dir() and canonical(d.name) not in CLASSES]
        return sorted(found)

    def counts(self) -> dict[str, dict[str, int]]:
        return {split: {cls: len(list_images(self.folder(split, cls))) for cls in CLASSES}
                for split in SPLITS}

    def require(self, split: str, limit: int | None = None) -> list[tuple[Path, int]]:
        """Like files(), but an InputError when a class of the split is empty."""
        pairs = self.files(split, limit)
        for label, cls in enumerate(CLASSES):
            if not any(lab == label for _, lab in pairs):
                raise InputError(f"{self.folder(split, cls)} holds no images",
                                 hint=f"the {split} split needs images of both classes")
        return pairs

    def fingerprint(self) -> str:
        """A cheap identity of the file list (names and sizes), for meta.json."""
        import hashlib

        digest = hashlib.sha256()
        for split in SPLITS:
            for cls in CLASSES:
                for p in list_images(self.folder(split, cls)):
                    digest.update(f"{split}/{cls}/{p.name}:{p.stat().st_size}\n".encode())
        return digest.hexdigest()[:16]


def write_manifest(target: Path, source: dict, counts: dict) -> Path:
    """manifest.json, written last and atomically: its presence means 'complete'."""
    body = {"schema": 1, "source": source, "counts": counts,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    tmp = target / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, target / MANIFEST)
    return target / MANIFEST


def read_manifest(target: Path) -> dict | None:
    try:
        return json.loads((target / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def latest_download(data_dir: Path) -> Path | None:
    """The newest complete dataset (one with a manifest) under `data_dir`."""
    if not data_dir.is_dir():
        return None
    complete = [(m.get("created_at", ""), d) for d in data_dir.iterdir()
                if d.is_dir() and (m := read_manifest(d)) is not None]
    return max(complete)[1] if complete else None


def resolve_dataset(path: Path | None, data_dir: Path, variant: str | None = None) -> Dataset:
    """A dataset from an explicit path, or the newest complete download."""
    from glaucli import console

    if path is None:
        found = latest_download(data_dir)
        if found is None:
            raise InputError(f"no complete dataset under {data_dir}",
                             hint="run `glaucli download` (or `glaucli sample DIR`), or pass a folder")
        console.info(f"Using dataset {found}")
        path = found
    dataset = Dataset(find_tree(Path(path), variant))
    if dataset.unknown_folders():
        console.warn(f"ignoring folders that are not a class ({', '.join(CLASSES)}): "
                     + ", ".join(dataset.unknown_folders()))
    return dataset
