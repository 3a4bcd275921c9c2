"""glaucli predict: files, folders, globs, every image mode, safe loading, Grad-CAM."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from glaucli.data.images import ImageError, load_image


@pytest.fixture
def photos(trained, tmp_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    # Validation photos: the distribution check's cut-off is set on them, so none is among the
    # ~1 % of in-distribution images it flags by design (tests/engine/test_ood.py covers those).
    for i, src in enumerate(sorted((trained["data"] / "validation" / "RG").glob("*.jpg"))[:2]):
        shutil.copy(src, folder / f"rg{i}.jpg")
    shutil.copy(next((trained["data"] / "validation" / "NRG").glob("*.jpg")), folder / "nested" / "NRG.JPEG")
    return folder


def test_one_file_table_and_footer(cli, trained, photos):
    result = cli("predict", photos / "rg0.jpg", "--model", trained["run"])
    assert "research use only" in result.stdout.lower()
    assert "glaucoma" in result.stdout


def test_bare_keras_file_predicts_at_half(cli, trained, photos, tmp_path):
    bare = tmp_path / "bare.keras"
    shutil.copy(trained["run"] / "best.keras", bare)
    result = cli("predict", photos / "rg0.jpg", "--model", bare, "--json", "--explain", tmp_path / "c")
    assert json.loads(result.stdout)[0]["threshold"] == 0.5 and "no meta.json" in result.stderr


def test_default_model_is_latest_run(cli, trained, photos):
    result = cli("predict", photos / "rg0.jpg", "--runs-dir", trained["runs"], "--json")
    assert f"Using run {trained['run']}" in result.stderr.replace("\n", "")


def test_folder_with_broken_files_exit_1_others_predicted(cli, trained, photos):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (photos / "empty.png").write_bytes(b"")
    (photos / "text.jpg").write_text("hello")
    result = cli("predict", photos, "--model", trained["run"], "--json", code=1)
    rows = json.loads(result.stdout)
    good = [r for r in rows if "probability" in r]
    bad = [r for r in rows if "error" in r]
    assert len(good) == 3 and len(bad) == 3
    assert all(set(r) == {"image", "run", "synthetic", "probability", "label", "threshold", "verdict", "ood"} for r in good)
    assert all(r["label"] in ("RG", "NRG") and 0 <= r["probability"] <= 1 for r in good)
    assert result.stderr.count("Error:") == 4  # three files, then the summary


def test_glob_and_csv(cli, trained, photos, tmp_path):
    out = tmp_path / "out.csv"
    cli("predict", str(photos / "rg*.jpg"), "--model", trained["run"], "--csv", out)
    rows = list(csv.DictReader(open(out)))
    assert [r["image"].rsplit("/", 1)[1] for r in rows] == ["rg0.jpg", "rg1.jpg"]
    cli("predict", str(photos / "none*.jpg"), "--model", trained["run"], code=3)
    cli("predict", photos / "missing.jpg", "--model", trained["run"], code=3)


def test_threshold_changes_verdict(cli, trained, photos):
    low = json.loads(cli("predict", photos / "rg0.jpg", "--model", trained["run"], "--threshold", "0", "--json").stdout)
    high = json.loads(cli("predict", photos / "rg0.jpg", "--model", trained["run"], "--threshold", "1", "--json").stdout)
    assert low[0]["label"] == "RG" and (high[0]["label"] == "NRG" or high[0]["probability"] == 1)
    cli("predict", photos / "rg0.jpg", "--model", trained["run"], "--threshold", "2", code=2)


def test_tta_runs(cli, trained, photos):
    rows = json.loads(cli("predict", photos, "--model", trained["run"], "--tta", "--json").stdout)
    assert len(rows) == 3


def test_explain_writes_overlays(cli, trained, photos, tmp_path):
    cams = tmp_path / "cams"
    cli("predict", photos / "rg0.jpg", "--model", trained["run"], "--explain", cams)
    assert Image.open(cams / "rg0_heatmap.png").size == Image.open(photos / "rg0.jpg").size
    assert max(Image.open(cams / "rg0_gradcam.png").size) >= 512  # with title and colour bar


def test_engine_predict_answers_every_image_in_order(trained, photos):
    """The work behind `glaucli predict`, without the CLI: an unreadable image is an answer
    with an error, a bad threshold fails before any image."""
    from glaucli.contract import VERDICTS
    from glaucli.engine.predict import predict
    from glaucli.errors import UsageError
    from glaucli.events import Progress
    from glaucli.runs import resolve_run

    run = resolve_run(trained["run"], trained["runs"])
    with pytest.raises(UsageError):
        predict([photos / "rg0.jpg"], run, threshold=1.5)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    seen = []
    good, bad = predict([photos / "rg0.jpg", photos / "broken.jpg"], run, threshold=0, on_event=seen.append)
    assert good.path.name == "rg0.jpg" and good.label == "RG" and good.verdict == VERDICTS[1]
    assert good.threshold == 0 and 0 <= good.probability <= 1 and good.ood["flag"] is False
    assert bad.path.name == "broken.jpg" and bad.error and bad.probability is None and bad.label is None
    assert [e for e in seen if isinstance(e, Progress)] == [Progress("scoring", 2, 2, "images")]


def test_gradcam_heatmap_shape_and_range(trained, photos):
    import keras

    from glaucli.engine.explain import GradCam
    from glaucli.runs import read_meta

    model = keras.saving.load_model(trained["run"] / "best.keras", safe_mode=True)
    cam = GradCam(model, read_meta(trained["run"])["gradcam_layer"])
    heat = cam.heatmap(load_image(photos / "rg0.jpg", 48))
    assert heat.shape == (6, 6) and heat.min() >= 0 and heat.max() <= 1
    assert cam.heatmap(np.zeros((48, 48, 3))).max() <= 1  # no NaN on a black image


# -- image modes: the one loader ---------------------------------------------------------

def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_modes_convert_to_rgb(tmp_path):
    base = np.zeros((40, 60, 3), np.uint8)
    base[:, :30] = (200, 100, 50)
    rgb = Image.fromarray(base)
    for mode, ext in (("L", "png"), ("P", "png"), ("RGBA", "png"), ("CMYK", "tiff"), ("RGB", "bmp"),
                      ("RGB", "webp"), ("RGB", "tif")):
        path = _save(rgb.convert(mode), tmp_path / f"m_{mode}.{ext}")
        arr = load_image(path, 32)
        assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8, (mode, ext)
        assert arr[:, :8].mean() > 40 and arr[:, -8:].mean() < 15, (mode, ext)


def test_16_bit_is_scaled_not_white(tmp_path):
    arr16 = np.full((20, 20), 16384, dtype=np.uint16)  # a quarter of full scale
    path = _save(Image.fromarray(arr16), tmp_path / "deep.png")
    pixels = load_image(path)
    assert 55 <= pixels.mean() <= 75  # ~64, not 255


def test_exif_rotation_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # wide image, left half white
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = _save(img, tmp_path / "rot.jpg", exif=exif.tobytes())
    out = load_image(path)
    assert out.shape[:2] == (40, 20)  # now tall
    assert out[:15].mean() > 200 and out[-15:].mean() < 50  # the white half is on top


def test_decompression_bomb_refused(tmp_path, monkeypatch):
    import glaucli.data.images as images

    path = _save(Image.new("L", (3000, 3000)), tmp_path / "bomb.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1_000_000)  # between Pillow's warn and error limits
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(path, 32)


def test_unsafe_and_non_models_exit_3(cli, photos, tmp_path):
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(x))
    lam = tmp_path / "lambda.keras"
    keras.Model(inputs, out).save(lam)
    assert "unsafe deserialisation" in cli("predict", photos / "rg0.jpg", "--model", lam, code=3).stderr
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    assert "not a Keras model file" in cli("predict", photos / "rg0.jpg", "--model", fake, code=3).stderr
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(lam.read_bytes()[:300])
    cli("predict", photos / "rg0.jpg", "--model", truncated, code=3)
    vec = keras.Input((10,))
    flat = tmp_path / "flat.keras"
    keras.Model(vec, keras.layers.Dense(1)(vec)).save(flat)
    assert "not one square RGB image" in cli("predict", photos / "rg0.jpg", "--model", flat, code=3).stderr


def test_non_square_photo_is_padded_not_squashed(tmp_path):
    arr = np.full((20, 40, 3), 200, np.uint8)  # a wide grey photo
    path = _save(Image.fromarray(arr), tmp_path / "wide.png")
    out = load_image(path, 40)
    assert out.shape == (40, 40, 3)
    assert out[:8].max() < 10 and out[-8:].max() < 10  # black bands above and below
    assert abs(int(out[20, 20, 0]) - 200) <= 2  # the photo itself keeps its pixels
    assert load_image(path).shape == (20, 40, 3)  # without a size: the photo as it is


def test_overlay_on_non_square_photo_keeps_its_size(cli, trained, tmp_path):
    wide = tmp_path / "wide.jpg"
    photo = Image.open(next((trained["data"] / "test" / "RG").glob("*.jpg")))
    canvas = Image.new("RGB", (photo.width * 2, photo.height))
    canvas.paste(photo, (photo.width // 2, 0))
    canvas.save(wide)
    cli("predict", wide, "--model", trained["run"], "--explain", tmp_path / "cams")
    assert Image.open(tmp_path / "cams" / "wide_heatmap.png").size == canvas.size
    overlay = Image.open(tmp_path / "cams" / "wide_gradcam.png")
    assert overlay.width > overlay.height  # the photo's shape, padding cut off
