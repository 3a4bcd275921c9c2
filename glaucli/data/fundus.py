"""A cheap, model-free check: is this a colour fundus photograph, and is it gradable?

Two separate answers, each with a reason code (FundusCheck.reason):
- "not_fundus": no round field of view on a flat (black, or processed grey) surround, and not
  a field of view that fills the frame; or not the colours of a fundus photograph (grey-scale,
  or a field whose mean colour is neither a fundus' red-orange nor the near-neutral grey that
  a colour-processing leaves);
- "poor_quality": a fundus photograph, but too little of its field is readable (too dark,
  blurred or hazy, glare, the field mostly cut off): data/fundus_quality.py grades it.
A colour-processed fundus photograph (contrast-enhanced, local-average subtracted: greyish
colours that are not natural) is a fundus photograph: it passes, with measures
["colour_processed"] = True, so callers can say so where a model was trained on natural colour.

It works on the loader's array (any size; it looks at <= 128 px) in a few milliseconds and
needs no run. The distribution check (engine/ood.py) is the finer net behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from glaucli.data import fundus_field as fov
from glaucli.data.fundus_quality import grade

WORK_SIZE = 128         # the longer side the check looks at
BLACK_Y = 2             # the bright part (90th percentile of luminance) darker than this: blank
UNDEREXPOSED_Y = 10     # ... darker than this: a photograph too dark to read
HUE_RANGE = (-50.0, 80.0)  # degrees: magenta-red through orange to yellow, a fundus' natural colour
MIN_SATURATION = 0.1    # greyer than this is not natural colour (it may be processed)
# Subtracting the local average leaves a field whose mean colour is the neutral offset: a
# processed photo's field is near grey on average, however colourful pixel by pixel.
PROCESSED_SATURATION = 0.15
MIN_CHROMA = 6.0        # mean per-pixel max-min channel spread: less is a grey-scale picture
MIN_SHARP_SIDE = 96     # below this many pixels a side, sharpness is not judged (too few to tell)
NO_DETAIL = 0.02        # sharpness below this: a painted flat field, not a photograph (blur leaves more)
MIN_COVERAGE = 0.5      # share of the fitted field of view inside the frame
# Default cut-offs on the grade (sharpness x lit share), README "On real photographs": a
# contrast enhancement sharpens (it amplifies fine detail and noise), so processed photos
# need a higher grade than photos in natural colour.
MIN_QUALITY = 0.10
MIN_QUALITY_PROCESSED = 0.22  # the highest refusing <= 1 % of EyeQ's gradable (good + usable) photos
# Half the field unlit or glaring: poor quality, however sharp the rest. A shadow over a third
# of the field still leaves the disc readable (a gradable ODIR photo was 35 % unlit), and no
# EyeQ reject was more than 12 % unlit: blur and haze make them ungradable, which the grade reads.
UNLIT = 0.5
# A field of view that fills the whole frame (no surround) passes only when all of these hold:
FRAME_HUE = (0.0, 50.0)
FRAME_SATURATION = 0.2
FRAME_FALLOFF = 10.0    # luminance: the centre brighter than the frame's edge by this much
FRAME_DETAIL = 0.5      # mean |luminance - its 5-point blur| at 64 px: vessels, not a gradient

NOT_FUNDUS = "not_fundus"
POOR_QUALITY = "poor_quality"


@dataclass
class FundusCheck:
    ok: bool
    reasons: list[str] = field(default_factory=list)  # human words, for the clinician
    measures: dict = field(default_factory=dict)
    reason: str | None = None  # None when ok, else NOT_FUNDUS or POOR_QUALITY

    @property
    def result(self) -> str:
        return "pass" if self.ok else "fail"


def _refuse(code: str, words: list[str], m: dict) -> FundusCheck:
    return FundusCheck(False, words, m, code)


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


def _fills_frame(lum, hue: float, sat: float, m: dict) -> bool:
    """A fundus cropped inside its field of view: strongly fundus-coloured, brighter in the
    middle than at the frame (illumination falls off), and with fine detail (vessels), which
    flat colours, gradients and most warm-toned scenes lack."""
    import numpy as np

    lum = lum[::2, ::2] if max(lum.shape) > 64 else lum  # FRAME_DETAIL is set at 64 px
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


def _colour(arr, mask, m: dict) -> tuple[float, float]:
    """Hue and saturation of the field's mean colour, and its chroma, into `m`."""

    px = arr[mask] if mask.any() else arr.reshape(-1, 3)
    rgb = px.mean(axis=0)
    hue, sat = _hue_saturation(rgb)
    m.update(field_rgb=[round(float(v), 1) for v in rgb], hue=round(hue, 1), saturation=round(sat, 3),
             chroma=round(float((px.max(axis=1) - px.min(axis=1)).mean()), 1))
    return hue, sat


