"""Every registry backbone builds at a small size, has its Grad-CAM layer, and trains a step."""

from __future__ import annotations

import os

import numpy as np
import pytest

from glaucli.errors import UsageError
from glaucli.models import backbones, classifier


def _check(name, size=None):
    from glaucli.engine.training.recipe import compile_model

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
    _check_frozen_is_inference_mode(model, built.gradcam_layer, size)


def _check_frozen_is_inference_mode(model, feature_layer, size):
    """Head phase: two training-mode passes through the frozen backbone are identical (no
    Dropout/stochastic depth, BatchNorm on its moving statistics), the head still drops out,
    and unfreezing gives the stochastic layers their rates back."""
    import keras

    classifier.set_trainable(model, "none")
    features = keras.Model(model.inputs, model.get_layer(feature_layer).output)
    x = np.random.default_rng(1).uniform(0, 255, (2, size, size, 3)).astype("float32")
    first, second = (np.asarray(features(x, training=True)) for _ in range(2))
    np.testing.assert_array_equal(first, second)
    rates = {layer.name: layer.rate for layer in classifier.backbone_layers(model) if hasattr(layer, "rate")}
    assert not any(rates.values())
    assert model.get_layer("head_dropout").rate > 0
    classifier.set_trainable(model, "all")
    config_rates = {layer["config"]["name"]: layer["config"]["rate"] for layer in
                    keras.Model.from_config(model.get_config()).get_config()["layers"] if "rate" in layer["config"]}
    for name in rates:
        assert model.get_layer(name).rate == config_rates[name] > 0


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


# The Keras module whose preprocess_input each application expects.
REFERENCE_MODULES = {"Xception": "xception", "InceptionResNetV2": "inception_resnet_v2",
                     "ConvNeXtTiny": "convnext", "EfficientNetV2B0": "efficientnet_v2",
                     "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3",
                     "ResNet50": "resnet50", "DenseNet121": "densenet"}


@pytest.mark.slow  # 20-110 s per backbone on 2 busy cores
@pytest.mark.parametrize("name", [n for n, b in backbones.REGISTRY.items() if b.constructor])
def test_features_equal_keras_reference_and_survive_a_save(name, tmp_path):
    """Weights from a file land in the flat classifier exactly: its backbone features equal
    Keras' own model fed through Keras' own preprocess_input; a .keras round trip in safe
    mode predicts the same."""
    import keras

    bb = backbones.get(name)
    size = max(bb.min_size, 32)
    constructor = getattr(keras.applications, bb.constructor)
    reference = constructor(include_top=False, weights=None, input_shape=(size, size, 3))
    rng = np.random.default_rng(2)
    # Non-trivial BatchNorm statistics, so a mis-copied moving mean would show.
    for layer in reference.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2, layer.moving_variance.shape))
    weights = tmp_path / "backbone.weights.h5"
    reference.save_weights(weights)
    built = classifier.build(bb, size, str(weights))
    features = keras.Model(built.model.inputs, built.model.get_layer(built.gradcam_layer).output)
    x = rng.uniform(0, 255, (2, size, size, 3)).astype("float32")
    preprocess = getattr(keras.applications, REFERENCE_MODULES[bb.constructor]).preprocess_input
    expected = np.asarray(reference(preprocess(x.copy()), training=False))
    np.testing.assert_allclose(np.asarray(features(x, training=False)), expected, rtol=1e-5, atol=1e-5)
    path = tmp_path / "model.keras"
    built.model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), built.model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
