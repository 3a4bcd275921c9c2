"""What `glaucli data` finds in a collection's images: their sizes and, when every image is
decoded, which ones are unreadable and which are duplicates (within and across splits)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from glaucli import events
from glaucli.data.duplicates import DuplicateFinder, thumbnail
from glaucli.data.images import ImageError, image_size, load_image
from glaucli.safety import file_sha256


@dataclass
class Survey:
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    unreadable: list[dict[str, str]] = field(default_factory=list)  # {"path", "error"}
    duplicates: dict | None = None  # DuplicateFinder.report(), only when every image was decoded

    @property
    def leaks(self) -> list:
        """Groups of identical files, or of confirmed copies of one photo (re-encoded, resized,
        slightly cropped, brightness-shifted), in more than one split (train/test leakage)."""
        if not self.duplicates:
            return []
        return self.duplicates["identical"]["across_splits"] + self.duplicates["near"]["across_splits"]

    def size_summary(self) -> dict:
        """{"most_common", "min", "max": [w, h], "distinct": n}; {} without a readable image."""
        if not self.sizes:
            return {}
        by_area = sorted(self.sizes, key=lambda wh: (wh[0] * wh[1], wh))
        return {"most_common": list(self.sizes.most_common(1)[0][0]), "min": list(by_area[0]),
                "max": list(by_area[-1]), "distinct": len(self.sizes)}


def survey(entries: Iterable[tuple[Path, int, str]], decode: bool = False, *,
           on_event: events.Listeners = None) -> Survey:
    """Each (path, label, split) entry's image size from its header, or with `decode` from its
    pixels, hashed for duplicates as well. An unreadable image is listed, never raised.
    `on_event`: Progress("survey", done, total or None, "images") after each image (an event
    costs ~1.5 us; reading a header alone ~40)."""
    on_event = events.dispatcher(on_event)
    total = len(entries) if hasattr(entries, "__len__") else None
    found, finder = Survey(), DuplicateFinder()
    for done, (file, _, split) in enumerate(entries, 1):
        try:
            if decode:
                pixels = load_image(file)
                found.sizes[pixels.shape[1::-1]] += 1
                finder.add(file, split, file_sha256(file), thumbnail(pixels))
            else:
                found.sizes[image_size(file)] += 1
        except (ImageError, OSError) as exc:
            found.unreadable.append({"path": str(file), "error": str(exc)})
        on_event(events.Progress("survey", done, total, "images"))
    if decode:
        found.duplicates = finder.report()
    return found
