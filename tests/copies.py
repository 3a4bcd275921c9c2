"""Copies of one photograph as a collection meets them: re-encoded (JPEG quality), resized,
slightly cropped (centred, one-sided, cropped then resized back) and brightness/contrast-
shifted. The near-duplicate test and its real-photo benchmark share them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def copies(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Named copies of an RGB array (each a new uint8 array)."""
    img = Image.fromarray(pixels)
    w, h = img.size
    k = round(0.04 * w)
    out = {
        "jpeg q30": _jpeg(img, 30),
        "half size": img.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "double size": img.resize((w * 2, h * 2), Image.Resampling.BICUBIC),
        "cropped 4 % all round": img.crop((k, k, w - k, h - k)),
        "cropped 5 % left": img.crop((round(0.05 * w), 0, w, h)),
        "cropped 3 % top-right, resized back": img.crop((0, round(0.03 * h), w - round(0.03 * w), h)).resize((w, h)),
        "brighter (x1.2)": ImageEnhance.Brightness(img).enhance(1.2),
        "darker (x0.8)": ImageEnhance.Brightness(img).enhance(0.8),
        "+15 grey levels": Image.fromarray(np.clip(pixels.astype(int) + 15, 0, 255).astype(np.uint8)),
        "contrast x1.2": ImageEnhance.Contrast(img).enhance(1.2),
        "cropped, darker, resized, jpeg q50": _jpeg(ImageEnhance.Brightness(
            img.crop((k, 0, w, h - k))).enhance(0.85).resize((w * 3 // 5, h * 3 // 5)), 50),
    }
    return {name: np.asarray(copy.convert("RGB"), dtype=np.uint8) for name, copy in out.items()}
