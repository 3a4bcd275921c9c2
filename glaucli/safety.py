"""Nothing is lost: the checks every path glaucli writes to goes through.

Three rules (README, "What glaucli guarantees"): a name the user gives is one
path component; an output path that is one of the inputs is refused; glaucli
never deletes or replaces what it did not create. Plus the file helpers that
keep what glaucli itself wrote readable: temp-and-rename writes, and reads
that say "unreadable" instead of raising on garbage.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from glaucli.errors import UsageError

NAME_MAX = 255  # bytes per path component on every common filesystem


def component(name: str, option: str) -> str:
    """`name` if it is usable as one folder name under a glaucli folder, else a UsageError
    naming `option`. Refuses '', '.', '..', separators, NUL and over-long names."""
    reason = None
    if not name or not name.strip():
        reason = "is empty"
    elif name in (".", "..") or name.strip(".") == "":
        reason = "is not a folder name"
    elif any(sep in name for sep in ("/", "\\", "\0")):
        reason = "contains a path separator"
    elif len(os.fsencode(name)) > NAME_MAX:
        reason = f"is longer than {NAME_MAX} bytes"
    if reason:
        raise UsageError(f"{option} {name!r} {reason}",
                         hint="give a plain name such as my-run (one folder, no / or ..)")
    return name


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(child: Path, parent: Path) -> bool:
    try:
        return Path(os.path.realpath(child)).is_relative_to(os.path.realpath(parent))
    except (OSError, ValueError):
        return False


def not_an_input(output: Path, inputs: Iterable[Path], option: str) -> None:
    """Refuse (exit 2) an output path that is one of the inputs, holds one, or lies inside
    an input folder that will be replaced (`output` is written, then maybe renamed over)."""
    for item in inputs:
        item = Path(item)
        if _same(output, item) or (output.is_dir() and _inside(item, output)):
            raise UsageError(f"{option} {output} is one of the inputs ({item}); refusing to write over it",
                             hint=f"choose another {option} path")


def may_replace(target: Path, is_ours=None, option: str = "--output", force: bool = False,
                forceable: bool = True) -> None:
    """Refuse (exit 2) to replace an existing `target` glaucli did not write. For a file the proof
    is its provenance record (`wrote`); `is_ours(target)` may add another (a previous export
    folder). Empty folders and missing paths are always fine; `force` allows replacing a file,
    never a non-empty folder glaucli did not write."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_dir() and not target.is_symlink():
        try:
            empty = not any(target.iterdir())
        except OSError:
            empty = False
        if empty or (is_ours is not None and is_ours(target)):
            return
        raise UsageError(f"{option} {target} is an existing folder glaucli did not write; refusing to replace it",
                         hint=f"choose a new {option} path (a previous glaucli output there is replaced)")
    if force or wrote(target) or (is_ours is not None and is_ours(target)):
        return
    raise UsageError(f"{option} {target} exists and is not a file glaucli wrote; refusing to replace it",
                     hint=f"choose another {option} path" + (", or pass --force to replace it" if forceable else ""))


# -- provenance: the proof that glaucli wrote a file -------------------------------------------

LEDGER = ".glaucli-written.jsonl"  # one per folder glaucli writes into: {"name", "sha256"} per line


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (the ledger's proof, and data --verify's
    identical-file test); OSError when it cannot be read."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


