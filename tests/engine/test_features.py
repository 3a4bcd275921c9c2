"""Pooled backbone features: the layer the head sees, resolved by name, computed in order."""

from __future__ import annotations

import numpy as np

from glaucli.engine.features import feature_layer, feature_model, pooled_features
from glaucli.engine.scoring import load_model
from glaucli.models import backbones, classifier
from glaucli.runs import read_meta


def test_basic_cnn_pools_its_gradcam_layer_in_pair_order(trained):
    model = load_model(trained["run"] / "best.keras")
    meta = read_meta(trained["run"])
    name, pool = feature_layer(model, meta["gradcam_layer"])
    assert (name, pool) == (meta["gradcam_layer"], True) or name == "head_pool"
    pairs = sorted((trained["data"] / "test" / "RG").glob("*.jpg"))[:3]
    pairs = [(p, 1) for p in pairs]
    feats = pooled_features(model, pairs, 48, batch_size=2, gradcam_layer=meta["gradcam_layer"])
    assert feats.shape[0] == 3 and feats.dtype == np.float32 and np.isfinite(feats).all()
    # The same vectors as pooling the layer's maps by hand, image by image and in order.
    from glaucli.data.images import load_image
    from glaucli.tf import keras

    maps = keras().Model(model.inputs, model.get_layer(meta["gradcam_layer"]).output)
    for i, (path, _) in enumerate(pairs):
        by_hand = np.asarray(maps(load_image(path, 48)[None].astype("float32"))).mean(axis=(1, 2))[0]
        np.testing.assert_allclose(feats[i], by_hand, rtol=1e-4, atol=1e-5)


def test_application_uses_head_pool_and_shares_weights():
    built = classifier.build(backbones.get("mobilenet-v3-small"), 32)
    assert feature_layer(built.model, built.gradcam_layer) == ("head_pool", False)
    extractor = feature_model(built.model, built.gradcam_layer)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert tuple(extractor(x).shape) == (2, built.model.get_layer("head_pool").output.shape[-1])
    assert extractor.get_layer(built.gradcam_layer) is built.model.get_layer(built.gradcam_layer)


def test_without_a_recorded_layer_the_last_4d_output_is_pooled(trained):
    model = load_model(trained["run"] / "best.keras")
    name, pool = feature_layer(model, None)
    assert pool and model.get_layer(name).output.ndim == 4 or name == "head_pool"
