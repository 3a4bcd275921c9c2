"""Keep secrets (Kaggle key/token) out of every message, log and traceback."""

from __future__ import annotations

import os

_SECRET_ENV = ("KAGGLE_KEY", "KAGGLE_API_TOKEN")
_known: set[str] = set()


def register(value: str | None) -> None:
    """Remember a secret read from a file so `scrub` can hide it."""
    if value and len(value) >= 4:
        _known.add(value)


def scrub(text: str) -> str:
    secrets = set(_known)
    secrets.update(v for name in _SECRET_ENV if len(v := os.environ.get(name, "")) >= 4)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
