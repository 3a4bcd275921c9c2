"""Every registry backbone builds at a small size, has its Grad-CAM layer, and trains a step."""

from __future__ import annotations

import os

import numpy as np
import pytest

from glaucli.errors import UsageError
from glaucli.models import backbones, classifier



def _check(name, size=None):
    from glaucli.engine.train import compile_model

    bb = backbones.get(name)
    size = size or max(bb.min_size, 32)
    built = classifier.build(bb, size)
    model = built.model
    assert model.get_layer(built.gradcam_layer).output.ndim == 4
    assert sum(layer.count_params() for layer in classifier.backbone_layers(model)) == bb.params
    assert model.output.shape[1:] == (1,) and model.get_layer("probability").dtype_policy.name == "float32"
    os.environ["GLAUCLI_RUN_EAGERLY"] = "1"
    try:
        compile_model(model, 1e-3)
        x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
        loss = model.train_on_batch(x, np.array([0.0, 1.0]))
    finally:
        del os.environ["GLAUCLI_RUN_EAGERLY"]
    assert np.isfinite(np.asarray(loss).ravel()[0])


@pytest.mark.parametrize("name", list(backbones.REGISTRY))
def test_backbone_builds_and_steps(name):
    """Eager steps at the smallest size keep all nine under a minute on 2 CPU cores."""
    _check(name)


def test_unknown_backbone_suggests_closest():
    with pytest.raises(UsageError) as err:
        backbones.get("xceptoin")
    assert "xception" in err.value.hint


def test_unfreeze_rules_keep_batchnorm_frozen():
    built = classifier.build(backbones.get("resnet50"), 32)
    layers = classifier.backbone_layers(built.model)
    count = classifier.set_trainable(built.model, "0.25")
    assert count == round(len(layers) * 0.25)
    assert not any(layer.trainable for layer in layers[:-count])
    top = layers[-count:]
    assert any(layer.trainable for layer in top)
    assert not any(layer.trainable for layer in top if layer.__class__.__name__ == "BatchNormalization")
    assert classifier.set_trainable(built.model, "all") == len(layers)
    assert classifier.set_trainable(built.model, "5") == 5
    with pytest.raises(UsageError):
        classifier.resolve_unfreeze("lots", 10)


def test_preprocessing_matches_keras_own(tmp_path):
    """The in-graph preprocessing equals keras.applications' preprocess_input functions."""
    import keras

    x = np.random.default_rng(1).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    for mode, reference in (("tf", keras.applications.xception.preprocess_input),
                            ("caffe", keras.applications.resnet50.preprocess_input),
                            ("torch", keras.applications.densenet.preprocess_input)):
        inputs = keras.Input((8, 8, 3))
        model = keras.Model(inputs, classifier.preprocess(inputs, mode))
        np.testing.assert_allclose(model.predict(x, verbose=0), reference(x.copy()), rtol=1e-4, atol=1e-3)
