"""A cheap, model-free test: does this look like a colour fundus photograph at all?

A fundus photograph is a bright, roughly circular field of view on a dark
surround, reddish-orange inside, neither black nor blown out. The test works
on the loader's array (any size; it looks at <= 96 px) in well under a
millisecond and needs no run. It is meant to catch the obvious cases (a
kitchen, a screenshot, text, a blank or noisy frame) and to let real fundus
photographs through, also dim, vignetted, or with the field of view cut by
the frame; the distribution check (engine/ood.py) is the finer net. The
limits are deliberately loose: README "Knowing when not to answer" lists
them and what still passes (an orange disc drawn on black does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WORK_SIZE = 64          # the longer side the test looks at
PAD_LEVEL = 3           # rows/columns this dark at the edges are the loader's square padding
UNDEREXPOSED_Y = 10     # the bright part (90th percentile of luminance) darker than this: black frame
OVEREXPOSED_SHARE = 0.5 # more of the field than this near white (all channels > 245): blown out
MIN_CONTRAST = 8        # the field at least this much brighter (luminance) than its surround
SURROUND_Y = 35        # a surround is darker than this (luminance)
DARK_CORNERS = 2        # at least this many of the 4 corners belong to the dark surround
MIN_EDGE_RAYS = 0.12    # share of rays from the centre that end at a visible field edge
MIN_ROUND = 0.6         # share of those edge points within ROUND_TOLERANCE of one fitted ellipse
ROUND_TOLERANCE = 0.06  # (a square's edge strays up to 20 % from its best ellipse)
MIN_AXES_RATIO = 0.6    # the ellipse no flatter than this (a stretched circle, not a bar)
MIN_FILL = 0.5          # share of the fitted disc that is bright (text and rings are sparse)
HUE_RANGE = (-35.0, 75.0)  # degrees: red through orange to yellow
MIN_SATURATION = 0.15   # grey, white and black fields are not colour fundus photographs
RAYS = 48
# A field of view that fills the whole frame (no surround) passes only when all of these hold:
FRAME_HUE = (0.0, 50.0)
FRAME_SATURATION = 0.2
FRAME_FALLOFF = 10.0    # luminance: the centre brighter than the frame's edge by this much
FRAME_DETAIL = 0.5      # mean |luminance - its 5-point blur|: vessels, not a smooth gradient


@dataclass
class FundusCheck:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    measures: dict = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "pass" if self.ok else "fail"

    @property
    def code(self) -> str | None:
        """Why it failed, as contract.NOT_ASSESSED names it; None when it passed."""
        return None if self.ok else "not_fundus"


def _downscale(image):
    """Box-average to at most WORK_SIZE px on the longer side (float32 RGB); Pillow's
    reduce() does it in C, ten times faster than numpy here."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    arr = np.ascontiguousarray(arr[..., :3], dtype=np.uint8)
    step = max(1, int(np.ceil(max(arr.shape[:2]) / WORK_SIZE)))
    if step > 1:
        arr = np.asarray(Image.fromarray(arr).reduce(step))
    return arr.astype(np.float32)


def _strip_padding(arr):
    """The content box: drop edge rows/columns that are (nearly) pure black, as the loader's
    square padding is; otherwise every padded wide photo would have 'dark corners'."""
    import numpy as np

    peak = arr.max(axis=2)
    rows = np.flatnonzero(peak.max(axis=1) > PAD_LEVEL)
    cols = np.flatnonzero(peak.max(axis=0) > PAD_LEVEL)
    if rows.size == 0 or cols.size == 0:
        return arr[:0, :0]
    return arr[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _hue_saturation(rgb) -> tuple[float, float]:
    r, g, b = (float(v) for v in rgb)
    top, low = max(r, g, b), min(r, g, b)
    if top <= 0 or top - low < 1e-6:
        return 0.0, 0.0
    span = top - low
    if top == r:
        hue = 60 * (g - b) / span
    elif top == g:
        hue = 60 * (2 + (b - r) / span)
    else:
        hue = 60 * (4 + (r - g) / span)
    return (hue - 360 if hue > 180 else hue), span / top


def _edge_points(mask):
    """Outermost bright pixel along RAYS rays from the mask's centroid; rays that reach the
    frame (a field of view cut by the photo's edge) are left out. Returns (points, share)."""
    import numpy as np

    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    angles = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)[:, None]
    steps = np.arange(0, np.hypot(h, w), 0.5)[None, :]
    py, px = cy + steps * np.sin(angles), cx + steps * np.cos(angles)  # (RAYS, steps)
    inside = (py >= 0) & (py <= h - 1) & (px >= 0) & (px <= w - 1)
    iy = np.clip(np.rint(py).astype(int), 0, h - 1)
    ix = np.clip(np.rint(px).astype(int), 0, w - 1)
    bright = mask[iy, ix] & inside
    has = bright.any(axis=1)
    last = bright.shape[1] - 1 - np.argmax(bright[:, ::-1], axis=1)  # the outermost bright step
    y, x = py[np.arange(RAYS), last], px[np.arange(RAYS), last]
    # A ray whose last bright point touches the frame sees no edge there (a cut field of view).
    seen = has & (np.minimum.reduce([y, x, h - 1 - y, w - 1 - x]) >= 1.5)
    points = np.column_stack([x[seen], y[seen]]).astype(np.float64)
    return points, float(seen.mean())


