"""The one image loader: training, evaluation, prediction and bench all use it.

It decodes with Pillow, applies the EXIF orientation, converts any mode
(grayscale, palette, RGBA, CMYK, 16-bit) to 8-bit RGB and resizes with one
named filter, so one file gives the same pixels in training as in use.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
# Recorded in meta.json: non-square photos are padded to a square with black (the fundus
# background) so the disc keeps its shape, then resized with Pillow's antialiased bilinear.
RESAMPLE = "pad-square-black+bilinear"
MAX_PIXELS = 100_000_000  # above this an image is refused as a decompression bomb
# Checked from the header, before any pixel is decoded: the padded square must fit under
# MAX_PIXELS too (a 30000x1 strip pads to 9e8 pixels), and no fundus photo is a thin strip.
MAX_ASPECT = 20


class ImageError(Exception):
    """A file that is not a usable image; the message is one line."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def walk_images(folder: Path, follow_links: bool = False) -> Iterator[Path]:
    """Image files under `folder`, in os.walk's sorted top-down order, but without recursion
    (a tree 1500 folders deep must not hit Python's recursion limit) and never twice round
    a symlink loop."""
    stack, seen = [Path(folder)], set()
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:  # unreadable or vanished: os.walk skips it too
            continue
        folders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
                if is_dir and (follow_links or not entry.is_symlink()):
                    folders.append(Path(entry.path))
            except OSError:
                is_dir = False
            if not is_dir and is_image_file(Path(entry.name)):
                yield Path(entry.path)
        stack.extend(reversed(folders))


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


def _check_shape(path: Path, w: int, h: int, padded: bool) -> None:
    """Refuse, before allocating, what would not fit: the decoded and the padded area, and
    strips so thin that they cannot be a photograph."""
    if w < 1 or h < 1:
        raise ImageError(f"{path}: unreadable image (size {w}x{h})")
    area = max(w, h) ** 2 if padded else w * h
    if area > MAX_PIXELS:
        raise ImageError(f"{path}: refused, too many pixels ({w}x{h}{', padded to a square' if padded else ''}; "
                         "decompression bomb?)")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(f"{path}: refused, {w}x{h} is not a photograph (aspect ratio over {MAX_ASPECT}:1)")


def load_image(path: str | Path, size: int | None = None):
    """Decode `path` to a uint8 array of shape (size, size, 3), padded to a square first;
    without `size`, the photo as it is (native size and aspect)."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block Pillow forever
            raise ImageError(f"{path}: not a regular file")
        # Pillow only warns between its two bomb limits; _check_shape refuses there itself.
        # (No warnings.catch_warnings here: it is not thread-safe, and images load in
        # threads, so it left an "error" filter behind in the caller's process.)
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with Image.open(path) as img:
            if size and img.format == "JPEG":
                img.draft("RGB", (size, size))  # decode at reduced scale: much faster
            _check_shape(path, *img.size, padded=bool(size))
            img = ImageOps.exif_transpose(img)
            img = _to_rgb8(img)
            if size:
                img = pad_square(img)
                if img.size != (size, size):  # already the right size: nothing to resample
                    img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
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
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a decoder's own bug is still one bad file, not a crash
        raise ImageError(f"{path}: unreadable image ({type(exc).__name__})") from None


def image_size(path: Path) -> tuple[int, int]:
    """Width and height from the header only (no full decode)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except Exception as exc:  # noqa: BLE001 - any header failure is "unreadable"
        raise ImageError(f"{path}: unreadable image ({type(exc).__name__})") from None
