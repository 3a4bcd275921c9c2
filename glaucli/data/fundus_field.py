"""Where the field of view is: a round (or elliptic) region on a flat surround.

A fundus camera frames the retina in a round field of view on a black surround; some
preprocessings mask the outside with a flat grey instead (Ben Graham's Kaggle style). The
surround is found in the corners as a flat colour, the field as everything that differs from
it, and its outline is fitted robustly with an ellipse: a shadow that makes part of the field
as dark as the surround pulls edge points inwards, so points inside the fit are discounted and
the fit repeated, while points outside it (a square's corners) still count against roundness.
"""

from __future__ import annotations

PAD_LEVEL = 3           # rows/columns this dark at the edges are the loader's square padding
CORNER = 0.08           # corner patches, as a share of the shorter side
FLAT_STD = 7.0          # a corner this flat (std of its smoothed luminance) can be a surround,
FLAT_SHARE = 0.15       # or flat next to the image's contrast (a processing amplifies its noise)
DARK_SURROUND = 40.0    # a surround darker than this (luminance): a camera's black frame
SMOOTH = 0.012          # smoothing (sigma, share of the side) before: a noisy surround is still flat
GREY_SURROUND = (90.0, 170.0)  # or a neutral grey in this range: a processing's flat mask
GREY_SATURATION = 0.1
MIN_CORNERS = 2         # at least this many of the 4 corners belong to the surround
MIN_EDGE_RAYS = 0.12    # share of rays from the centre that end at a visible field edge
MIN_ROUND = 0.5         # share of edge points within ROUND_TOLERANCE of the fitted ellipse
ROUND_TOLERANCE = 0.06  # (a square's edge strays up to 20 % from its best ellipse)
MIN_AXES_RATIO = 0.6    # the ellipse no flatter than this (a stretched circle, not a bar)
MIN_FILL = 0.5          # share of the fitted disc that is field (text and rings are sparse)
RAYS = 48


def strip_padding(arr):
    """The content box: drop edge rows/columns that are (nearly) pure black, as the loader's
    square padding is; otherwise every padded wide photo would have 'dark corners'."""
    import numpy as np

    peak = arr.max(axis=2)
    rows = np.flatnonzero(peak.max(axis=1) > PAD_LEVEL)
    cols = np.flatnonzero(peak.max(axis=0) > PAD_LEVEL)
    if rows.size == 0 or cols.size == 0:
        return arr[:0, :0]
    return arr[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def smoothed(arr):
    """The image with sensor and JPEG speckle smoothed out (a contrast enhancement amplifies
    the surround's noise into visible speckle)."""
    from scipy import ndimage

    s = max(0.7, SMOOTH * max(arr.shape[:2]))
    return ndimage.gaussian_filter(arr, (s, s, 0))


def surround(arr, m: dict):
    """(colour, noise) of the flat surround seen in the corners of the smoothed `arr`, or
    None when fewer than MIN_CORNERS corners are flat and dark (or flat neutral grey) alike."""
    import numpy as np

    lum = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)

    h, w = lum.shape
    c = max(2, round(min(h, w) * CORNER))
    patches = [np.s_[:c, :c], np.s_[:c, -c:], np.s_[-c:, :c], np.s_[-c:, -c:]]
    flat, contrast = [], float(np.percentile(lum, 90))
    for k in patches:
        y, rgb = lum[k], arr[k].reshape(-1, 3).mean(axis=0)
        sat = (rgb.max() - rgb.min()) / max(rgb.max(), 1e-6)
        dark = y.mean() < DARK_SURROUND
        grey = GREY_SURROUND[0] <= y.mean() <= GREY_SURROUND[1] and sat < GREY_SATURATION
        if y.std() < max(FLAT_STD, FLAT_SHARE * (contrast - y.mean())) and (dark or grey):
            flat.append((rgb, float(y.std()), float(y.mean())))
    # The flat corners must agree with each other: the same surround, not four unrelated flats.
    if len(flat) >= MIN_CORNERS:
        ref = np.median([f[0] for f in flat], axis=0)
        flat = [f for f in flat if np.abs(f[0] - ref).max() < 12]
    m["surround_corners"] = len(flat)
    if len(flat) < MIN_CORNERS:
        return None
    colour = np.median([f[0] for f in flat], axis=0)
    m["surround_luminance"] = round(float(np.median([f[2] for f in flat])), 1)
    return colour, max(f[1] for f in flat)


