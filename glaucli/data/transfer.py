"""A resumable HTTP download: Range/If-Range on the kept part, MD5 while writing, a fresh
URL when a signed one expires, retries with back-off. Knows nothing of Kaggle: the caller
gives a function for the URL and one for the hint of a failure.

The loop is by hand because urllib3's Retry cannot resume a body half-way through.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import time
from pathlib import Path
from typing import Callable

from glaucli import events
from glaucli.data import neterrors
from glaucli.errors import WorkError

ATTEMPTS = 6
CHUNK = 1 << 20


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds: GLAUCLI_HTTP_TIMEOUT (default 60) reads, at most 15 to connect."""
    from glaucli.config import env_number

    read = env_number("GLAUCLI_HTTP_TIMEOUT", 60, above=True)
    return min(read, 15.0), read


def backoff(attempt: int) -> float:
    from glaucli.config import env_number

    return env_number("GLAUCLI_RETRY_BACKOFF", 2) * 2 ** attempt


def retrying(what: str, error: str, attempt: int, attempts: int, *, on_event: events.Listeners = None) -> None:
    """Say that a retry is coming (Warned: a silent minute of back-off looks like a hang), then wait."""
    if attempt + 1 < attempts:
        delay = backoff(attempt)
        events.dispatcher(on_event).warn(f"{what} failed ({error}); retrying in {delay:g} s "
                                         f"(attempt {attempt + 2}/{attempts})")
        time.sleep(delay)


def expected_md5(headers) -> str | None:
    """The object's MD5 as cloud storage states it (x-goog-hash), hex; None if not stated."""
    for part in headers.get("x-goog-hash", "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "md5" and value:
            return base64.b64decode(value).hex()
    return None


def md5_prefix(path: Path, length: int):
    """An MD5 object fed with the first `length` bytes of `path`."""
    digest = hashlib.md5()
    if length:
        with open(path, "rb") as fh:
            while length > 0:
                block = fh.read(min(CHUNK, length))
                if not block:
                    break
                digest.update(block)
                length -= len(block)
    return digest


def md5_of(path: Path) -> str:
    return md5_prefix(path, path.stat().st_size).hexdigest()


def _usable_state(state: dict | None, part: Path) -> bool:
    """A download state file that can resume `part`: an object whose size (if known) is not
    below what is already on disk."""
    if state is None:
        return False
    size = state.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return False
    if any(state.get(k) is not None and not isinstance(state.get(k), str) for k in ("etag", "md5")):
        return False
    have = part.stat().st_size if part.exists() else 0
    return size is None or have <= size


def fetch(new_url: Callable[[], str], part: Path, hint: Callable[[int], str] = lambda kept: "",
          attempts: int = ATTEMPTS, *, on_event: events.Listeners = None) -> dict:
    """Stream the object at `new_url()` into `part`, resuming what is there (its ETag, size and
    MD5 kept in `part`.json); `new_url` is asked again when storage refuses an expired URL,
    `hint(bytes kept)` words a failure's hint. Returns {"size", "md5"}. `on_event`:
    Progress("download", bytes so far, size or None, "bytes") per block read, Warned per retry."""
    import requests
    import urllib3

    from glaucli.safety import read_json_object, write_json_atomic

    on_event = events.dispatcher(on_event)
    state_file = part.with_name(part.name + ".json")
    state = read_json_object(state_file) if part.exists() else {}
    if not _usable_state(state, part):  # unreadable or contradicting the part: start over
        state = {}
        part.unlink(missing_ok=True)
    session = requests.Session()
    url = new_url()
    error = ""
    digest, hashed = hashlib.md5(), 0  # hashed while written: no second pass over the archive
    for attempt in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        headers = {}
        if have and state.get("etag"):
            headers = {"Range": f"bytes={have}-", "If-Range": state["etag"]}
        try:
            with session.get(url, headers=headers, stream=True, timeout=timeouts()) as response:
                if response.status_code == 403:  # the signed URL expired: ask for a fresh one
                    error = "storage refused the signed URL (expired?)"
                    url = new_url()
                    continue
                if response.status_code == 416 and state.get("size") == have:
                    break  # already whole
                if response.status_code == 416:  # our part does not fit the object: start over
                    error = "the kept partial file does not match the archive; starting over"
                    part.unlink(missing_ok=True)
                    state = {}
                    continue
                if response.status_code not in (200, 206):
                    raise requests.HTTPError(f"storage answered {response.status_code}")
                if response.status_code == 200:
                    have = 0  # the server ignored the range: start over
                    state = {"etag": response.headers.get("ETag"),
                             "size": int(response.headers["Content-Length"])
                             if "Content-Length" in response.headers else None,
                             "md5": expected_md5(response.headers)}
                    write_json_atomic(state_file, state)
                else:  # 206: the object's hash covers the whole object
                    state["md5"] = expected_md5(response.headers) or state.get("md5")
                if hashed != have:  # resuming a part this process has not hashed yet
                    digest, hashed = md5_prefix(part, have), have
                with open(part, "ab" if have else "wb") as fh:
                    # read1 hands over whatever has arrived, so a dropped connection
                    # loses nothing already received (iter_content would buffer a chunk).
                    for block in iter(lambda: response.raw.read1(CHUNK), b""):
                        fh.write(block)
                        fh.flush()  # on disk as it arrives: a stalled download shows its true size
                        digest.update(block)
                        have += len(block)
                        hashed = have
                        on_event(events.Progress("download", have, state.get("size"), "bytes"))
            if state.get("size") is None or have >= state["size"]:
                break
            error = "connection closed early"
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            failure = neterrors.describe(exc, url)
            error = str(failure)
            if not failure.worth_retrying(attempt):
                kept = part.stat().st_size if part.exists() else 0
                raise WorkError(f"download failed: cannot reach {failure}", hint=hint(kept)) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise WorkError(f"disk full while writing {part}", hint="free space, then re-run to resume") from None
            raise
        retrying("the download", error, attempt, attempts, on_event=on_event)
    else:
        raise WorkError(f"download failed after {attempts} attempts: {error}",
                        hint=hint(part.stat().st_size if part.exists() else 0))
    size = part.stat().st_size
    if state.get("size") is not None and size != state["size"]:
        raise WorkError(f"downloaded {size} bytes, expected {state['size']}", hint="re-run to resume")
    md5 = digest.hexdigest() if hashed == size else md5_of(part)
    if state.get("md5") and md5 != state["md5"]:
        part.unlink()
        state_file.unlink(missing_ok=True)
        raise WorkError("checksum mismatch: the archive's MD5 differs from the server's",
                        hint="the partial file was removed; re-run to download again")
    return {"size": size, "md5": md5}
