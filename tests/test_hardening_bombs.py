"""Hardening, round two (issue 16), classes 3 and 7: inputs that exhaust memory or recursion,
and hostile archives and folders. Sizes are checked before allocating, folders are walked
without recursion, one bad file never costs the others, and a refused archive leaves the
previous dataset exactly as it was. (The suite runs under RLIMIT_AS, see conftest.py.)"""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import make_sample


def _error(result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert lines, result.stderr
    return lines[-1]


# -- images -----------------------------------------------------------------------------------

def test_strips_and_padded_giants_cost_only_themselves(cli, trained, tmp_path, monkeypatch):
    import glaucli.data.images as images

    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0], folder / "good.jpg")
    Image.new("L", (100_000, 1)).save(folder / "strip_100000x1.png")  # a few hundred bytes
    Image.new("L", (1, 30_000)).save(folder / "strip_1x30000.png")
    Image.new("L", (3000, 200)).save(folder / "wide_3000x200.png")  # pads to 9e6 pixels
    Image.new("L", (1500, 50)).save(folder / "thin_1500x50.png")  # fits, but 30:1 is no photograph
    monkeypatch.setattr(images, "MAX_PIXELS", 4_000_000)
    result = cli("predict", folder, "--model", trained["run"], "--json", code=1)
    rows = {Path(r["image"]).name: r for r in json.loads(result.stdout)}
    assert "probability" in rows["good.jpg"]
    assert "refused" in rows["strip_100000x1.png"]["error"]
    assert "not a photograph" in rows["thin_1500x50.png"]["error"]
    assert "refused" in rows["strip_1x30000.png"]["error"]
    assert "padded to a square" in rows["wide_3000x200.png"]["error"]
    assert "4 of 5" in _error(result)


def test_an_unexpected_failure_of_one_image_keeps_the_batch(cli, trained, tmp_path, monkeypatch):
    import glaucli.engine.scoring as scoring

    folder = tmp_path / "batch"
    folder.mkdir()
    for src in sorted((trained["data"] / "test" / "NRG").glob("*.jpg"))[:3]:
        shutil.copy(src, folder / src.name)
    victim = sorted(folder.iterdir())[1]
    real = scoring.load_image

    def flaky(path, size=None):
        if Path(path) == victim:
            raise MemoryError  # what the 100000x1 PNG did before its size was checked
        return real(path, size)

    monkeypatch.setattr(scoring, "load_image", flaky)
    rows = json.loads(cli("predict", folder, "--model", trained["run"], "--json", code=1).stdout)
    assert [("probability" in r) for r in rows] == [True, False, True]


def test_a_decoder_bug_is_one_unreadable_image(tmp_path, monkeypatch):
    from PIL import ImageOps

    from glaucli.data.images import ImageError, load_image

    image = tmp_path / "eye.png"
    Image.new("RGB", (40, 30)).save(image)

    def broken(img):
        raise ZeroDivisionError("inside a plugin")

    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    with pytest.raises(ImageError, match="unreadable image"):
        load_image(image, 32)


def _deep(root: Path, depth: int) -> Path:
    current = root
    for _ in range(depth):
        current = current / "d"
        current.mkdir(parents=current == root / "d")
    return current


def _remove_deep(root: Path) -> None:
    """Bottom-up without recursion (shutil.rmtree recurses on Python 3.11)."""
    stack = [root]
    while stack:
        top = stack[-1]
        children = list(top.iterdir()) if top.is_dir() and not top.is_symlink() else []
        folders = [c for c in children if c.is_dir() and not c.is_symlink()]
        if folders:
            stack.extend(folders)
            continue
        for c in children:
            c.unlink()
        top.rmdir() if top.is_dir() else top.unlink()
        stack.pop()


@pytest.fixture
def deep_tree(tmp_path):
    root = tmp_path / "deep"
    yield root
    if root.exists():
        _remove_deep(root)


def test_1500_nested_folders_are_walked(cli, trained, deep_tree):
    leaf = _deep(deep_tree, 1500)
    shutil.copy(sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0], leaf / "eye.jpg")
    rows = json.loads(cli("predict", deep_tree, "--model", trained["run"], "--json").stdout)
    assert len(rows) == 1 and "probability" in rows[0]
    result = cli("predict", f"{deep_tree}/**/*.jpg", "--model", trained["run"], "--json", code=None)
    assert result.exit_code in (0, 3) and "Traceback" not in result.output


def test_nested_class_folders_are_counted(cli, deep_tree):
    data = make_sample(deep_tree / "set", per_class=4, size=32)  # removed by the fixture, pass or fail
    nested = data / "train" / "RG"
    leaf = _deep(nested, 1200)
    shutil.copy(sorted(nested.glob("*.jpg"))[0], leaf / "deep.jpg")
    counts = cli.json("data", data)["counts"]
    assert counts["train"]["RG"] == 5


