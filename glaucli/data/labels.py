"""Class names -> labels: `--classes RG=glaucoma,NRG=normal,healthy` or the common names.

One mapping serves class folders and the label column of a CSV alike. Names
are compared case-insensitively with `-`, `_` and spaces treated alike, so
`Non-Glaucoma`, `non_glaucoma` and `NON GLAUCOMA` are one name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from glaucli.errors import InputError, UsageError

CLASSES = ("NRG", "RG")  # label index = position: NRG = 0, RG = 1
# Names seen in public fundus collections; no dataset is named, only the words.
AUTO = {
    "RG": ("rg", "glaucoma", "glaucomatous", "glaucoma-positive", "referable-glaucoma", "positive",
           "pos", "1", "yes", "true"),
    "NRG": ("nrg", "normal", "healthy", "non-glaucoma", "nonglaucoma", "no-glaucoma", "not-glaucoma",
            "glaucoma-negative", "non-referable-glaucoma", "negative", "neg", "0", "no", "false"),
}


def normalise(name: str) -> str:
    text = re.sub(r"[\s_\-]+", "-", str(name).strip().lower()).strip("-")
    if re.fullmatch(r"[01]\.0+", text):  # a spreadsheet's 1.0 / 0.0
        text = text[0]
    return text


@functools.lru_cache(maxsize=1024)  # a CSV repeats a handful of values 100k times
def _normalised(name: str) -> str:
    return normalise(name)


@dataclass
class ClassMap:
    """Which names stand for which class; records the names it actually met."""

    names: dict[str, str]  # normalised name -> "RG" / "NRG"
    automatic: bool
    seen: dict[str, str] = field(default_factory=dict)  # name as met -> class

    def label_of(self, name: str) -> int | None:
        cls = self.names.get(_normalised(name))
        return None if cls is None else CLASSES.index(cls)

    def use(self, name: str) -> int | None:
        """label_of, remembering the name for describe()."""
        label = self.label_of(name)
        if label is not None:
            self.seen.setdefault(str(name), CLASSES[label])
        return label

    def describe(self) -> dict:
        """For meta.json / metrics.json: the names met and how the mapping was chosen."""
        return {"mapping": dict(sorted(self.seen.items())), "source": "automatic" if self.automatic else "--classes"}

    def unknown_error(self, what: str, found: list[str]) -> InputError:
        known = ", ".join(f"{c}: {'/'.join(n for n in sorted(self.names) if self.names[n] == c)}" for c in CLASSES)
        return InputError(f"{what}: " + ", ".join(found[:12]) + (" ..." if len(found) > 12 else ""),
                          hint="name the classes with --classes RG=NAME,NRG=NAME (names this run knows: "
                               + (known if not self.automatic else "the common ones") + ")")


def parse_classes(text: str | None) -> ClassMap:
    """`RG=glaucoma,NRG=normal,healthy` (a name without `=` adds to the class before it).
    Either side may hold the class: `glaucoma=RG` is read the same way. None: the common names."""
    if not text:
        return ClassMap({normalise(n): c for c, names in AUTO.items() for n in names}, automatic=True)
    names: dict[str, str] = {}
    current = None
    for part in filter(None, (p.strip() for p in text.split(","))):
        left, sep, right = (s.strip() for s in part.partition("="))
        if sep:
            if left.upper() in CLASSES:
                current, name = left.upper(), right
            elif right.upper() in CLASSES:
                current, name = right.upper(), left
            else:
                raise UsageError(f"--classes: {part!r} names neither RG nor NRG",
                                 hint="write --classes RG=glaucoma,NRG=normal,healthy")
        elif current is None:
            raise UsageError(f"--classes: {part!r} has no class", hint="start with RG=NAME or NRG=NAME")
        else:
            name = left
        if not name:
            raise UsageError(f"--classes: empty name in {part!r}")
        key = normalise(name)
        if names.get(key, current) != current:
            raise UsageError(f"--classes: {name!r} is given to both RG and NRG")
        names[key] = current
    missing = [c for c in CLASSES if c not in names.values()]
    if missing:
        raise UsageError(f"--classes names no folder or value for {' and '.join(missing)}",
                         hint="write --classes RG=glaucoma,NRG=normal")
    return ClassMap(names, automatic=False)
