"""A decoded-image cache: each image is decoded and resized once, later epochs read uint8 pixels.

Filled lazily by the pipeline's parallel decode (the first epoch decodes as before), so
it costs no start-up pass. In memory when the images fit a quarter of the available RAM,
else in a file next to the run (a numpy memmap the OS pages in and out). Augmentation
stays live: the cache holds the loader's output, before any random layer.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from glaucli.errors import UsageError

MODES = ("auto", "memory", "disk", "none")
FILE = ".image-cache.u8"  # inside the run folder; removed when training ends
RAM_SHARE = 4  # "memory" when the images take at most 1/RAM_SHARE of the available memory


def available_memory() -> int:
    """Bytes of memory available to new allocations (Linux MemAvailable, else free pages)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def choose(mode: str, n_images: int, size: int, budget: int | None = None) -> str:
    """The mode "auto" resolves to for this many images at this size: memory or disk."""
    if mode not in MODES:
        raise UsageError(f"--cache must be one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    budget = available_memory() // RAM_SHARE if budget is None else budget
    return "memory" if n_images * size * size * 3 <= budget else "disk"


class ImageCache:
    """Decoded images of `paths` at `size` px; `load` is the pipeline's decode function."""

    def __init__(self, paths, size: int, mode: str, folder: Path | None = None):
        from glaucli.data.pipeline import _decode

        self._decode = _decode
        self.size, self.mode = size, mode
        self.index = {str(p).encode(): i for i, p in enumerate(dict.fromkeys(map(str, paths)))}
        shape = (max(1, len(self.index)), size, size, 3)
        self.path = None
        if mode == "disk":
            if folder is None:
                raise ValueError("a disk cache needs a folder")
            self.path = Path(folder) / FILE
            self.pixels = np.memmap(self.path, dtype=np.uint8, mode="w+", shape=shape)
        else:
            self.pixels = np.empty(shape, dtype=np.uint8)
        self.filled = np.zeros(shape[0], dtype=bool)

    def load(self, path: bytes, size) -> np.ndarray:
        i = self.index.get(bytes(path))
        if i is None or int(size) != self.size:  # not ours: decode as without a cache
            return self._decode(path, size)
        if self.filled[i]:
            return np.array(self.pixels[i])
        image = self._decode(path, size)
        self.pixels[i] = image
        self.filled[i] = True  # after the pixels: a concurrent reader never sees a half image
        return image

    def close(self) -> None:
        """Drop the pixels and the file (glaucli made it; nothing else refers to it)."""
        self.pixels = np.empty((0, self.size, self.size, 3), dtype=np.uint8)
        self.filled = np.zeros(0, dtype=bool)
        self.index = {}
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_cache(mode: str, paths, size: int, folder: Path | None) -> ImageCache | None:
    """The cache for these images, or None for mode "none"."""
    chosen = choose(mode, len(paths), size)
    return None if chosen == "none" else ImageCache(paths, size, chosen, folder)
