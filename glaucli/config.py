"""Where glaucli reads and writes: the data and runs directories."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(override: Path | None = None) -> Path:
    return Path(override or os.environ.get("GLAUCLI_DATA_DIR") or "data")


def runs_dir(override: Path | None = None) -> Path:
    return Path(override or os.environ.get("GLAUCLI_RUNS_DIR") or "runs")


def debug_enabled() -> bool:
    return os.environ.get("GLAUCLI_DEBUG", "") not in ("", "0")
