"""`glaucli download`: a Kaggle dataset (data/kaggle.py finds it, data/transfer.py streams
it) or a hand-downloaded zip, installed by data/archive.py into DATA_DIR/NAME, one download
per target at a time."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from glaucli import events
from glaucli.data import credentials as creds_mod
from glaucli.data import kaggle, transfer
from glaucli.data.archive import install_archive
from glaucli.data.layout import MANIFEST, read_manifest
from glaucli.errors import InputError, Interrupted, UsageError, WorkError


@dataclass
class DownloadResult:
    path: Path
    counts: dict
    source: dict
    already_complete: bool = False


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
             force: bool = False, *, on_event: events.Listeners = None) -> DownloadResult:
    """Download `dataset` (v1, v2, owner/slug) into `data_dir/<name>`. `on_event`: Warned
    (retries, credentials), Progress("download", ..., "bytes"), then Progress("extract", ...)."""
    on_event = events.dispatcher(on_event)
    ref, default_name = kaggle.resolve_dataset_ref(dataset)
    name = default_name if name is None else name
    target = _target(data_dir, name)
    transfer.timeouts(), transfer.backoff(0)  # garbage in GLAUCLI_HTTP_TIMEOUT / _RETRY_BACKOFF: exit 2 before any work
    with _lock(data_dir, name):
        if not force and (done := _complete(target)):
            return done
        api = kaggle._Api(creds_mod.find_credentials(on_event=on_event), on_event)
        version = api.version(ref)
        part = data_dir / ".downloads" / f"{name}-v{version}.zip.part"
        part.parent.mkdir(parents=True, exist_ok=True)
        try:
            archive = transfer.fetch(lambda: api.signed_url(ref, version), part,
                                     lambda kept: api.offline_hint(ref, kept), kaggle.MAX_ATTEMPTS,
                                     on_event=on_event)
        except KeyboardInterrupt:
            kept = part.stat().st_size if part.exists() else 0
            raise Interrupted(f"download interrupted; {kept} bytes kept in {part}",
                              hint="re-run the same command to resume") from None
        source = {"kind": "kaggle", "dataset": ref, "version": version, "archive": archive}
        counts = install_archive(part, target, source, variant, on_event=on_event)
        part.unlink()
        part.with_name(part.name + ".json").unlink(missing_ok=True)
        return DownloadResult(target, counts, source)


def install_zip(archive: Path, data_dir: Path, name: str | None = None, variant: str | None = None,
                force: bool = False, *, on_event: events.Listeners = None) -> DownloadResult:
    """`download --from-zip`: the same checks and layout for a hand-downloaded archive.
    `on_event`: Progress("extract", bytes written, total, "bytes")."""
    if not archive.is_file():
        raise InputError(f"{archive} does not exist" if not archive.exists() else f"{archive} is not a file")
    name = archive.stem if name is None else name
    target = _target(data_dir, name)
    with _lock(data_dir, name):
        if not force and (done := _complete(target)):
            return done
        source = {"kind": "zip", "file": str(archive.resolve()),
                  "archive": {"size": archive.stat().st_size, "md5": transfer.md5_of(archive)}}
        counts = install_archive(archive, target, source, variant, on_event=on_event)
        return DownloadResult(target, counts, source)
