"""Where is the optic disc? A model-free locator for colour fundus photographs.

Glaucoma is judged at the optic disc, which covers about 1/6-1/8 of the field of
view's diameter: a 512 px photograph shrunk to 224 px leaves it ~25 px across. This
module finds it without labelled discs, with image processing only (numpy, scipy,
Pillow; no TensorFlow), in tens of milliseconds per photograph:

1. shrink the photo so the field of view is ~WORK_SIZE px across; the field of view
   is what is brighter than the dark surround (holes filled), its rim eroded away
   (flash rims and vignetting are bright or dark there, never the disc);
2. remove the slow illumination gradient: each pixel of red+green brightness minus its
   local mean over a quarter of the field (a normalised convolution inside the field, so
   the dark surround does not pull the edge down), in units of the local spread;
3. a disc-sized blob filter (a difference of Gaussians at the expected disc radius)
   on that flattened brightness;
4. vessel convergence: the disc is where the large dark vessels enter, so the
   density of the strongest tenth of dark thin structures (a black top-hat of the green
   channel) within about a disc radius adds to the score, at half the weight;
5. the centre is the score's maximum; `confidence` is its prominence: how far the best
   peak stands above the best one outside 2.5 disc radii, relative to its height above
   the field's median (0: a tie with somewhere else, 1: nothing else comes close).

The radius is the expected one (a fixed share of the field of view's diameter), not a
measured outline: it sizes the crop, it does not grade the disc. Tune general
mechanisms here, not constants to one collection: the module is checked on generated
images with known disc positions and by eye on real photographs (README).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORK_SIZE = 128          # the field of view's diameter the search works at (px)
DISC_SHARE = 1 / 7       # expected disc diameter / field-of-view diameter (real: 1/6-1/8)
SURROUND_SHARE = 0.12    # the surround is darker than this share of the field's bright level
FLAT_SCALE = 1 / 4       # local mean for flattening: Gaussian sigma, share of the field's diameter
RIM_EROSION = 0.02       # share of the field's diameter eroded from its rim
VESSEL_WEIGHT = 0.5      # weight of vessel convergence against brightness in the score
EXCLUSION = 2.5          # disc radii around the best peak not counted as the runner-up
CROP_DIAMETERS = 3.0     # disc_crop's default side, in disc diameters


@dataclass(frozen=True)
class Disc:
    """The optic disc in the image's pixel coordinates (x to the right, y down)."""
    x: float
    y: float
    radius: float
    confidence: float   # 0..1, the peak's prominence (see the module docstring)

    def to_dict(self) -> dict:
        return {"x": round(self.x, 1), "y": round(self.y, 1), "radius": round(self.radius, 1),
                "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Field:
    """The field of view: centre, diameter and bounding box (x0, y0, x1, y1), in pixels."""
    cx: float
    cy: float
    diameter: float
    box: tuple[int, int, int, int]


def _shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """The RGB photo resized by `scale` (box filter, in C), as float32."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(image[..., :3]).astype(np.uint8))
    h, w = image.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    if size != (w, h):
        img = img.resize(size, Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32)


def _field_mask(rgb: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    level = rgb.max(axis=2)
    bright = float(np.percentile(level, 95))
    mask = level > max(8.0, SURROUND_SHARE * bright)
    mask = ndimage.binary_opening(mask, iterations=1)
    labels, n = ndimage.label(mask)
    if n > 1:  # keep the largest part (text and logos in the surround are not the field)
        sizes = ndimage.sum(mask, labels, range(1, n + 1))
        mask = labels == (1 + int(np.argmax(sizes)))
    return ndimage.binary_fill_holes(mask)


def find_field(image: np.ndarray) -> Field:
    """The field of view of an RGB uint8 photo (H, W, 3), from a shrunk copy."""
    h, w = image.shape[:2]
    small = _shrink(image, min(1.0, 192 / max(h, w)))
    mask = _field_mask(small)
    sh, sw = mask.shape
    if mask.sum() < 0.02 * sh * sw:  # no surround-to-field contrast: the whole frame
        return Field(w / 2, h / 2, float(min(h, w)), (0, 0, w, h))
    ys, xs = np.nonzero(mask)
    sy, sx = h / sh, w / sw
    box = (int(xs.min() * sx), int(ys.min() * sy), int(np.ceil((xs.max() + 1) * sx)),
           int(np.ceil((ys.max() + 1) * sy)))
    # The diameter from the wider extent: a field cut at the top and bottom is still round.
    diameter = float(max(box[2] - box[0], box[3] - box[1]))
    return Field((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, diameter, box)


def _blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur; for wide ones three box filters of the same variance (the cost
    does not grow with sigma)."""
    from scipy import ndimage

    if sigma < 3:
        return ndimage.gaussian_filter(values, sigma, mode="constant", truncate=3.0)
    size = max(3, int(round(np.sqrt(4 * sigma * sigma + 1))) | 1)  # 3 boxes: var = 3 (s^2-1)/12
    for _ in range(3):
        values = ndimage.uniform_filter(values, size, mode="constant")
    return values


def _masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean of `values` over the mask only (normalised convolution)."""
    m = mask.astype(np.float32)
    return _blur(values * m, sigma) / np.maximum(_blur(m, sigma), 1e-3)


def locate_disc(image: np.ndarray) -> Disc:
    """The optic disc of an RGB uint8 photo (H, W, 3) in its pixel coordinates."""
    from scipy import ndimage

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    field = find_field(image)
    scale = WORK_SIZE / field.diameter
    rgb = _shrink(image, scale)
    factor_y, factor_x = image.shape[0] / rgb.shape[0], image.shape[1] / rgb.shape[1]
    mask = _field_mask(rgb)
    if mask.sum() < 0.02 * mask.size:
        mask = np.ones(mask.shape, bool)
    diameter = float(WORK_SIZE)
    r = diameter * DISC_SHARE / 2  # expected disc radius, working pixels
    inner = ndimage.binary_erosion(mask, iterations=max(1, int(RIM_EROSION * diameter)))
    if inner.sum() < 0.1 * mask.sum():
        inner = mask

    # 2. Brightness (red + green: the disc is yellowish-white), flattened: in units of the
    # local spread above the local mean, over a quarter of the field.
    bright = rgb[..., 0] + rgb[..., 1]
    mean = _masked_blur(bright, inner, FLAT_SCALE * diameter)
    spread = np.sqrt(np.maximum(_masked_blur((bright - mean) ** 2, inner, FLAT_SCALE * diameter), 1.0))
    flat = np.where(inner, (bright - mean) / spread, 0.0).astype(np.float32)
    # 3. A disc-sized blob: mean over the disc minus mean over its surroundings.
    blob = _masked_blur(flat, inner, r * 0.6) - _masked_blur(flat, inner, r * 2.0)

    # 4. Vessels: dark, thin structures of the green channel (black top-hat); the strongest
    # tenth of them, whose density peaks where the large vessels converge.
    green = rgb[..., 1]
    size = max(3, int(round(r * 0.6)) | 1)
    closed = ndimage.grey_closing(green, size=(size, size))
    tophat = np.maximum(closed - green, 0.0)
    strong = inner & (tophat > np.percentile(tophat[inner], 90))
    density = _masked_blur(strong.astype(np.float32), inner, r)

    def z(a):
        v = a[inner]
        return (a - float(np.median(v))) / max(float(v.std()), 1e-6)

    score = np.where(inner, z(blob) + VESSEL_WEIGHT * z(density), -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    best = float(score[iy, ix])
    yy, xx = np.ogrid[:score.shape[0], :score.shape[1]]
    away = (yy - iy) ** 2 + (xx - ix) ** 2 > (EXCLUSION * r) ** 2
    others = score[away & inner]
    runner = float(others.max()) if others.size else float(np.median(score[inner]))
    base = float(np.median(score[inner]))
    confidence = float(np.clip((best - runner) / max(best - base, 1e-6), 0.0, 1.0))

    # Back to the image's pixels (resized pixel i covers [i*f, (i+1)*f)).
    return Disc(x=float((ix + 0.5) * factor_x), y=float((iy + 0.5) * factor_y), radius=float(r * factor_x),
                confidence=confidence)


def square_crop(image: np.ndarray, cx: float, cy: float, side: int, clamp: bool = True) -> np.ndarray:
    """A side x side crop centred on (cx, cy). `clamp`: shifted to stay inside the image
    where it fits; what still falls outside is black (the fundus surround)."""
    h, w = image.shape[:2]
    side = max(1, int(round(side)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    if clamp:
        if side <= w:
            x0 = min(max(x0, 0), w - side)
        if side <= h:
            y0 = min(max(y0, 0), h - side)
    out = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def disc_crop(image: np.ndarray, disc: Disc, scale: float = CROP_DIAMETERS) -> np.ndarray:
    """A square crop centred on the disc, `scale` disc diameters on a side, kept inside the
    image where it fits."""
    return square_crop(image, disc.x, disc.y, int(round(2 * disc.radius * scale)))


def trim_border(image: np.ndarray) -> np.ndarray:
    """The field of view's bounding square: the black surround cropped away (a field cut
    at the top and bottom keeps its width, padded with black to a square)."""
    field = find_field(image)
    x0, y0, x1, y1 = field.box
    return square_crop(image, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0), clamp=False)
