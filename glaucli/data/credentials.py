"""Kaggle credentials, resolved by glaucli itself (kagglehub skips some places).

Order: KAGGLE_API_TOKEN, ~/.kaggle/access_token, KAGGLE_USERNAME+KAGGLE_KEY,
$KAGGLE_CONFIG_DIR/kaggle.json, ~/.kaggle/kaggle.json,
~/.config/kaggle/kaggle.json. Secrets are registered with `secrets.scrub`
and never printed.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from glaucli import events, secrets


@dataclass(frozen=True)
class Credentials:
    source: str  # where they came from, safe to print
    username: str | None = None
    key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


def _token_file() -> Path:
    return Path.home() / ".kaggle" / "access_token"


def _json_files() -> list[Path]:
    files = []
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        files.append(Path(os.environ["KAGGLE_CONFIG_DIR"]) / "kaggle.json")
    files += [Path.home() / ".kaggle" / "kaggle.json", Path.home() / ".config" / "kaggle" / "kaggle.json"]
    return files


def places_checked() -> list[str]:
    return (["$KAGGLE_API_TOKEN", str(_token_file()), "$KAGGLE_USERNAME + $KAGGLE_KEY"]
            + [str(p) for p in _json_files()])


def find_credentials(*, on_event: events.Listeners = None) -> Credentials | None:
    """The first credentials found, or None (then glaucli tries anonymously). A kaggle.json
    that others can read is Warned to `on_event`."""
    token = os.environ.get("KAGGLE_API_TOKEN", "").strip()
    if token:
        secrets.register(token)
        return Credentials("$KAGGLE_API_TOKEN", token=token)
    try:
        token = _token_file().read_text().strip()
    except OSError:
        token = ""
    if token:
        secrets.register(token)
        return Credentials(str(_token_file()), token=token)
    user, key = os.environ.get("KAGGLE_USERNAME", ""), os.environ.get("KAGGLE_KEY", "")
    if user and key:
        secrets.register(key)
        return Credentials("$KAGGLE_USERNAME + $KAGGLE_KEY", username=user, key=key)
    for path in _json_files():
        try:
            body = json.loads(path.read_text())
            user, key = str(body["username"]), str(body["key"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        secrets.register(key)
        if path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
            events.dispatcher(on_event).warn(f"{path} is readable by other users; run `chmod 600 {path}`")
        return Credentials(str(path), username=user, key=key)
    return None
