"""Download a Kaggle dataset: resumable, retried, checked, extracted atomically.

Kaggle's own `kagglesdk` client makes the API calls (GetDataset for the
version, DownloadDataset for a signed storage URL); glaucli streams that URL
itself, because neither Kaggle client sets timeouts, retries inside a call,
resumes, or reports progress. `kagglehub` is not used: its credential lookup
skips ~/.config/kaggle/kaggle.json and it silently goes anonymous.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from glaucli.data import credentials as creds_mod
from glaucli.data import neterrors
from glaucli.data.layout import (CLASSES, MANIFEST, SPLITS, Dataset, canonical, choose_root, read_manifest,
                                 write_manifest)
from glaucli.errors import InputError, Interrupted, UsageError, WorkError

DATASETS = {
    "v2": "deathtrooper/glaucoma-dataset-eyepacs-airogs-light-v2",
    "v1": "deathtrooper/eyepacs-airogs-light",
}
MAX_RATIO = 100  # uncompressed/compressed: JPEG archives are ~1:1, bombs are >1000:1
MAX_ATTEMPTS = 6
CHUNK = 1 << 20

Progress = Callable[[int, int | None], None]  # (bytes done, total or None)


@dataclass
class DownloadResult:
    path: Path
    counts: dict
    source: dict
    already_complete: bool = False


def resolve_dataset_ref(dataset: str) -> tuple[str, str]:
    """`v1`/`v2`/`owner/slug` -> (owner/slug, default folder name)."""
    if dataset in DATASETS:
        return DATASETS[dataset], dataset
    parts = dataset.strip("/").split("/")
    if len(parts) != 2 or not all(p.strip(".") for p in parts):
        raise UsageError(f"unknown dataset {dataset!r}", hint="use v1, v2 or owner/slug")
    return dataset, parts[1]


def _timeouts() -> tuple[float, float]:
    from glaucli.config import env_number

    read = env_number("GLAUCLI_HTTP_TIMEOUT", 60, above=True)
    return min(read, 15.0), read


def _backoff(attempt: int) -> float:
    from glaucli.config import env_number

    return env_number("GLAUCLI_RETRY_BACKOFF", 2) * 2 ** attempt


# -- the Kaggle API (through kagglesdk) ------------------------------------------------

def _retrying(warn, what: str, error: str, attempt: int) -> None:
    """Say that a retry is coming (a silent minute of back-off looks like a hang), then wait."""
    if attempt + 1 < MAX_ATTEMPTS:
        delay = _backoff(attempt)
        if warn:
            warn(f"{what} failed ({error}); retrying in {delay:g} s (attempt {attempt + 2}/{MAX_ATTEMPTS})")
        time.sleep(delay)


class _Api:
    def __init__(self, found: creds_mod.Credentials | None, warn: Callable[[str], None] | None = None):
        import requests.adapters
        from kagglesdk import KaggleClient

        self.found, self.warn = found, warn
        kwargs = {}
        if found and found.token:
            kwargs["api_token"] = found.token
        elif found:
            kwargs.update(username=found.username, password=found.key)
        self.client = KaggleClient(**kwargs)

        timeout = _timeouts()

        class TimeoutAdapter(requests.adapters.HTTPAdapter):
            def send(self, request, **kw):
                kw["timeout"] = kw.get("timeout") or timeout
                return super().send(request, **kw)

        # kagglesdk sets no timeout; its session is created lazily, so create it and
        # mount an adapter that adds one (a stalled API server must not hang us).
        http = self.client.http_client()
        http._init_session()
        for scheme in ("http://", "https://"):
            http._session.mount(scheme, TimeoutAdapter())
        # DownloadDataset answers 302 to the signed storage URL. Following it would open
        # (and waste) a transfer; stop at the 302 and let fetch() stream the URL itself.
        http._session.max_redirects = 0

    def _call(self, what: str, fn, ref: str):
        import requests

        for attempt in range(MAX_ATTEMPTS):
            try:
                return fn()
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                redirected = exc.response is not None and bool(exc.response.history)
                if status in (401, 403) and not redirected:
                    if self.found:
                        raise InputError(f"Kaggle refused the credentials from {self.found.source} ({status})",
                                         hint="check the key/token, or accept the dataset's terms on kaggle.com") from None
                    raise InputError(f"Kaggle refused an anonymous request ({status}); no credentials found",
                                     hint="looked in: " + ", ".join(creds_mod.places_checked())) from None
                if status == 404 and not redirected:
                    raise InputError(f"unknown dataset {ref} (Kaggle answered 404)",
                                     hint="check the owner/slug; v1 and v2 are built in") from None
                if status is not None and status < 500 and not redirected:
                    raise WorkError(f"Kaggle {what} failed ({status})") from None
                error = f"HTTP {status}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = neterrors.describe(exc)
                if not failure.worth_retrying(attempt):
                    raise WorkError(f"Kaggle {what} failed: cannot reach {failure}",
                                    hint=self.offline_hint(ref)) from None
                error = str(failure)
            _retrying(self.warn, f"Kaggle {what}", error, attempt)
        raise WorkError(f"Kaggle {what} failed after {MAX_ATTEMPTS} attempts: {error}",
                        hint=self.offline_hint(ref))

    def offline_hint(self, ref: str, kept: int = 0) -> str:
        """What to do when Kaggle cannot be reached: resume only if something was kept,
        name missing credentials, and offer the offline route."""
        first = (f"re-run the same command to resume ({kept} bytes kept)" if kept
                 else "check the network or proxy settings")
        creds = "" if self.found else "; no Kaggle credentials were found either (see `glaucli download --help`)"
        return (f"{first}{creds}; offline: get the zip from https://www.kaggle.com/datasets/{ref} "
                "on another machine and run `glaucli download --from-zip FILE.zip`")

    def version(self, ref: str) -> int:
        from kagglesdk.datasets.types.dataset_api_service import ApiGetDatasetRequest

        owner, slug = ref.split("/")
        request = ApiGetDatasetRequest()
        request.owner_slug, request.dataset_slug = owner, slug
        dataset = self._call("dataset lookup", lambda: self.client.datasets.dataset_api_client.get_dataset(request), ref)
        return int(dataset.current_version_number or 0)

    def signed_url(self, ref: str, version: int) -> str:
        from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

        owner, slug = ref.split("/")
        request = ApiDownloadDatasetRequest()
        request.owner_slug, request.dataset_slug = owner, slug
        if version:
            request.dataset_version_number = version

        def call():
            import requests

            try:
                response = self.client.datasets.dataset_api_client.download_dataset(request)
            except requests.TooManyRedirects as exc:  # the 302, not followed (see __init__)
                return exc.response.headers["Location"]
            response.close()  # a server that answered without redirecting: use its URL
            return response.url

        return self._call("download request", call, ref)


# -- the storage transfer --------------------------------------------------------------

def _expected_md5(headers) -> str | None:
    for part in headers.get("x-goog-hash", "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "md5" and value:
            return base64.b64decode(value).hex()
    return None


def _md5_prefix(path: Path, length: int):
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


def _md5_of(path: Path) -> str:
    return _md5_prefix(path, path.stat().st_size).hexdigest()


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


def fetch(api: _Api, ref: str, version: int, part: Path, progress: Progress | None) -> dict:
    """Stream the archive into `part`, resuming what is there; returns size and MD5."""
    import requests
    import urllib3

    from glaucli.safety import read_json_object, write_json_atomic

    state_file = part.with_name(part.name + ".json")
    state = read_json_object(state_file) if part.exists() else {}
    if not _usable_state(state, part):  # unreadable or contradicting the part: start over
        state = {}
        part.unlink(missing_ok=True)
    session = requests.Session()
    url = api.signed_url(ref, version)
    error = ""
    digest, hashed = hashlib.md5(), 0  # hashed while written: no second pass over the archive
    for attempt in range(MAX_ATTEMPTS):
        have = part.stat().st_size if part.exists() else 0
        headers = {}
        if have and state.get("etag"):
            headers = {"Range": f"bytes={have}-", "If-Range": state["etag"]}
        try:
            with session.get(url, headers=headers, stream=True, timeout=_timeouts()) as response:
                if response.status_code == 403:  # the signed URL expired: ask for a fresh one
                    error = "storage refused the signed URL (expired?)"
                    url = api.signed_url(ref, version)
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
                             "md5": _expected_md5(response.headers)}
                    write_json_atomic(state_file, state)
                else:  # 206: the object's hash covers the whole object
                    state["md5"] = _expected_md5(response.headers) or state.get("md5")
                if hashed != have:  # resuming a part this process has not hashed yet
                    digest, hashed = _md5_prefix(part, have), have
                with open(part, "ab" if have else "wb") as fh:
                    # read1 hands over whatever has arrived, so a dropped connection
                    # loses nothing already received (iter_content would buffer a chunk).
                    for block in iter(lambda: response.raw.read1(CHUNK), b""):
                        fh.write(block)
                        digest.update(block)
                        have += len(block)
                        hashed = have
                        if progress:
                            progress(have, state.get("size"))
            if state.get("size") is None or have >= state["size"]:
                break
            error = "connection closed early"
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            failure = neterrors.describe(exc, url)
            error = str(failure)
            if not failure.worth_retrying(attempt):
                kept = part.stat().st_size if part.exists() else 0
                raise WorkError(f"download failed: cannot reach {failure}", hint=api.offline_hint(ref, kept)) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise WorkError(f"disk full while writing {part}", hint="free space, then re-run to resume") from None
            raise
        _retrying(api.warn, "the download", error, attempt)
    else:
        raise WorkError(f"download failed after {MAX_ATTEMPTS} attempts: {error}",
                        hint=api.offline_hint(ref, part.stat().st_size if part.exists() else 0))
    size = part.stat().st_size
    if state.get("size") is not None and size != state["size"]:
        raise WorkError(f"downloaded {size} bytes, expected {state['size']}", hint="re-run to resume")
    md5 = digest.hexdigest() if hashed == size else _md5_of(part)
    if state.get("md5") and md5 != state["md5"]:
        part.unlink()
        state_file.unlink(missing_ok=True)
        raise WorkError("checksum mismatch: the archive's MD5 differs from the server's",
                        hint="the partial file was removed; re-run to download again")
    return {"size": size, "md5": md5}


# -- the archive -----------------------------------------------------------------------

def _zip_roots(names: list[str]) -> list[PurePosixPath]:
    roots = set()
    for name in names:
        parts = PurePosixPath(name).parts
        for i in range(len(parts) - 2):
            if canonical(parts[i]) in SPLITS and canonical(parts[i + 1]) in CLASSES:
                roots.add(PurePosixPath(*parts[:i]))
                break
    return sorted(roots)


_COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_MAX_PARTS = 64  # folders deeper than this are no dataset (and would exhaust recursion)


def _check_readable(info: zipfile.ZipInfo, rel: PurePosixPath, name_max: int) -> None:
    """What would fail half-way through the extraction, refused before anything is written."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise InputError(f"archive member {name!r} is encrypted; glaucli cannot extract it",
                         hint="re-create the archive without a password")
    if info.compress_type not in _COMPRESSIONS:
        raise InputError(f"archive member {name!r} uses compression method {info.compress_type}, "
                         "which Python's zipfile cannot read", hint="re-create the archive with deflate")
    if len(rel.parts) > _MAX_PARTS:
        raise InputError(f"archive member {name[:80]!r}... is nested {len(rel.parts)} folders deep; refusing the archive")
    if any(len(os.fsencode(part)) > name_max for part in rel.parts):
        raise InputError(f"archive member {name[:80]!r}... has a name longer than this filesystem allows "
                         f"({name_max} bytes); refusing the archive")


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise InputError(f"archive member {name!r} points outside the target folder; refusing the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"archive member {name!r} is a symbolic link; refusing the archive")


def install_archive(archive: Path, target: Path, source: dict, variant: str | None = None,
                    progress: Progress | None = None) -> dict:
    """Extract the split/class tree of `archive` into `target`, atomically; returns counts.

    Only the chosen tree is extracted, into a folder beside the target, then renamed
    into place; an existing complete target is replaced only once the new one is whole.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except FileNotFoundError:
        raise InputError(f"{archive} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{archive} is a directory, not a zip archive") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{archive} is not a readable zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        for info in infos:
            _check_member(info)
        roots = _zip_roots([i.filename for i in infos])
        if not roots:
            raise InputError(f"{archive} holds no dataset tree",
                             hint="expected train/, validation/, test/ folders each holding NRG/ and RG/")
        root = choose_root(roots, variant, str(archive))
        wanted = []
        for info in infos:
            rel = PurePosixPath(info.filename).relative_to(root) if PurePosixPath(info.filename).is_relative_to(root) else None
            if (rel and len(rel.parts) >= 3 and canonical(rel.parts[0]) in SPLITS
                    and canonical(rel.parts[1]) in CLASSES and not info.is_dir()):
                # Written under the canonical names: the normalised tree is always train/RG...
                wanted.append((info, PurePosixPath(canonical(rel.parts[0]), canonical(rel.parts[1]), *rel.parts[2:])))
        # Two spellings of one folder (NRG and nrg) merge into one: both are counted, and a
        # file present in both would silently overwrite the other, so that is refused.
        seen: dict[PurePosixPath, str] = {}
        for info, rel in wanted:
            if rel in seen:
                raise InputError(f"archive members {seen[rel]!r} and {info.filename!r} both become {rel}",
                                 hint="rename one of them; class folders are matched case-insensitively")
            seen[rel] = info.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            name_max = os.pathconf(target.parent, "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = 255
        for info, rel in wanted:
            _check_readable(info, rel, name_max)
        total = sum(i.file_size for i, _ in wanted)
        packed = max(1, sum(i.compress_size for i, _ in wanted))
        if total > MAX_RATIO * packed and total > 64 << 20:
            raise InputError(f"{archive} would expand {total // packed}x ({total >> 20} MiB): refusing a likely zip bomb")
        free = shutil.disk_usage(target.parent).free
        if total > free:
            raise WorkError(f"not enough disk: the dataset needs {total >> 20} MiB, {free >> 20} MiB free")
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
        try:
            done = 0
            for info, rel in wanted:
                dest = staging.joinpath(*rel.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as dst:
                    written = 0
                    for block in iter(lambda: src.read(CHUNK), b""):
                        written += len(block)
                        if written > info.file_size:  # lying headers: a bomb in disguise
                            raise InputError(f"archive member {info.filename!r} is larger than declared")
                        dst.write(block)
                done += info.file_size
                if progress:
                    progress(done, total)
            for split in SPLITS:
                for cls in CLASSES:
                    (staging / split / cls).mkdir(parents=True, exist_ok=True)
            counts = Dataset(staging).counts()
            write_manifest(staging, source, counts)
            _swap_into_place(staging, target)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise WorkError("disk full while extracting; nothing was changed",
                                hint="free space and re-run") from None
            if exc.errno == errno.ENAMETOOLONG:
                raise InputError("an archive member's path is longer than this filesystem allows; "
                                 "nothing was changed") from None
            raise WorkError(f"extraction failed ({exc.strerror or type(exc).__name__}); nothing was changed") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            # A damaged member (bad CRC, truncated data) or a format zipfile cannot read.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{archive} is damaged or unreadable ({reason}); nothing was changed") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return counts


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the new tree into place; the old one goes only after that succeeded."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _lock(data_dir: Path, name: str):
    """One download per target at a time; a second one exits with a message."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f".{name}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkError(f"another glaucli download is writing {data_dir / name}",
                            hint="wait for it to finish, then re-run") from None
        yield


def _target(data_dir: Path, name: str) -> Path:
    """DATA_DIR/NAME, checked before any work: NAME is one folder name, and an existing
    folder there is replaced only if glaucli installed it (it has a manifest.json)."""
    from glaucli.safety import component, may_replace

    target = data_dir / component(name, "--name")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder; refusing to replace it",
                         hint="choose another --name")
    may_replace(target, lambda t: (t / MANIFEST).exists(), "--name")
    return target


