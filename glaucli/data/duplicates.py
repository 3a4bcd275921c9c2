"""Identical and near-identical images in a collection: within a split, and across splits
(train/test leakage, which flatters every figure measured on the test split).

Identical: the same bytes (SHA-256). Near-identical: the same photograph re-encoded, resized,
slightly cropped (a few %) or brightness/contrast-shifted. Photographs of one kind (fundus
photos: a round field, a disc, vessel arcades) look alike at a glance, so a small hash calls
different eyes the same; here a cheap descriptor only proposes candidates, and each candidate
pair is confirmed by aligning the two photos (scale and shift) and comparing their fine
detail region by region: a copy agrees in most regions, two eyes that share a camera's glare
or a similar layout agree in one or two at most.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

THUMB = 96  # luminance thumbnail side kept per image (9 KB)
NEIGHBOURS = 3  # candidates per image: its most similar descriptors ...
CANDIDATE = 0.85  # ... above this cosine similarity
COARSE = 0.85  # aligned mid-scale detail must correlate this well before the fine check
AGREE = 0.8  # the median over 3x3 regions of the fine-detail correlation: the verdict
SCALES = (0.90, 0.94, 0.97, 1.0, 1.03, 1.06, 1.10)  # crops / aspect changes of a few %


def thumbnail(pixels):
    """An RGB array's luminance as a THUMB x THUMB uint8 array (area-averaged, aspect ignored:
    the alignment absorbs a few % of aspect change)."""
    import numpy as np
    from PIL import Image

    small = Image.fromarray(pixels).convert("L").resize((THUMB, THUMB), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8)


def _band(t, lo: float, hi: float):
    from scipy import ndimage

    return ndimage.gaussian_filter(t, lo) - ndimage.gaussian_filter(t, hi)


def _half(t):
    return t.reshape(t.shape[0] // 2, 2, t.shape[1] // 2, 2).mean(axis=(1, 3))


def _unit(v):
    import numpy as np

    v = v - v.mean()
    norm = np.linalg.norm(v)
    return v / norm if norm else v


def descriptor(thumb):
    """The candidate descriptor: mid-scale detail of the central half of the photo (its frame
    and borders left out), unit length, so that a dot product is a correlation."""
    from scipy import ndimage

    t = _half(thumb.astype("float32"))  # 48 px
    mid = _band(t, 0.8, 4.0)[8:40, 8:40]
    return _unit(_half(ndimage.gaussian_filter(mid, 0.7)).ravel())


def _warp(t, sx: float, sy: float):
    """`t` scaled about its centre (sx, sy > 1: zoomed out)."""
    from scipy import ndimage

    c = (t.shape[0] - 1) / 2
    return ndimage.affine_transform(t, [sy, sx], offset=[c - sy * c, c - sx * c], order=1, mode="nearest")


def _box_sums(x, h: int, w: int):
    """The sum of every h x w window of `x` ("valid" positions), from its integral image: a
    third of the cost of _ncc's FFTs when done by convolution."""
    import numpy as np

    c = np.pad(np.asarray(x, dtype=np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]


def _ncc(image, template):
    """Normalised cross-correlation of `template` at every position inside `image`."""
    import numpy as np
    from scipy.signal import fftconvolve

    t = _unit(template)
    num = fftconvolve(image, t[::-1, ::-1], mode="valid")
    h, w = template.shape
    s1, s2 = _box_sums(image, h, w), _box_sums(np.square(image, dtype=np.float64), h, w)
    return num / np.sqrt(np.maximum(s2 - s1 ** 2 / template.size, 1e-9))


def agreement(a, b) -> float:
    """How well two thumbnails agree once aligned: the median over 3x3 regions of the central
    75 % of the correlation of their fine detail (1 for the same photo); 0 when even their
    mid-scale detail does not align (not the same photo)."""
    import numpy as np

    a, b = a.astype("float32"), b.astype("float32")
    # 1. coarse, at half size: the scale pair and shift that align b's mid-scale detail to a's centre
    template = _band(_half(a), 0.8, 4.0)[12:36, 12:36]
    coarse, sx0, sy0, dx, dy = -2.0, 1.0, 1.0, 0, 0
    for sx in SCALES:
        for sy in SCALES:
            if abs(sx - sy) > 0.07:
                continue
            found = _ncc(_band(_warp(_half(b), sx, sy), 0.8, 4.0)[4:44, 4:44], template)
            y, x = np.unravel_index(np.argmax(found), found.shape)
            if found[y, x] > coarse:
                coarse, sx0, sy0, dx, dy = float(found[y, x]), sx, sy, x - 8, y - 8
    if coarse < COARSE:
        return 0.0
    # 2. fine, at full size: refine scale (1 % steps) and shift, then compare region by region
    fine_a = _band(a, 0.7, 2.5)[12:84, 12:84]
    pad, r = 24, 3
    y0, x0 = pad + 12 + 2 * dy - r, pad + 12 + 2 * dx - r
    best, aligned = -2.0, None
    steps = (-0.02, -0.01, 0.0, 0.01, 0.02)
    for sx in (sx0 + s for s in steps):
        for sy in (sy0 + s for s in steps):
            fine_b = np.pad(_band(_warp(b, sx, sy), 0.7, 2.5), pad, mode="edge")
            region = fine_b[y0:y0 + 72 + 2 * r, x0:x0 + 72 + 2 * r]
            found = _ncc(region, fine_a)
            y, x = np.unravel_index(np.argmax(found), found.shape)
            if found[y, x] > best:
                best, aligned = float(found[y, x]), region[y:y + 72, x:x + 72]
    tiles = [float(_unit(fine_a[y:y + 24, x:x + 24].ravel()) @ _unit(aligned[y:y + 24, x:x + 24].ravel()))
             for y in (0, 24, 48) for x in (0, 24, 48)]
    return float(np.median(tiles))


def candidate_pairs(descriptors, neighbours: int = NEIGHBOURS, floor: float = CANDIDATE,
                    block: int = 2048) -> set[tuple[int, int]]:
    """(i, j), i < j: j among i's `neighbours` most similar descriptors (or i among j's) with a
    similarity of at least `floor`; computed a block of rows at a time."""
    import numpy as np

    d = np.asarray(descriptors, dtype="float32")
    pairs: set[tuple[int, int]] = set()
    k = min(neighbours, len(d) - 1)
    for start in range(0, len(d), block):
        sims = d[start:start + block] @ d.T
        for row, i in enumerate(range(start, min(start + block, len(d)))):
            sims[row, i] = -2
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k > 0 else np.empty((len(sims), 0), int)
        for row, js in enumerate(top):
            i = start + row
            pairs.update((min(i, int(j)), max(i, int(j))) for j in js if sims[row, j] >= floor)
    return pairs


class DuplicateFinder:
    """Feed (path, split, digest, thumbnail) per image; `report()` groups identical files and
    confirmed near-identical photos."""

    def __init__(self):
        self.identical: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.images: list[tuple[str, str]] = []
        self.thumbs: list = []

    def add(self, path: Path, split: str, digest: str, thumb=None) -> None:
        self.identical[digest].append((str(path), split or "all"))
        if thumb is not None and len(self.identical[digest]) == 1:  # one thumbnail per distinct file
            self.images.append((str(path), split or "all"))
            self.thumbs.append(thumb)

    def near_groups(self) -> list[list[tuple[str, str]]]:
        """Confirmed near-identical photos, grouped transitively, with every identical copy of each."""
        if len(self.thumbs) < 2:
            return []
        parent = list(range(len(self.thumbs)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in sorted(candidate_pairs([descriptor(t) for t in self.thumbs])):
            if root(i) != root(j) and agreement(self.thumbs[i], self.thumbs[j]) >= AGREE:
                parent[root(j)] = root(i)
        clusters = defaultdict(list)
        for i in range(len(self.thumbs)):
            clusters[root(i)].append(i)
        by_path = {group[0][0]: group for group in self.identical.values()}
        return [[entry for i in members for entry in by_path[self.images[i][0]]]
                for members in clusters.values() if len(members) > 1]

    def report(self) -> dict:
        """{"identical": {"within_split": [...], "across_splits": [...]}, "near": {...}}, each
        group a list of {"path", "split"}; near groups are photos that are not all the same file."""
        out = {}
        groups = {"identical": [g for g in self.identical.values() if len(g) > 1], "near": self.near_groups()}
        for kind, found in groups.items():
            within, across = [], []
            for group in found:
                rows = [{"path": p, "split": s} for p, s in sorted(group)]
                (across if len({s for _, s in group}) > 1 else within).append(rows)
            out[kind] = {"within_split": within, "across_splits": across}
        return out
