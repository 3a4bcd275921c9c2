"""The built-in synthetic fundus set: offline data for the demo and the tests.

Each image looks like a fundus photograph: a dark background, a round
orange-red fundus with illumination falloff, branching dark vessels from the
optic disc, a bright disc with a paler cup. The label follows the clinical
marker: RG when the cup-to-disc ratio is large, NRG when it is small.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from glaucli import events
from glaucli.data.layout import CLASSES, write_manifest
from glaucli.errors import InputError

CDR_RANGE = {"NRG": (0.20, 0.42), "RG": (0.62, 0.85)}


def _vessels(draw, rng, disc_xy, size, radius, color):
    """Branching dark vessels from the disc, as random-walk polylines."""
    def branch(x, y, angle, length, width, depth):
        points = [(x, y)]
        step = size / 40
        for _ in range(int(length / step)):
            angle += rng.normal(0, 0.18)
            x, y = x + step * math.cos(angle), y + step * math.sin(angle)
            points.append((x, y))
            if depth < 2 and rng.random() < 0.08:
                branch(x, y, angle + rng.choice([-1, 1]) * rng.uniform(0.4, 0.9),
                       length * 0.5, max(1, width - 1), depth + 1)
        draw.line(points, fill=color, width=int(width), joint="curve")

    for k in range(rng.integers(4, 7)):
        angle = 2 * math.pi * k / 5 + rng.normal(0, 0.3)
        branch(disc_xy[0], disc_xy[1], angle, radius * rng.uniform(0.8, 1.4),
               max(1, size // 64 + 1), 0)


def make_fundus(label: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic fundus image (uint8, size x size x 3) of class `label`."""
    return fundus_with_disc(label, size, rng)[0]


def fundus_with_disc(label: str, size: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float]]:
    """A synthetic fundus image and its optic disc's centre (x, y) in pixels: where the
    label's evidence is, which is what an explanation should point at."""
    from PIL import Image, ImageDraw, ImageFilter

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = size / 2 + rng.normal(0, size * 0.02, 2)
    radius = size * rng.uniform(0.42, 0.48)
    dist = np.hypot(xx - cx, yy - cy) / radius
    base = np.array([rng.uniform(170, 230), rng.uniform(70, 110), rng.uniform(25, 55)])
    falloff = np.clip(1.0 - 0.55 * dist**2, 0, 1)[..., None]
    img = base * falloff * (dist < 1.0)[..., None]

    # The optic disc sits off-centre, nasal side; the cup inside it.
    side = rng.choice([-1, 1])
    dx = cx + side * radius * rng.uniform(0.30, 0.45)
    dy = cy + radius * rng.normal(0, 0.08)
    disc_r = size * rng.uniform(0.085, 0.11)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    _vessels(draw, rng, (dx, dy), size, radius, tuple(int(c) for c in base * 0.45))
    disc_color = (255, int(rng.uniform(200, 230)), int(rng.uniform(120, 160)))
    draw.ellipse([dx - disc_r, dy - disc_r, dx + disc_r, dy + disc_r], fill=disc_color)
    cup_r = disc_r * rng.uniform(*CDR_RANGE[label])
    cup_color = (255, 250, int(rng.uniform(215, 245)))
    draw.ellipse([dx - cup_r, dy - cup_r, dx + cup_r, dy + cup_r], fill=cup_color)

    canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2) * size / 128))
    arr = np.asarray(canvas, dtype=np.float32)
    arr += rng.normal(0, rng.uniform(2, 6), arr.shape)
    arr *= (dist < 1.0)[..., None] * 0.97 + 0.03
    return np.clip(arr, 0, 255).astype(np.uint8), (float(dx), float(dy))


def split_sizes(per_class: int) -> dict[str, int]:
    held_out = max(2, per_class // 10)
    return {"train": per_class, "validation": held_out, "test": held_out}


def write_sample(dest: Path, per_class: int = 40, size: int = 128, seed: int = 0, *,
                 on_event: events.Listeners = None) -> dict[str, dict[str, int]]:
    """Write the set's images under `dest` in the dataset layout; returns counts. No manifest:
    `write_sample_set` is the whole set, written atomically. `on_event`:
    Progress("drawing", done, total, "images") after each image (one draws in milliseconds)."""
    from PIL import Image

    on_event = events.dispatcher(on_event)
    done, total = 0, total_images(per_class)
    counts: dict[str, dict[str, int]] = {}
    for split, n in split_sizes(per_class).items():
        counts[split] = {}
        for cls in CLASSES:
            folder = dest / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for name, image, _disc in sample_images(split, cls, n, size, seed):
                Image.fromarray(image).save(folder / name, quality=92)
                done += 1
                on_event(events.Progress("drawing", done, total, "images"))
            counts[split][cls] = n
    return counts


def write_sample_set(dest: Path, per_class: int = 40, size: int = 128, seed: int = 0, *,
                     on_event: events.Listeners = None) -> dict[str, dict[str, int]]:
    """The whole set with its manifest at `dest`, which must be missing or an empty folder:
    built in a staging folder beside it, then renamed into place, so an interrupted run
    leaves nothing half-made (and no folder that looks like data without a manifest)."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest} already exists and is not an empty folder",
                         hint="choose a new folder; glaucli never writes over existing data")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        counts = write_sample(staging, per_class, size, seed, on_event=on_event)
        write_manifest(staging, {"kind": "sample", "per_class": per_class, "size": size, "seed": seed}, counts)
        if dest.exists():
            dest.rmdir()  # not safety.swap_into_place: rmdir proves the folder is still empty
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def sample_images(split: str, cls: str, n: int, size: int, seed: int):
    """(file name, image, disc centre) of one split/class of the set, in order. One random
    stream per split and class: a split's images do not depend on the others'."""
    rng = np.random.default_rng([seed, list(split_sizes(1)).index(split), CLASSES.index(cls)])
    for i in range(n):
        image, disc = fundus_with_disc(cls, size, rng)
        yield f"{split}_{cls}_{i:05d}.jpg", image, disc


def total_images(per_class: int) -> int:
    return sum(split_sizes(per_class).values()) * len(CLASSES)

