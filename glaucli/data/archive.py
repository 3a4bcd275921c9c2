"""A dataset archive, installed safely: every member checked before anything is written
(paths outside the target, links, encryption, unreadable compression, depth, name length,
two spellings of one file), zip-bomb and free-disk checks, extraction into a staging folder
beside the target, then one rename into place (the old tree goes only after that)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from glaucli import events
from glaucli.data.layout import CLASSES, SPLITS, Dataset, canonical, choose_root, write_manifest
from glaucli.errors import InputError, WorkError
from glaucli.safety import swap_into_place

MAX_RATIO = 100  # uncompressed/compressed: JPEG archives are ~1:1, bombs are >1000:1
CHUNK = 1 << 20



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
        raise InputError(f"archive member {name[:80]!r}... is nested {len(rel.parts)} folders deep; "
                         "refusing the archive")
    if any(len(os.fsencode(part)) > name_max for part in rel.parts):
        raise InputError(f"archive member {name[:80]!r}... has a name longer than this filesystem allows "
                         f"({name_max} bytes); refusing the archive")


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    outside = ".." in PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or outside:
        raise InputError(f"archive member {name!r} points outside the target folder; refusing the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"archive member {name!r} is a symbolic link; refusing the archive")


def install_archive(archive: Path, target: Path, source: dict, variant: str | None = None, *,
                    on_event: events.Listeners = None) -> dict:
    """Extract the split/class tree of `archive` into `target`, atomically; returns counts.

    Only the chosen tree is extracted, into a folder beside the target, then renamed
    into place; an existing complete target is replaced only once the new one is whole.
    `on_event`: Progress("extract", bytes written, total, "bytes") after each member.
    """
    on_event = events.dispatcher(on_event)
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
            member = PurePosixPath(info.filename)
            rel = member.relative_to(root) if member.is_relative_to(root) else None
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
            raise InputError(f"{archive} would expand {total // packed}x ({total >> 20} MiB): "
                             "refusing a likely zip bomb")
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
                on_event(events.Progress("extract", done, total, "bytes"))
            for split in SPLITS:
                for cls in CLASSES:
                    (staging / split / cls).mkdir(parents=True, exist_ok=True)
            counts = Dataset(staging).counts()
            write_manifest(staging, source, counts)
            swap_into_place(staging, target)
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