def _disc(fit, shape):
    """The fitted field of view (its rim left out) inside the frame, as a mask."""
    import numpy as np

    cx, cy, a, b = fit
    yy, xx = np.ogrid[0:shape[0], 0:shape[1]]
    return ((xx - cx) / (a * 0.97)) ** 2 + ((yy - cy) / (b * 0.97)) ** 2 < 1


def _coverage(fit, shape) -> float:
    """Share of the fitted field of view's area that lies inside the frame."""
    import numpy as np

    cx, cy, a, b = fit
    h, w = shape
    yy, xx = np.mgrid[-1:1:64j, -1:1:64j]
    disc = xx ** 2 + yy ** 2 < 1
    px, py = cx + xx[disc] * a, cy + yy[disc] * b
    return float(((px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)).mean())


def _quality_words(m: dict) -> str:
    """What makes the photo ungradable, in the words a grader would use."""
    if m["dark_share"] + m["glare_share"] >= UNLIT:  # (also where sharpness is not judged)
        what = "too dark" if m["dark_share"] >= m["glare_share"] else "glare"
        return f"{what} ({m['dark_share'] + m['glare_share']:.0%} of the field unlit or blown out)"
    return f"blurred or hazy (sharpness {m['sharpness']:.2f})"


def check_fundus(image) -> FundusCheck:
    """Is `image` (an RGB array, uint8 0-255, any size) a gradable colour fundus photograph?"""
    import numpy as np

    arr = _downscale(image)
    judge_sharpness = max(arr.shape[:2], default=0) >= MIN_SHARP_SIDE  # the whole image, padding and all
    arr = fov.strip_padding(arr)
    if min(arr.shape[:2], default=0) < 8:
        return _refuse(NOT_FUNDUS, ["blank (black) image"], {})
    lum = arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    high = float(np.percentile(lum, 90))
    m: dict = {"p90_luminance": round(high, 1)}
    if high < BLACK_Y:
        return _refuse(NOT_FUNDUS, ["blank (black) image"], m)
    if high < UNDEREXPOSED_Y:
        return _refuse(POOR_QUALITY, ["too dark (nearly black)"], m)
    smooth = fov.smoothed(arr)
    found = fov.surround(smooth, m)
    mask, fit, shape = None, None, "no round field of view on a dark surround"
    if found is not None:
        mask = fov.field_mask(smooth, *found)
        fit, shape = fov.field_shape(mask, m)
    if mask is None or shape:
        if found is not None:  # a surround with a field that is not round
            return _refuse(NOT_FUNDUS, [shape], m)
        frame = np.ones(lum.shape, bool)
        hue, sat = _colour(arr, frame, m)
        if not _fills_frame(lum, hue, sat, m):
            return _refuse(NOT_FUNDUS, [shape], m)
        mask, surround_lum = frame, 0.0
    else:
        hue, sat = _colour(arr, mask, m)
        # Darkness is judged against a camera's black surround, not against a processing's grey.
        surround_lum = m["surround_luminance"] if m["surround_luminance"] < fov.DARK_SURROUND else None
        mask = _disc(fit, lum.shape)  # graded over the whole field of view: a shadow counts
    m["quality"] = round(grade(arr, lum, mask, surround_lum, m), 3)
    if m["chroma"] < MIN_CHROMA:
        return _refuse(NOT_FUNDUS, ["grey-scale: not a colour fundus photograph"], m)
    natural = HUE_RANGE[0] <= hue <= HUE_RANGE[1] and sat >= MIN_SATURATION
    m["colour_processed"] = not natural
    if not (natural or sat < PROCESSED_SATURATION):
        return _refuse(NOT_FUNDUS, ["not the colours of a fundus photograph"], m)
    if judge_sharpness and m["sharpness"] < NO_DETAIL:
        return _refuse(NOT_FUNDUS, ["a flat field without detail (no vessels)"], m)
    words = []
    if fit is not None:
        m["coverage"] = round(_coverage(fit, lum.shape), 3)
        if m["coverage"] < MIN_COVERAGE:
            words.append("field of view mostly cut off by the frame")
    cutoff = MIN_QUALITY_PROCESSED if m["colour_processed"] else MIN_QUALITY
    unlit = m["dark_share"] + m["glare_share"] >= UNLIT
    if unlit or (m["quality"] < cutoff and judge_sharpness):
        words.append(_quality_words(m))
    if words:
        return _refuse(POOR_QUALITY, words, m)
    return FundusCheck(True, [], m)
