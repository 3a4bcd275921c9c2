"""Grad-CAM explanations point at the evidence and are never silently blank (issue 15.7)."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

from glaucli.data.sample import sample_images


def _explainer(trained):
    from glaucli.engine.explain import explainer_for
    from glaucli.engine.scoring import load_model
    from glaucli.runs import read_meta

    meta = read_meta(trained["run"])
    return explainer_for(load_model(trained["run"] / "best.keras"), meta), meta


def test_rg_evidence_sits_on_the_disc(trained):
    """The sample generator knows where each optic disc is (the cup-to-disc ratio is the
    label): for most RG images the map's mass is on the disc's half of the photo, and maps
    are not blank."""
    explainer, _ = _explainer(trained)
    on_disc, nonzero = [], []
    for split, n in (("validation", 6), ("test", 6)):
        for name, _image, (dx, _dy) in sample_images(split, "RG", n, 72, seed=3):
            heat = explainer.heatmap_of(trained["data"] / split / "RG" / name, explain_rg=True)
            half = heat.shape[1] // 2
            disc_left = dx < 72 / 2
            left, right = heat[:, :half].sum(), heat[:, half:].sum()
            on_disc.append((left > right) == disc_left)
            nonzero.append(np.mean(heat > 0.05))
    assert np.mean(on_disc) >= 0.75, f"heat on the disc's half for {np.mean(on_disc):.0%} of RG images"
    assert min(nonzero) > 0.02, f"a near-blank map: {min(nonzero):.1%} of pixels lit"


def test_predict_explain_writes_overlay_and_heatmap_without_collisions(cli, trained, tmp_path):
    rg = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[0]
    nrg = sorted((trained["data"] / "test" / "NRG").glob("*.jpg"))[0]
    for folder, source in (("a", rg), ("b", nrg)):
        (tmp_path / folder).mkdir()
        shutil.copy(source, tmp_path / folder / "eye.jpg")
    out = tmp_path / "cams"
    rows = json.loads(cli("predict", tmp_path / "a", tmp_path / "b", "--model", trained["run"],
                          "--explain", out, "--json").stdout)
    assert len({r["explanation"] for r in rows}) == 2 and len({r["heatmap"] for r in rows}) == 2
    for row in rows:
        photo = Image.open(row["image"])
        heat = Image.open(row["heatmap"])
        assert heat.mode == "L" and heat.size == photo.size
        overlay = Image.open(row["explanation"])
        assert max(overlay.size) >= 512
        assert np.asarray(heat).max() > 0 or row.get("explanation_note") == "no attribution (flat map)"


def test_flat_map_is_reported_not_shown(tmp_path):
    """A model whose logit ignores the image has no evidence anywhere: say so."""
    import keras

    from glaucli.engine.explain import GradCam, explain

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logit = keras.layers.Dense(1, name="head_logits", kernel_initializer="zeros")(x)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid", name="probability")(logit))
    photo = tmp_path / "eye.png"
    Image.fromarray(np.full((40, 30, 3), 120, np.uint8)).save(photo)
    made = explain(GradCam(model, "conv"), photo, tmp_path / "out", "eye", 0.5, 0.5)
    assert made.flat and made.note == "no attribution (flat map)"
    assert np.asarray(Image.open(made.heatmap)).max() == 0


def test_names_never_collide(tmp_path):
    from pathlib import Path

    from glaucli.engine.explain import OutputNames

    names = OutputNames()
    assert [names(Path(p)) for p in ("a/eye.jpg", "b/eye.jpg", "c/EYE.png", "eye-2.jpg")] == \
        ["eye", "eye-2", "EYE-3", "eye-2-2"]