def _complete(target: Path) -> DownloadResult | None:
    """The result for a target that already holds a complete dataset (it has a manifest)."""
    manifest = read_manifest(target)
    if manifest is None:
        return None
    return DownloadResult(target, manifest["counts"], manifest.get("source"), already_complete=True)


def download(dataset: str, data_dir: Path, name: str | None = None, variant: str | None = None,
             force: bool = False, on_bytes: Progress | None = None, on_extract: Progress | None = None,
             warn: Callable[[str], None] | None = None) -> DownloadResult:
    """Download `dataset` (v1, v2, owner/slug) into `data_dir/<name>`."""
    ref, default_name = resolve_dataset_ref(dataset)
    name = default_name if name is None else name
    target = _target(data_dir, name)
    _timeouts(), _backoff(0)  # garbage in GLAUCLI_HTTP_TIMEOUT / _RETRY_BACKOFF: exit 2 before any work
    with _lock(data_dir, name):
        if not force and (done := _complete(target)):
            return done
        api = _Api(creds_mod.find_credentials(warn=warn), warn)
        version = api.version(ref)
        part = data_dir / ".downloads" / f"{name}-v{version}.zip.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        try:
            archive = fetch(api, ref, version, part, on_bytes)
        except KeyboardInterrupt:
            kept = part.stat().st_size if part.exists() else 0
            raise Interrupted(f"download interrupted; {kept} bytes kept in {part}",
                              hint="re-run the same command to resume") from None
        source = {"kind": "kaggle", "dataset": ref, "version": version, "archive": archive}
        counts = install_archive(part, target, source, variant, on_extract)
        part.unlink()
        part.with_name(part.name + ".json").unlink(missing_ok=True)
        return DownloadResult(target, counts, source)


def install_zip(archive: Path, data_dir: Path, name: str | None = None, variant: str | None = None,
                force: bool = False, on_extract: Progress | None = None) -> DownloadResult:
    """`download --from-zip`: the same checks and layout for a hand-downloaded archive."""
    if not archive.is_file():
        raise InputError(f"{archive} does not exist" if not archive.exists() else f"{archive} is not a file")
    name = archive.stem if name is None else name
    target = _target(data_dir, name)
    with _lock(data_dir, name):
        if not force and (done := _complete(target)):
            return done
        source = {"kind": "zip", "file": str(archive.resolve()),
                  "archive": {"size": archive.stat().st_size, "md5": _md5_of(archive)}}
        counts = install_archive(archive, target, source, variant, on_extract)
        return DownloadResult(target, counts, source)