def field_mask(arr, colour, noise: float):
    """Pixels that differ from the surround colour, holes filled (a dark macula, a grey
    processed patch that happens to match the mask colour)."""
    import numpy as np
    from scipy import ndimage

    dist = np.abs(arr - colour).max(axis=2)
    spread = float(np.percentile(dist, 90))
    mask = dist > max(4.0, 3 * noise, 0.08 * spread)
    mask = ndimage.binary_opening(mask, iterations=1) if mask.sum() > 50 else mask
    return ndimage.binary_fill_holes(mask)


def _edge_points(mask):
    """Outermost field pixel along RAYS rays from the mask's centroid; rays that reach the
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
    last = bright.shape[1] - 1 - np.argmax(bright[:, ::-1], axis=1)  # the outermost field step
    y, x = py[np.arange(RAYS), last], px[np.arange(RAYS), last]
    seen = has & (np.minimum.reduce([y, x, h - 1 - y, w - 1 - x]) >= 1.5)
    points = np.column_stack([x[seen], y[seen]]).astype(np.float64)
    return points, float(seen.mean())


def _ellipse(points):
    """Least-squares axis-aligned ellipse A x^2 + C y^2 + D x + E y = 1 through the points:
    (cx, cy, a, b), or None. An ellipse, not a circle: a field of view resized from a
    non-square crop is stretched."""
    import numpy as np

    if len(points) < 5:
        return None
    ox, oy = points.mean(axis=0)  # origin inside the ellipse, so the form "= 1" holds
    x, y = points[:, 0] - ox, points[:, 1] - oy
    design = np.column_stack([x * x, y * y, x, y])
    (A, C, D, E), *_ = np.linalg.lstsq(design, np.ones_like(x), rcond=None)
    if A <= 0 or C <= 0:
        return None
    g = 1 + D * D / (4 * A) + E * E / (4 * C)
    if g <= 0:
        return None
    return ox - D / (2 * A), oy - E / (2 * C), float(np.sqrt(g / A)), float(np.sqrt(g / C))


def _robust_ellipse(points):
    """Fit, then refit without the points well inside the fit (a shadowed stretch of edge),
    twice; points outside are never dropped."""
    import numpy as np

    fit, keep = None, points
    for _ in range(3):
        new = _ellipse(keep)
        if new is None:
            return fit
        fit = new
        cx, cy, a, b = fit
        rho = np.hypot((points[:, 0] - cx) / a, (points[:, 1] - cy) / b)
        keep = points[rho > 1 - 2 * ROUND_TOLERANCE]
    return fit


def field_shape(mask, m: dict):
    """(fitted ellipse or None, what is wrong with the field or None)."""
    import numpy as np

    if mask.sum() < 0.05 * mask.size:
        return None, "no field of view on the surround"
    points, share = _edge_points(mask)
    m["edge_rays"] = round(share, 3)
    if share < MIN_EDGE_RAYS or len(points) < 6:
        return None, "no visible edge of a field of view"
    fit = _robust_ellipse(points)
    if fit is None:
        return None, "the field is not round"
    h, w = mask.shape
    cx, cy, a, b = fit
    rho = np.hypot((points[:, 0] - cx) / a, (points[:, 1] - cy) / b)
    round_share = float((np.abs(rho - 1) < ROUND_TOLERANCE).mean())
    outside = float((rho > 1 + ROUND_TOLERANCE).mean())
    yy, xx = np.ogrid[0:h, 0:w]
    disc = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 < 1
    fill = float(mask[disc].mean()) if disc.any() else 0.0
    m.update(roundness=round(round_share, 3), outside_fit=round(outside, 3), fill=round(fill, 3),
             axes_ratio=round(min(a, b) / max(a, b), 3), radius_share=round(max(a, b) / max(h, w), 3))
    if (round_share < MIN_ROUND or outside > 1 - MIN_ROUND or fill < MIN_FILL
            or m["axes_ratio"] < MIN_AXES_RATIO or not 0.2 <= m["radius_share"] <= 1.0):
        return fit, "the field is not round"
    return fit, None
