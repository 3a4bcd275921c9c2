"""Labels from a CSV: one row per image, columns found by name, image names resolved
under a folder with or without their extension (`TRAIN000000` -> `TRAIN000000.jpg`).

Rows whose image is missing, repeated rows and unknown label or split values are
counted and named; the caller refuses them unless asked to skip them.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from glaucli.data.images import is_image_file, walk_images
from glaucli.data.labels import ClassMap
from glaucli.errors import InputError

# Column names in priority order (compared lower-case, spaces as underscores); then any
# column whose name contains one of the words.
IMAGE_COLUMNS = ("path", "image", "image_path", "image_name", "image_id", "imagename", "file", "filename",
                 "file_name", "filepath", "img", "img_name", "imgname", "fundus", "challenge_id", "id", "name")
LABEL_COLUMNS = ("label", "class", "glaucoma", "diagnosis", "target", "y", "category", "classification",
                 "referable", "rg", "gt")
SPLIT_COLUMNS = ("split", "set", "subset", "partition")
_IMAGE_WORDS = ("image", "file", "path", "img")
_LABEL_WORDS = ("label", "class", "glaucoma", "diagnos")
EXAMPLES = 5  # problem rows named in a message


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def pick_column(header: list[str], given: str | None, preferred: tuple[str, ...], words: tuple[str, ...],
                what: str, option: str, source: Path, required: bool = True) -> str | None:
    """The header name to use: `given` (any case), else the first preferred name, else the
    first containing a word; an InputError that lists the columns when there is none."""
    by_key = {_key(h): h for h in header}
    if given:
        if _key(given) not in by_key:
            raise InputError(f"{source} has no column {given!r}", hint="columns: " + ", ".join(header))
        return by_key[_key(given)]
    for name in preferred:
        if name in by_key:
            return by_key[name]
    for h in header:
        if any(w in _key(h) for w in words):
            return h
    if required:
        raise InputError(f"no {what} column in {source} (columns: {', '.join(header)})",
                         hint=f"name it with {option} COLUMN")
    return None


class ImageFinder:
    """Resolves names listed in a CSV to files under `base`: a relative (or absolute) path
    as given, else by name with or without extension anywhere below `base` (indexed
    once, lazily, on the first name that is not a file as given)."""

    def __init__(self, base: Path):
        self.base = base
        self._index: dict[str, str | None] | None = None

    def _build(self) -> dict[str, str | None]:
        index: dict[str, str | None] = {}

        def add(key: str, path: str) -> None:
            index[key] = path if index.get(key, path) == path else None  # None: ambiguous

        for file in walk_images(self.base):  # iterative: a deep tree is no RecursionError
            path, n = str(file), file.name
            rel = file.relative_to(self.base).as_posix()
            for key in (rel, os.path.splitext(rel)[0], n, os.path.splitext(n)[0]):
                add(key, path)
        return index

    def find(self, name: str) -> Path | None:
        name = name.strip().replace("\\", "/")
        candidate = os.path.join(self.base, name)  # an absolute name stays absolute
        if os.path.isfile(candidate):
            return Path(candidate)
        if self._index is None:
            self._index = self._build()
        found = self._index.get(name.removeprefix("./")) or self._index.get(PurePath(name).name)
        if found is None and is_image_file(Path(name)):  # listed with another extension
            found = self._index.get(os.path.splitext(PurePath(name).name)[0])
        return Path(found) if found else None


@dataclass
class CsvRows:
    entries: list[tuple[Path, int, str]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)  # kind -> "row N: detail"
    columns: dict[str, str | None] = field(default_factory=dict)

    def add_problem(self, kind: str, text: str) -> None:
        self.problems.setdefault(kind, []).append(text)


def read_labels(source: Path, base: Path, classes: ClassMap, *, image_column: str | None = None,
                label_column: str | None = None, split_column: str | None = None,
                group_column: str | None = None, split_of=lambda value: value) -> CsvRows:
    """Every row of `source` as (path, label, split); problems collected, not raised."""
    if not source.is_file():
        raise InputError(f"{source} does not exist" if not source.exists() else f"{source} is not a file")
    if source.suffix.lower() in (".xlsx", ".xls", ".ods", ".numbers"):
        raise InputError(f"{source} is a spreadsheet; glaucli reads CSV",
                         hint="save the sheet as CSV (File > Save as > CSV) and pass that")
    try:
        fh = open(source, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{source} cannot be read ({exc.strerror})") from None
    with fh:
        sample = fh.read(8192)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        header = next(reader, None)
        if not header:
            raise InputError(f"{source} is empty", hint="expected a header row, e.g. image,label")
        header = [h.strip() for h in header]
        img = pick_column(header, image_column, IMAGE_COLUMNS, _IMAGE_WORDS, "image", "--image-column", source)
        lab = pick_column([h for h in header if h != img], label_column, LABEL_COLUMNS, _LABEL_WORDS, "label",
                          "--label-column", source)
        spl = pick_column(header, split_column, SPLIT_COLUMNS, (), "split", "--split-column", source,
                          required=False)
        grp = pick_column(header, group_column, (), (), "group", "--group-column", source) if group_column else None
        where = {h: i for i, h in enumerate(header)}
        rows = CsvRows(columns={"image": img, "label": lab, "split": spl, "group": grp})
        finder = ImageFinder(base)
        seen: set[str] = set()
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            def cell(column: str, row: list[str] = row) -> str:
                return row[where[column]].strip() if where[column] < len(row) else ""

            name, value = cell(img), cell(lab)
            label = classes.use(value)
            if label is None:
                rows.add_problem("unknown_label", f"row {number}: {value!r}")
                continue
            split = ""
            if spl:
                split = split_of(cell(spl))
                if split is None:
                    rows.add_problem("unknown_split", f"row {number}: {cell(spl)!r}")
                    continue
            path = finder.find(name) if name else None
            if path is None:
                rows.add_problem("missing", f"row {number}: {name or '(empty)'}")
                continue
            key = os.path.normcase(os.path.abspath(path))
            if key in seen:
                rows.add_problem("duplicate", f"row {number}: {name}")
                continue
            seen.add(key)
            rows.entries.append((path, label, split))
            if grp:
                rows.groups.append(cell(grp))
    return rows
