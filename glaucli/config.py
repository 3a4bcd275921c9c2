"""Where glaucli reads and writes (the data and runs directories) and the numeric settings
read from the environment; garbage in a variable is a usage error naming it (exit 2), a
data or runs folder that is a file an unusable input path (exit 3)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from glaucli.errors import InputError, UsageError


def _folder(override: Path | None, variable: str, option: str, default: str) -> Path:
    path = Path(override or os.environ.get(variable) or default)
    if path.exists() and not path.is_dir():
        where = option if override else f"{variable}={path}" if os.environ.get(variable) else option
        raise InputError(f"{where}: {path} is a file, not a folder",
                         hint=f"point {option} (or {variable}) at a folder")
    return path


def data_dir(override: Path | None = None) -> Path:
    return _folder(override, "GLAUCLI_DATA_DIR", "--data-dir", "data")


def runs_dir(override: Path | None = None) -> Path:
    return _folder(override, "GLAUCLI_RUNS_DIR", "--runs-dir", "runs")


def env_number(variable: str, default: float, minimum: float = 0.0, above: bool = False) -> float:
    """A finite number from the environment, at least `minimum` (or strictly above it)."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < minimum or (above and value == minimum):
        bound = f"above {minimum:g}" if above else f"at least {minimum:g}"
        raise UsageError(f"{variable}={text!r} is not a number {bound}",
                         hint=f"unset {variable} or set it to a number such as {default:g}")
    return value


def debug_enabled() -> bool:
    return os.environ.get("GLAUCLI_DEBUG", "") not in ("", "0")
