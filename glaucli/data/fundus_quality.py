"""Is a fundus photograph gradable? A model-free grade from what a grader looks at.

Sharpness: the share of the field's local contrast that sits at the finest scale (vessel
edges, nerve fibre texture), measured on the image with its local average subtracted, so it
reads the same whether or not the photo was contrast-enhanced that way (a Ben Graham style
processing subtracts it) and does not depend on brightness or contrast gain: blur and haze
move contrast to coarser scales and lower it. Illumination: the share of the field that is
lit, neither near the surround's black nor blown out to white. The grade is their product.
"""

from __future__ import annotations

DARK = 0.25            # darker than this share of the field's median luminance is unlit
DARK_ABS = 8.0         # or less than this above the surround (luminance)
FINE = 0.008           # the fine scale (sigma), as a share of the longer side
LOCAL = 1 / 30         # the local average (sigma), as a share of the longer side
CONTRAST_FLOOR = 0.01  # local contrast below this share of the field's luminance reads as none


def grade(arr, lum, mask, surround_lum: float | None, m: dict) -> float:
    """Sharpness x lit share of the field, in [0, 1]; the parts go into `m`."""
    import numpy as np
    from scipy import ndimage

    h, w = lum.shape
    field = ndimage.binary_erosion(mask, iterations=max(1, round(min(h, w) * 0.03)))
    if field.sum() < 0.02 * field.size:
        m.update(sharpness=0.0, local_contrast=0.0, dark_share=1.0, glare_share=0.0, field_luminance=0.0)
        return 0.0
    n = max(h, w)
    weight = mask.astype(np.float32)
    # The local average inside the field only (normalised convolution): the surround's black
    # would otherwise make a bright rim of contrast along the edge.
    local = ndimage.gaussian_filter(lum * weight, n * LOCAL)
    local /= np.maximum(ndimage.gaussian_filter(weight, n * LOCAL), 1e-3)
    high = lum - local
    fine = high - ndimage.gaussian_filter(high, max(0.5, FINE * n))
    median = float(np.median(lum[field]))
    # A flat field (a painted disc) has no detail at all, not a high share of none.
    sharp = float(np.abs(fine[field]).mean() / (np.abs(high[field]).mean() + CONTRAST_FLOOR * median + 1e-3))
    inside = local[field]  # the local average, so that dark vessels and a dark macula do not count
    unlit = inside < DARK * median
    if surround_lum is not None:  # a black surround: a field as dark as it is unlit
        unlit |= inside - surround_lum < DARK_ABS
    dark = float(unlit.mean())
    glare = float((arr[field].min(axis=1) > 245).mean())
    m.update(sharpness=round(sharp, 3), local_contrast=round(float(np.abs(high[field]).mean()), 2),
             dark_share=round(dark, 3), glare_share=round(glare, 3),
             field_luminance=round(median, 1))
    return min(1.0, sharp) * (1 - dark - glare)
