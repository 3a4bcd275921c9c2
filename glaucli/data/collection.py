"""A labelled collection: (path, label, split) entries plus where they came from.

Every command that reads data gets one from `resolve()`, whatever its shape:
a folder tree (`train/RG`, `Glaucoma/Non-Glaucoma`, `1/0`, with or without
splits), a folder of images plus a CSV of labels (`--labels`), or a CSV
manifest given as `--data` (paths relative to the CSV, as `glaucli split`
writes). Memory is the file list; images are read later, by the pipeline.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from glaucli.data import layout
from glaucli.data.labels import CLASSES, ClassMap, parse_classes
from glaucli.errors import InputError, UsageError

ALL = "all"  # every entry, whatever its split (external validation)


@dataclass
class DataSpec:
    """What the user said about the data: every data-reading command takes these options."""

    path: Path | None = None  # folder, CSV manifest, or None: the newest download
    labels: Path | None = None  # a CSV of labels for the images under `path`
    classes: str | None = None  # --classes RG=glaucoma,NRG=normal
    image_column: str | None = None
    label_column: str | None = None
    split_column: str | None = None
    group_column: str | None = None
    skip_missing: bool = False
    variant: str | None = None

    def record(self) -> dict:
        """JSON form with absolute paths, for meta.json (a resume or an evaluation re-reads it)."""
        out = asdict(self)
        for key in ("path", "labels"):
            out[key] = str(Path(out[key]).resolve()) if out[key] else None
        return out


@dataclass
class Collection:
    entries: list[tuple[Path, int, str]]  # split "" when the source has none
    root: Path  # the tree's folder, or the CSV
    kind: str  # folders | csv | manifest
    spec: DataSpec
    classes: ClassMap
    skipped: dict = field(default_factory=dict)  # kind -> count, plus "examples"
    synthetic: bool = False
    groups: list[str] | None = None  # one per entry, with --group-column
    notes: list[str] = field(default_factory=list)  # for stderr: the caller prints them
    warnings: list[str] = field(default_factory=list)
    folders: dict = field(default_factory=dict)  # (split, label) -> class folders, for messages
    _fingerprint: str | None = None

    def splits(self) -> list[str]:
        present = {split for _, _, split in self.entries}
        return [s for s in layout.SPLITS if s in present]

    def files(self, split: str, limit: int | None = None) -> list[tuple[Path, int]]:
        """(path, label) pairs of one split (`all`: every entry); at most `limit` per class."""
        taken = [0, 0]
        pairs = []
        for path, label, s in self.entries:
            if (split == ALL or s == split) and (limit is None or taken[label] < limit):
                taken[label] += 1
                pairs.append((path, label))
        return pairs

    def require(self, split: str, limit: int | None = None) -> list[tuple[Path, int]]:
        """Like files(), but an InputError when the split is absent or a class of it is empty."""
        if split != ALL and split not in self.splits():
            hint = (f"split it with `glaucli split {self.root} split.csv`, then pass --data split.csv"
                    + ("; or evaluate it whole with --split all" if not self.splits() else ""))
            raise InputError(f"{self.root} has no {split} split"
                             + (f" (it has {', '.join(self.splits())})" if self.splits() else ""), hint=hint)
        pairs = self.files(split, limit)
        for label, cls in enumerate(CLASSES):
            if not any(lab == label for _, lab in pairs):
                folders = self.folders.get((split, label))
                where = (f"{folders[0]} holds no images" if folders else
                         f"{self.root / split}/{cls} holds no images" if self.kind == "folders" else
                         f"{self.root} lists no {cls} images" + (f" in its {split} split" if split != ALL else ""))
                raise InputError(where, hint=f"the {split} split needs images of both classes")
        return pairs

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> images; the one key `all` when the source has no splits."""
        out: dict[str, dict[str, int]] = {}
        for _, label, split in self.entries:
            by_class = out.setdefault(split or ALL, dict.fromkeys(CLASSES, 0))
            by_class[CLASSES[label]] += 1
        if self.kind == "folders" and self.splits():  # a folder tree shows all three splits
            for s in layout.SPLITS:
                out.setdefault(s, dict.fromkeys(CLASSES, 0))
            return {s: out[s] for s in layout.SPLITS}
        return out

    def fingerprint(self) -> str:
        """A cheap identity of the list (names, sizes, labels, splits), for meta.json."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for path, label, split in self.entries:
                try:
                    size = os.stat(path).st_size
                except OSError:
                    size = -1
                digest.update(f"{split}/{CLASSES[label]}/{path.name}:{size}\n".encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def sources(self) -> list[Path]:
        """The files and folders this collection was read from (the tree or manifest, the
        labels CSV): inputs, which no output may name (safety.not_an_input)."""
        return [Path(p) for p in (self.root, self.spec.path, self.spec.labels) if p is not None]

    def describe(self) -> dict:
        """The `data` record of meta.json and metrics.json."""
        return {"path": str(self.root.resolve()), "kind": self.kind, "fingerprint": self.fingerprint(),
                "classes": self.classes.describe(), "skipped": self.skipped, "synthetic": self.synthetic,
                "spec": self.spec.record()}


def from_record(record: dict | None, path: Path | None = None) -> DataSpec:
    """The DataSpec a run recorded (older runs: just a folder); `path` replaces it whole."""
    if path is not None:
        return DataSpec(Path(path))
    record = record if isinstance(record, dict) else {}  # a corrupt record: runs.meta_data_record says so
    fields = record.get("spec") if isinstance(record.get("spec"), dict) else {}
    spec = DataSpec(**{k: v for k, v in fields.items() if k in DataSpec.__dataclass_fields__})
    if spec.path is None and record.get("path"):
        spec.path = record["path"]
    spec.path = Path(spec.path) if spec.path else None
    spec.labels = Path(spec.labels) if spec.labels else None
    return spec


def resolve(spec: DataSpec, data_dir: Path | None = None) -> Collection:
    """The collection `spec` names; InputError/UsageError (nothing printed) when it cannot be read."""
    from glaucli.data.csvlabels import read_labels

    classes = parse_classes(spec.classes)
    notes: list[str] = []
    path = spec.path
    if path is None and spec.labels is not None:
        path = Path(spec.labels).parent
    if path is None:
        path, _ = layout.latest_download(data_dir) if data_dir else (None, False)
        if path is None:
            raise InputError(f"no complete dataset under {data_dir}",
                             hint="run `glaucli download` (or `glaucli sample DIR`), or pass --data")
        notes.append(f"Using dataset {path}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if spec.group_column and spec.labels is None and not path.is_file():
        raise UsageError("--group-column needs a CSV (--labels FILE.csv, or a CSV as --data)")

    if path.is_file() or spec.labels is not None:
        csv_file = path if spec.labels is None else Path(spec.labels)
        base = path.parent if spec.labels is None else path
        if not base.is_dir():
            raise InputError(f"{base} is not a directory", hint="--data is the image folder the CSV's names are in")
        rows = read_labels(csv_file, base, classes, image_column=spec.image_column,
                           label_column=spec.label_column, split_column=spec.split_column,
                           group_column=spec.group_column, split_of=_split_of)
        skipped = _check_problems(rows.problems, csv_file, spec.skip_missing, notes)
        if not rows.entries:
            raise InputError(f"{csv_file} lists no usable image",
                             hint="check --data (the image folder) and the columns")
        used = ", ".join(f"{k} = {v!r}" for k, v in rows.columns.items() if v)
        notes.append(f"Labels from {csv_file} (columns: {used})")
        found = Collection(rows.entries, csv_file, "csv" if spec.labels is not None else "manifest", spec,
                           classes, skipped, _synthetic(base, base), rows.groups or None, notes)
    else:
        root = layout.find_tree(path, spec.variant, classes)
        listing = layout.walk_tree(root, classes)
        found = Collection(listing.entries, root, "folders", spec, classes, {}, _synthetic(root, path),
                           None, notes, folders=listing.folders)
        if listing.unknown:
            found.warnings.append("ignoring empty folders that are not a class: " + ", ".join(listing.unknown))
        if listing.merged():
            found.warnings.append("several folders read as one class: " + "; ".join(listing.merged()))
    if classes.automatic and any(layout.canonical(n) != c for n, c in classes.seen.items()):
        found.notes.append("Classes: " + ", ".join(f"{n} -> {c}" for n, c in sorted(classes.seen.items()))
                           + " (override with --classes)")
    if found.synthetic:
        found.warnings.append(f"{found.root} is a synthetic sample set (glaucli sample), not real photographs: "
                              "its results say nothing about glaucoma")
    return found


def _split_of(value: str) -> str | None:
    if not value.strip():
        return ""
    split = layout.canonical(value.strip())
    return split if split in layout.SPLITS else None


def _check_problems(problems: dict[str, list[str]], source: Path, skip: bool, notes: list[str]) -> dict:
    if not problems:
        return {}
    words = {"missing": "image not found", "duplicate": "duplicate", "unknown_label": "unknown label",
             "unknown_split": "unknown split"}
    summary = "; ".join(f"{len(rows)} {words[kind]} ({', '.join(rows[:3])}{', ...' if len(rows) > 3 else ''})"
                        for kind, rows in problems.items())
    if not skip:
        hint = "leave them out with --skip-missing"
        if "unknown_label" in problems:
            hint += "; name label values with --classes RG=VALUE,NRG=VALUE"
        raise InputError(f"{source}: {sum(map(len, problems.values()))} row(s) unusable: {summary}", hint=hint)
    notes.append(f"Skipped rows of {source}: {summary}")
    return {**{kind: len(rows) for kind, rows in problems.items()},
            "examples": [r for rows in problems.values() for r in rows[:3]]}


def _synthetic(root: Path, given: Path) -> bool:
    """Whether a `glaucli sample` manifest marks the tree (at its root or a folder above,
    up to the folder the user gave)."""
    root, given = root.resolve(), given.resolve()
    for folder in (root, *root.parents):
        manifest = layout.read_manifest(folder)
        if manifest is not None:
            return (manifest.get("source") or {}).get("kind") == "sample"
        if folder == given or folder == folder.parent:
            break
    return False