class Ledger:
    """The provenance record of one folder: the name and sha256 of every file glaucli wrote
    there (the last line for a name wins). A file is glaucli's when its bytes still hash to
    what was recorded: a user's own file of the same name, or one they edited since, is not."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LEDGER
        self._entries: dict[str, str] | None = None

    @property
    def entries(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = {}
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            for line in lines:
                try:
                    item = json.loads(line)
                    self._entries[str(item["name"])] = str(item["sha256"])
                except (ValueError, TypeError, KeyError):
                    continue  # a torn or foreign line proves nothing
        return self._entries

    def proves(self, path: Path) -> bool:
        recorded = self.entries.get(Path(path).name)
        return recorded is not None and path.is_file() and not path.is_symlink() and _sha256(path) == recorded

    def record(self, path: Path) -> None:
        digest = _sha256(path)
        if digest is None:
            return
        line = json.dumps({"name": Path(path).name, "sha256": digest}) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:  # one short append: no torn rewrite
            fh.write(line)
        self.entries[Path(path).name] = digest


def wrote(path: Path) -> bool:
    """Whether glaucli can prove it wrote the file at `path` (its folder's ledger says so)."""
    path = Path(path)
    return Ledger(path.parent).proves(path)


def record_written(path: Path, ledger: Ledger | None = None) -> None:
    """Note in `path`'s folder that glaucli wrote it: what a later run may then replace."""
    (ledger or Ledger(Path(path).parent)).record(Path(path))


@contextmanager
def owned_path(target: Path, ledger: Ledger | None = None) -> Iterator[Path]:
    """atomic_path, then the provenance record: for every file glaucli writes where a user's
    files may be (an --output, --csv or --explain the user named)."""
    with atomic_path(target) as tmp:
        yield tmp
    record_written(target, ledger)


def replaceable(targets: Iterable[Path], option: str, force: bool = False, ledger: Ledger | None = None) -> None:
    """Before any work: each of `targets` (files a command is about to write) is missing, or a
    file glaucli provably wrote, or `force`; else a refusal (exit 2) naming the first.
    `ledger`: the already-read record of the targets' folder (a loop over many files)."""
    ledgers: dict[Path, Ledger] = {ledger.path.parent: ledger} if ledger is not None else {}
    for target in targets:
        target = Path(target)
        if not target.exists() and not target.is_symlink():
            continue
        if target.is_dir() and not target.is_symlink():
            raise UsageError(f"{option}: {target} is a folder where glaucli writes a file; refusing to replace it",
                             hint=f"choose another {option} folder")
        ledger = ledgers.setdefault(target.parent, Ledger(target.parent))
        if not (force or ledger.proves(target)):
            raise UsageError(f"{option}: {target} exists and is not a file glaucli wrote; refusing to replace it",
                             hint=f"choose another (or an empty) {option} folder")


# -- files glaucli writes and reads back ------------------------------------------------------

def finite(data):
    """`data` with NaN and infinities as None: JSON has no NaN (json.dumps would write one)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def dumps(data, indent: int | None = 2) -> str:
    """Strict JSON (no NaN): what every --json line and every file glaucli writes uses."""
    return json.dumps(finite(data), indent=indent, default=str, allow_nan=False)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temp path beside `target` to write to; renamed onto `target` when the block ends
    without error, removed otherwise, so a crash never leaves half a file under its name.
    The temp name keeps the suffix: writers that pick a format by it (np.savez, savefig)
    still do, and np.savez adds no second `.npz`."""
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, data) -> None:
    """Strict JSON (no NaN) through a temp file beside the target, then rename."""
    write_text_atomic(path, dumps(data) + "\n")


def read_json_object(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing, unreadable, or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def output_file(path: Path, inputs: Iterable[Path], option: str, suffixes: tuple[str, ...] = (),
                force: bool | None = None) -> None:
    """An output file: not an input, not a folder, and replacing only a file glaucli provably
    wrote (its provenance record) unless `force` (None: the command has no --force). `suffixes`
    is kept for the callers' sake: a suffix proves nothing."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    if path.exists() or path.is_symlink():
        not_an_input(path, inputs, option)
    may_replace(path, None, option, force, forceable=force is not None)


def memory_bytes() -> int:
    """Physical memory (or the address-space limit, if lower): what a size estimate must fit in."""
    import resource

    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 1 << 40
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return min(total, soft) if soft != resource.RLIM_INFINITY else total


def max_image_size(batch_size: int) -> int:
    """The largest square input side whose float32 batch (x ~8 for activations and copies)
    fits in half the memory: a rough bound that only refuses sizes that cannot work."""
    budget = memory_bytes() // 2
    return max(16, math.isqrt(budget // (max(1, batch_size) * 3 * 4 * 8)))


def swap_into_place(new: Path, target: Path) -> None:
    """Rename the finished `new` (a folder or a file) onto `target`. A folder already there is
    moved aside first and removed only once the rename succeeded (a file is replaced by the
    rename itself), so a failure leaves the previous one whole."""
    import shutil

    old = None
    if target.is_dir():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
