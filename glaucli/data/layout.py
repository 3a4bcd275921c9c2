"""Find and walk folder trees: `<root>/{train,validation,test}/<class>` or `<root>/<class>`.

Class folders are named by a ClassMap (data/labels.py): NRG/RG, glaucoma/normal,
Glaucoma/Non-Glaucoma, 1/0 or whatever `--classes` says.

Real archives nest it (`release-crop/release-crop/train/RG`,
`eyepac-light-v2-512-jpg/train/RG`); v1 also carries a `release-raw` tree
beside `release-crop`, which is why the preferred variant is `release-crop`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePath

from glaucli.contract import SCHEMA
from glaucli.data.images import walk_images
from glaucli.data.labels import CLASSES, ClassMap, parse_classes
from glaucli.errors import InputError
from glaucli.safety import read_json_object, write_json_atomic

SPLITS = ("train", "validation", "test")
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


def _child_dirs(path: Path) -> list[Path]:
    try:
        return sorted(d for d in path.iterdir() if d.is_dir())
    except OSError:
        return []


def _is_class_dir_parent(path: Path, classes: ClassMap) -> bool:
    """Whether `path` holds a folder of each class."""
    return {classes.label_of(d.name) for d in _child_dirs(path)} >= {0, 1}


def _is_root(path: Path, classes: ClassMap) -> bool:
    return any(canonical(d.name) in SPLITS and _is_class_dir_parent(d, classes) for d in _child_dirs(path))


def find_roots(path: Path, classes: ClassMap | None = None) -> list[Path]:
    """Every directory under `path` (itself included) that holds split folders, or class
    folders without splits (`Glaucoma/`, `Non-Glaucoma/`)."""
    classes = classes or parse_classes(None)
    found: list[Path] = []
    for current, dirs, _files in os.walk(path, followlinks=False):
        here = Path(current)
        if len(here.relative_to(path).parts) > _MAX_DEPTH:
            dirs[:] = []
            continue
        if _is_root(here, classes) or (canonical(here.name) not in SPLITS
                                       and _is_class_dir_parent(here, classes)):
            found.append(here)
            dirs[:] = []  # a root's own split and class folders are not roots
        else:
            dirs.sort()
    return found


def find_tree(path: Path, variant: str | None = None, classes: ClassMap | None = None) -> Path:
    """The one split/class (or class-only) tree under `path`, or an InputError that says why not."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a directory")
    roots = find_roots(path, classes)
    if not roots:
        found = sorted({d.name for d in _child_dirs(path)}
                       | {d.name for s in _child_dirs(path) if canonical(s.name) in SPLITS for d in _child_dirs(s)})
        raise InputError(
            f"no dataset tree under {path}" + (f" (folders found: {', '.join(found[:12])})" if found else ""),
            hint="expected class folders (NRG/RG, glaucoma/normal...), optionally inside train/, validation/, "
                 "test/; name yours with --classes RG=NAME,NRG=NAME, or give labels with --labels FILE.csv",
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
    return list(walk_images(folder))


@dataclass
class Listing:
    """What a walk of a tree found: (path, label, split) entries ("" when the tree has no
    splits), the class folders behind each (split, label), and empty unknown folders."""

    entries: list[tuple[Path, int, str]]
    folders: dict[tuple[str, int], list[Path]]
    unknown: list[str]

    def merged(self) -> list[str]:
        """Splits where several folders were read as one class (`NRG` and `nrg`, `normal`
        and `healthy`): worth a warning, since it is sometimes a mistake."""
        return [f"{' + '.join(d.name for d in dirs)} -> {CLASSES[label]}" + (f" in {split}" if split else "")
                for (split, label), dirs in self.folders.items() if len(dirs) > 1]


def walk_tree(root: Path, classes: ClassMap) -> Listing:
    """Every image of a tree, in split order, then class order (NRG first).

    An unknown folder beside the class folders is warned about when empty and refused
    when it holds images: guessing would silently drop or mislabel photographs."""
    children = _child_dirs(root)
    split_dirs = [(s, d) for s in SPLITS for d in children if canonical(d.name) == s]
    if not split_dirs:
        split_dirs = [("", root)]
    entries: list[tuple[Path, int, str]] = []
    folders: dict[tuple[str, int], list[Path]] = {}
    unknown, refused = [], []
    for split, folder in split_dirs:
        labelled = []
        for d in _child_dirs(folder):
            label = classes.use(d.name)
            name = d.relative_to(root).as_posix()
            if label is not None:
                labelled.append((label, d))
            elif list_images(d):
                refused.append(name)
            else:
                unknown.append(name)
        for label, d in sorted(labelled, key=lambda item: item[0]):
            folders.setdefault((split, label), []).append(d)
            entries.extend((p, label, split) for p in list_images(d))
    if refused:
        raise classes.unknown_error(f"folders under {root} that are no class", refused)
    return Listing(entries, folders, sorted(unknown))


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
    body = {"schema": SCHEMA, "source": source, "counts": counts,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(target / MANIFEST, body)
    return target / MANIFEST


def read_manifest(target: Path) -> dict | None:
    """The manifest of a complete dataset; None when missing or corrupt (a list, no counts)."""
    manifest = read_json_object(target / MANIFEST)
    return manifest if manifest is not None and isinstance(manifest.get("counts"), dict) else None


def _field(manifest: dict, *keys: str) -> str | None:
    """A text field of a manifest; anything else (a corrupt file) reads as missing."""
    value = manifest
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def latest_download(data_dir: Path) -> tuple[Path | None, bool]:
    """The newest complete dataset (one with a manifest) under `data_dir`, and whether it
    is synthetic: a downloaded dataset wins over any `glaucli sample` set."""
    if not data_dir.is_dir():
        return None, False
    complete = [(_field(m, "source", "kind") != "sample", _field(m, "created_at") or "", d)
                for d in data_dir.iterdir() if d.is_dir() and (m := read_manifest(d)) is not None]
    if not complete:
        return None, False
    real, _, found = max(complete)
    return found, not real