def _ellipse(points):
    """Least-squares axis-aligned ellipse A x^2 + C y^2 + D x + E y = 1 through the points:
    (cx, cy, a, b), or None. An ellipse, not a circle: a field of view resized from a
    non-square crop is stretched."""
    import numpy as np

    ox, oy = points.mean(axis=0)  # origin inside the ellipse, so the form "= 1" holds
    x, y = points[:, 0] - ox, points[:, 1] - oy
    design = np.column_stack([x * x, y * y, x, y])
    (A, C, D, E), *_ = np.linalg.lstsq(design, np.ones_like(x), rcond=None)
    if A <= 0 or C <= 0:
        return None
    g = 1 + D * D / (4 * A) + E * E / (4 * C)
    return ox - D / (2 * A), oy - E / (2 * C), float(np.sqrt(g / A)), float(np.sqrt(g / C))


def _fills_frame(lum, hue: float, sat: float, m: dict) -> bool:
    """A fundus cropped inside its field of view: strongly fundus-coloured, brighter in the
    middle than at the frame (illumination falls off), and with fine detail (vessels), which
    flat colours, gradients and most warm-toned scenes lack."""
    import numpy as np

    h, w = lum.shape
    b = max(2, round(min(h, w) * 0.1))
    inner = lum[h // 4:h - h // 4, w // 4:w - w // 4]
    band = np.concatenate([lum[:b].ravel(), lum[-b:].ravel(), lum[:, :b].ravel(), lum[:, -b:].ravel()])
    centre = float(np.median(inner))
    blur = (inner[:-2, 1:-1] + inner[2:, 1:-1] + inner[1:-1, :-2] + inner[1:-1, 2:] + inner[1:-1, 1:-1]) / 5
    detail = float(np.abs(inner[1:-1, 1:-1] - blur).mean())
    m.update(fills_frame_detail=round(detail, 2), centre_minus_frame=round(centre - float(np.median(band)), 1))
    return (FRAME_HUE[0] <= hue <= FRAME_HUE[1] and sat >= FRAME_SATURATION
            and m["centre_minus_frame"] >= FRAME_FALLOFF and detail >= FRAME_DETAIL)


def _field_shape(mask, dark: int, m: dict) -> str | None:
    """None when the bright region is a round field of view on a dark surround (possibly cut
    by the frame), else what is wrong with it."""
    import numpy as np

    if dark < DARK_CORNERS or m["contrast"] < MIN_CONTRAST:
        return "no bright field of view on a dark surround"
    points, share = _edge_points(mask)
    m["edge_rays"] = round(share, 3)
    if share < MIN_EDGE_RAYS or len(points) < 6:
        return "no visible edge of a field of view"
    h, w = mask.shape
    fit = _ellipse(points)
    if fit is None:
        return "the bright region is not a round field of view"
    cx, cy, a, b = fit
    rho = np.hypot((points[:, 0] - cx) / a, (points[:, 1] - cy) / b)
    round_share = float((np.abs(rho - 1) < ROUND_TOLERANCE).mean())
    yy, xx = np.ogrid[0:h, 0:w]
    disc = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 < 1
    fill = float(mask[disc].mean()) if disc.any() else 0.0
    m.update(roundness=round(round_share, 3), fill=round(fill, 3), axes_ratio=round(min(a, b) / max(a, b), 3),
             radius_share=round(max(a, b) / max(h, w), 3))
    if (round_share < MIN_ROUND or fill < MIN_FILL or m["axes_ratio"] < MIN_AXES_RATIO
            or not 0.2 <= m["radius_share"] <= 1.0):
        return "the bright region is not a round field of view"
    return None


def check_fundus(image) -> FundusCheck:
    """Does `image` (an RGB array, uint8 0-255, any size) look like a colour fundus photo?"""
    import numpy as np

    arr = _strip_padding(_downscale(image))
    if min(arr.shape[:2], default=0) < 8:
        return FundusCheck(False, ["blank (black) image"], {})
    lum = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    h, w = lum.shape
    low, high = np.percentile(lum, [5, 90])
    m: dict = {"p5_luminance": round(float(low), 1), "p90_luminance": round(float(high), 1)}
    if high < UNDEREXPOSED_Y:
        return FundusCheck(False, ["underexposed (nearly black)"], m)
    mask = lum > low + max(8.0, 0.25 * (high - low))
    c = max(2, round(min(h, w) * 0.08))
    corners = [np.s_[:c, :c], np.s_[:c, -c:], np.s_[-c:, :c], np.s_[-c:, -c:]]
    # A dark corner: mostly outside the bright field, and dark as a background is (not a dim periphery).
    dark = sum(float(mask[k].mean()) < 0.5 and float(lum[k].mean()) < SURROUND_Y for k in corners)
    surround = float(lum[~mask].mean()) if (~mask).any() else float(high)
    field_rgb = arr[mask].mean(axis=0) if mask.any() else np.zeros(3)
    hue, sat = _hue_saturation(field_rgb)
    white = float((arr[mask].min(axis=1) > 245).mean()) if mask.any() else 0.0
    m.update(dark_corners=int(dark), field_rgb=[round(float(v), 1) for v in field_rgb],
             hue=round(hue, 1), saturation=round(sat, 3), white_share=round(white, 3),
             contrast=round(float(lum[mask].mean() - surround) if mask.any() else 0.0, 1))
    reasons = []
    if white > OVEREXPOSED_SHARE:
        reasons.append("overexposed (washed out)")
    if mask.any() and (not HUE_RANGE[0] <= hue <= HUE_RANGE[1] or sat < MIN_SATURATION):
        reasons.append("not the reddish-orange of a fundus")
    shape = _field_shape(mask, dark, m)
    if shape and not (dark < DARK_CORNERS and _fills_frame(lum, hue, sat, m)):  # cropped inside the field
        reasons.append(shape)
    return FundusCheck(not reasons, reasons, m)
