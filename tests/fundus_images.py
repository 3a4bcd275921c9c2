"""Generated images for the fundus and distribution checks: fundus photos of the EyePACS
kind (dim, vignetted, cut by the frame, wide, JPEG-compressed) and ordinary non-fundus
pictures (noise, flat colours, gradients, Pillow text, shapes). Tests and the benchmark
share them, so the README's numbers come from the same images the tests check."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from glaucli.data.sample import make_fundus


def _jpeg(arr: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def fundus_variants(size: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Real-photo conditions the check must let through, on synthetic fundus images."""
    rng = np.random.default_rng(seed)
    base = make_fundus("NRG", size, rng)
    other = make_fundus("RG", size, rng).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    dist = np.hypot(xx - size / 2, yy - size / 2) / (size / 2)
    out = {"plain": base, "glaucomatous": other.astype(np.uint8), "jpeg q40": _jpeg(base, 40)}
    out["dim (x0.3)"] = np.clip(other * 0.3, 0, 255).astype(np.uint8)
    out["very dim (x0.15)"] = np.clip(other * 0.15, 0, 255).astype(np.uint8)
    out["bright (x1.4)"] = np.clip(other * 1.4, 0, 255).astype(np.uint8)
    out["vignetted edge"] = np.clip(other * np.clip(1.25 - dist ** 3, 0, 1)[..., None], 0, 255).astype(np.uint8)
    grey_bg = other + (dist > 0.92)[..., None] * rng.normal(14, 4, other.shape)
    out["grey noisy surround"] = _jpeg(np.clip(grey_bg, 0, 255).astype(np.uint8), 70)
    big = make_fundus("NRG", int(size * 1.35), rng)
    m = (big.shape[0] - size) // 2
    out["field cut top/bottom"] = big[m:m + size, :]
    out["field cut on all sides"] = big[m:m + size, m:m + size]
    huge = make_fundus("RG", int(size * 2.2), rng)
    m = (huge.shape[0] - size) // 2
    out["field fills the frame"] = huge[m:m + size, m:m + size]
    wide = np.zeros((size, int(size * 1.5), 3), np.uint8)
    wide[:, (wide.shape[1] - size) // 2:(wide.shape[1] - size) // 2 + size] = base
    out["wide 3:2 photo"] = wide
    out["stretched 5:4"] = np.asarray(Image.fromarray(base).resize((size, int(size * 0.8)), Image.Resampling.BILINEAR))
    tinted = other * np.array([0.85, 1.15, 1.1])
    out["yellow-green tint"] = np.clip(tinted, 0, 255).astype(np.uint8)
    shifted = np.zeros_like(base)
    shifted[:, 10:] = base[:, :-10]
    out["off-centre"] = shifted
    return out


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def non_fundus(size: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Ordinary pictures that are not fundus photographs."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    out["uniform noise"] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    out["grey gaussian noise"] = np.clip(rng.normal(128, 40, (size, size, 1)).repeat(3, 2), 0, 255).astype(np.uint8)
    for name, colour in {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128),
                         "red": (200, 30, 20), "orange": (220, 120, 40), "blue": (30, 60, 200)}.items():
        out[f"flat {name}"] = np.full((size, size, 3), colour, np.uint8)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    out["gradient black-white"] = (np.tile(ramp, (size, 1))[..., None] * 255).repeat(3, 2).astype(np.uint8)
    out["gradient orange diagonal"] = ((np.add.outer(ramp, ramp) / 2)[..., None]
                                       * np.array([230, 120, 40])).astype(np.uint8)
    radial = np.clip(1 - np.hypot(*(np.indices((size, size)) - size / 2)) / (size / 2), 0, 1)
    out["radial orange gradient"] = (radial[..., None] * np.array([220, 110, 40])).astype(np.uint8)
    out["orange disc on black"] = np.asarray(_disc(size, (225, 115, 45)))
    out["gradient sky"] = (np.array([90, 150, 255]) * (0.4 + 0.6 * ramp[:, None, None])
                           * np.ones((1, size, 1))).astype(np.uint8)
    for name, (bg, fg) in {"text black on white": ("white", "black"),
                           "text white on black": ("black", "white"),
                           "text orange on black": ("black", (230, 120, 40))}.items():
        img = Image.new("RGB", (size, size), bg)
        draw = ImageDraw.Draw(img)
        for row in range(5):
            draw.text((4, 4 + row * size // 5), "Lorem ipsum", fill=fg, font=_font(size // 8))
        out[name] = np.asarray(img)
    for name, shape in {"orange square on black": "square", "red triangle on black": "triangle",
                        "blue disc on black": "blue disc", "shapes on white": "many"}.items():
        img = Image.new("RGB", (size, size), "white" if shape == "many" else "black")
        draw = ImageDraw.Draw(img)
        s = size
        if shape == "square":
            draw.rectangle([s * 0.15, s * 0.15, s * 0.85, s * 0.85], fill=(220, 110, 40))
        elif shape == "triangle":
            draw.polygon([(s * 0.5, s * 0.08), (s * 0.95, s * 0.9), (s * 0.05, s * 0.9)], fill=(210, 40, 30))
        elif shape == "blue disc":
            draw.ellipse([s * 0.05, s * 0.05, s * 0.95, s * 0.95], fill=(40, 70, 210))
        else:
            draw.rectangle([s * 0.1, s * 0.1, s * 0.4, s * 0.5], fill=(200, 40, 40))
            draw.ellipse([s * 0.5, s * 0.2, s * 0.9, s * 0.6], fill=(40, 160, 60))
            draw.polygon([(s * 0.2, s * 0.9), (s * 0.5, s * 0.6), (s * 0.8, s * 0.9)], fill=(40, 60, 200))
        out[name] = np.asarray(img)
    out["checkerboard"] = (((np.indices((size, size)) // (size // 8)).sum(0) % 2) * 255).astype(np.uint8)[..., None].repeat(3, 2)
    # A "photo": smooth random colour field (a landscape-ish blur of noise).
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    out["blurred photo"] = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))
    return out


def _disc(size, colour):
    img = Image.new("RGB", (size, size), "black")
    ImageDraw.Draw(img).ellipse([size * 0.06, size * 0.06, size * 0.94, size * 0.94], fill=colour)
    return img


# Non-fundus pictures that the cheap check lets through by design (they are bright,
# round, orange fields on black); the distribution check has to catch them.
FUNDUS_LOOKALIKES = ("radial orange gradient", "orange disc on black")


def write(images: dict[str, np.ndarray], folder, prefix: str = "") -> list:
    """Save as JPEGs named after their keys; returns the paths in order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, arr) in enumerate(images.items()):
        path = folder / f"{prefix}{i:02d}_{name.replace(' ', '_').replace('/', '-')}.jpg"
        Image.fromarray(arr).save(path, quality=92)
        paths.append(path)
    return paths


# -- the CC0 real fundus photograph (tests/fixtures/README.md) ------------------------------------

RETINA = Path(__file__).parent / "fixtures" / "retina.jpg"


def retina(size: int = 512) -> np.ndarray:
    """The real fixture photograph, square, resized to `size` (uint8 RGB)."""
    with Image.open(RETINA) as img:
        return np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))


def field_of_view(arr: np.ndarray) -> np.ndarray:
    """The photo's round field of view (a boolean mask), from its black surround."""
    return arr.astype(np.float32).max(axis=2) > 20


def ben_graham(arr: np.ndarray, outside: int = 128) -> np.ndarray:
    """Ben Graham's Kaggle preprocessing: 4 * img - 4 * gaussian_blur(img, size / 30) + 128,
    clipped, the outside of the field of view masked (grey 128 as he did, or black)."""
    img = Image.fromarray(arr)
    blur = np.asarray(img.filter(ImageFilter.GaussianBlur(arr.shape[0] / 30))).astype(np.float32)
    out = np.clip(4 * arr.astype(np.float32) - 4 * blur + 128, 0, 255)
    out[~field_of_view(arr)] = outside
    return out.astype(np.uint8)


def retina_gradable(size: int = 512) -> dict[str, np.ndarray]:
    """Real-photo conditions a fundus check must let through (gradable fundus photographs)."""
    base = retina(size)
    f = base.astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / size
    grey = f.mean(axis=2, keepdims=True)
    out = {"as is": base, "jpeg q40": _jpeg(base, 40)}
    out["dim (x0.35)"] = (f * 0.35).astype(np.uint8)
    out["greyish (colour halved)"] = np.clip(grey + 0.5 * (f - grey), 0, 255).astype(np.uint8)
    out["greyish and dim"] = np.clip((grey + 0.45 * (f - grey)) * 0.5, 0, 255).astype(np.uint8)
    out["shadowed below (x0.3)"] = (f * np.where(yy > 0.7, 0.3, 1.0)[..., None]).astype(np.uint8)
    out["shadow gradient"] = (f * (0.25 + 0.75 * (1 - xx))[..., None]).astype(np.uint8)
    # like ODIR's 1222_right: a deep shadow over 40 % of the field, the disc still clear
    out["deep shadow lower left (x0.12)"] = (f * np.where(yy > xx, 0.12, 1.0)[..., None]).astype(np.uint8)
    out["hazy (washed out)"] = np.clip(0.6 * f + 60 * field_of_view(base)[..., None], 0, 255).astype(np.uint8)
    out["contrast-enhanced, grey outside"] = ben_graham(base, 128)
    out["contrast-enhanced, black outside"] = ben_graham(base, 0)
    out["contrast-enhanced, jpeg q70"] = _jpeg(ben_graham(base, 0), 70)
    return out


def retina_ungradable(size: int = 512) -> dict[str, np.ndarray]:
    """Fundus photographs a grader would reject: blurred, too dark."""
    base = retina(size)
    out = {}
    for name, frac in (("blurred (3 % of the width)", 0.03), ("blurred (5 %)", 0.05)):
        out[name] = np.asarray(Image.fromarray(base).filter(ImageFilter.GaussianBlur(frac * size)))
    out["too dark (x0.04)"] = (base.astype(np.float32) * 0.04).astype(np.uint8)
    out["blurred, contrast-enhanced"] = ben_graham(out["blurred (5 %)"], 0)
    return out
