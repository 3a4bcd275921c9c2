"""The one image loader: training, evaluation, prediction and bench all use it.

It decodes with Pillow, applies the EXIF orientation, converts any mode
(grayscale, palette, RGBA, CMYK, 16-bit) to 8-bit RGB and resizes with one
named filter, so one file gives the same pixels in training as in use.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
# Recorded in meta.json: non-square photos are padded to a square with black (the fundus
# background) so the disc keeps its shape, then resized with Pillow's antialiased bilinear.
RESAMPLE = "pad-square-black+bilinear"
MAX_PIXELS = 100_000_000  # above this an image is refused as a decompression bomb


class ImageError(Exception):
    """A file that is not a usable image; the message is one line."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _to_rgb8(img):
    import numpy as np
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Plain convert("RGB") clamps values above 255 to white: scale first.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    elif img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite transparency over black, the fundus background.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, rgba)
    elif img.mode in ("RGB;16", "RGBA;16") or getattr(img, "bits", 8) > 8:
        arr = np.asarray(img).astype(np.float64)
        img = Image.fromarray((arr / 257.0 + 0.5).astype(np.uint8))
    return img.convert("RGB")


def pad_square(img):
    """Centre `img` on a black square canvas (a no-op for square images)."""
    from PIL import Image

    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    canvas = Image.new("RGB", (side, side))
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas


def load_image(path: str | Path, size: int | None = None):
    """Decode `path` to a uint8 array of shape (size, size, 3), padded to a square first;
    without `size`, the photo as it is (native size and aspect)."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block Pillow forever
            raise ImageError(f"{path}: not a regular file")
        with warnings.catch_warnings():
            # Pillow only warns between its two bomb limits: refuse there too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            with Image.open(path) as img:
                if size and img.format == "JPEG":
                    img.draft("RGB", (size, size))  # decode at reduced scale: much faster
                img = ImageOps.exif_transpose(img)
                img = _to_rgb8(img)
                if size:
                    img = pad_square(img)
                    if img.size != (size, size):  # already the right size: nothing to resample
                        img = img.resize((size, size), Image.Resampling.BILINEAR)
                return np.asarray(img, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: refused, too many pixels (decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except RecursionError:
        raise ImageError(f"{path}: unreadable image (too deeply nested)") from None
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except (OSError, ValueError, SyntaxError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{path}: unreadable image ({reason})") from None


def image_size(path: Path) -> tuple[int, int]:
    """Width and height from the header only (no full decode)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except Exception as exc:  # noqa: BLE001 - any header failure is "unreadable"
        raise ImageError(f"{path}: unreadable image ({type(exc).__name__})") from None