def test_deeply_nested_model_config_and_meta_are_one_line(cli, trained, tmp_path):
    image = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    model = tmp_path / "deep.keras"
    with zipfile.ZipFile(model, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        zf.writestr("config.json", '{"a":' * 200_000 + "1" + "}" * 200_000)
        zf.writestr("model.weights.h5", b"")
    assert "model" in _error(cli("predict", image, "--model", model, code=3))
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run, ignore=shutil.ignore_patterns("eval", "export"))
    (run / "meta.json").write_text("[" * 200_000 + "]" * 200_000)
    assert "meta.json" in _error(cli("evaluate", run, code=3))


# -- archives ---------------------------------------------------------------------------------

def _archive(tmp_path: Path, first: tuple[str, bytes] | None = None, name: str = "set.zip") -> Path:
    """A good archive; `first` (member name, data) is written first, so its headers are the first
    local header (offset 0) and the first central-directory entry, for byte patching."""
    src = make_sample(tmp_path / f"src-{name}", per_class=3, size=32)
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        if first:
            zf.writestr(*first)
        for f in sorted(src.rglob("*.jpg")):
            zf.write(f, "inner/" + f.relative_to(src).as_posix())
    return archive


def _patch_first(archive: Path, local_offset: int, central_offset: int, value: int) -> None:
    data = bytearray(archive.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, local_offset, value)
    struct.pack_into("<H", data, central + central_offset, value)
    archive.write_bytes(bytes(data))


@pytest.fixture
def installed(cli, tmp_path):
    """A previous dataset `set` that every refused archive must leave untouched."""
    cli("download", "--from-zip", _archive(tmp_path, name="good.zip"), "--name", "set")
    target = tmp_path / "data" / "set"
    return target, {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()}


def _refused(cli, tmp_path, archive, installed, words):
    target, before = installed
    assert words in _error(cli("download", "--from-zip", archive, "--name", "set", "--force", code=3))
    assert {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()} == before
    assert not [p for p in target.parent.iterdir() if ".extract-" in p.name]


def test_encrypted_member(cli, tmp_path, installed):
    archive = _archive(tmp_path, ("inner/train/RG/locked.jpg", b"secret bytes"))
    _patch_first(archive, 6, 8, 0x1)  # general purpose flag bit 0: encrypted
    _refused(cli, tmp_path, archive, installed, "encrypted")


def test_unsupported_compression(cli, tmp_path, installed):
    archive = _archive(tmp_path, ("inner/train/NRG/ppmd.jpg", b"compressed?"))
    _patch_first(archive, 8, 10, 98)  # PPMd: zipfile cannot read it
    _refused(cli, tmp_path, archive, installed, "compression method 98")


def test_member_name_longer_than_the_filesystem_allows(cli, tmp_path, installed):
    archive = _archive(tmp_path, ("inner/train/RG/" + "a" * 300 + ".jpg", b"x"))
    _refused(cli, tmp_path, archive, installed, "longer than this filesystem allows")


def test_member_nested_too_deep(cli, tmp_path, installed):
    archive = _archive(tmp_path, ("inner/train/RG/" + "d/" * 100 + "x.jpg", b"x"))
    _refused(cli, tmp_path, archive, installed, "folders deep")


def test_damaged_member(cli, tmp_path, installed):
    archive = _archive(tmp_path, ("inner/train/RG/damaged.jpg", b"0123456789" * 10))
    data = bytearray(archive.read_bytes())
    start = 30 + len("inner/train/RG/damaged.jpg")  # the first member's data: flip one byte
    data[start + 5] ^= 0xFF
    archive.write_bytes(bytes(data))
    _refused(cli, tmp_path, archive, installed, "damaged")


def test_two_spellings_of_a_class_folder(cli, tmp_path):
    src = make_sample(tmp_path / "src", per_class=3, size=32)
    archive = tmp_path / "cases.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.rglob("*.jpg")):
            zf.write(f, "inner/" + f.relative_to(src).as_posix())
            if f.parent.name == "NRG" and f.parent.parent.name == "train":
                zf.write(f, "inner/train/nrg/lower_" + f.name)  # a second spelling, other files
    counts = cli.json("download", "--from-zip", archive, "--name", "cases")["counts"]
    assert counts["train"]["NRG"] == 6  # both counted
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("inner/train/nrg/" + sorted((src / "train" / "NRG").iterdir())[0].name, b"same name")
    assert "both become" in _error(cli("download", "--from-zip", archive, "--name", "cases2", code=3))

    folders = make_sample(tmp_path / "folders", per_class=3, size=32)
    (folders / "train" / "nrg").mkdir()
    shutil.copy(sorted((folders / "train" / "NRG").iterdir())[0], folders / "train" / "nrg" / "x.jpg")
    result = cli("data", folders)
    assert "NRG + nrg" in result.stderr  # both read as one class, and said so
