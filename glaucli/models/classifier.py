"""The classifier: raw RGB (0-255) in, P(RG) out, preprocessing inside the graph.

The backbone is called on the model's own input tensor, so the graph is flat
and Grad-CAM can reach the last convolution. Preprocessing uses Keras layers
and ops only (no Lambda, which safe mode refuses). Layer names: `pre_*` for
preprocessing, `head_*` and `probability` for the head; everything else is
the backbone.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from glaucli.errors import InputError, UsageError, brief
from glaucli.models.backbones import Backbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
HEAD_PREFIXES = ("pre_", "head_", "probability")


@dataclass
class Built:
    model: object  # keras.Model
    gradcam_layer: str
    preprocessing: str


def preprocess(x, mode: str, prefix: str = "pre_"):
    """Map raw RGB 0-255 to what the backbone expects, with Keras layers/ops."""
    from glaucli.tf import keras

    k = keras()
    if mode == "tf":
        return k.layers.Rescaling(1 / 127.5, offset=-1.0, name=f"{prefix}scale")(x)
    if mode == "scale01":
        return k.layers.Rescaling(1 / 255.0, name=f"{prefix}scale")(x)
    if mode == "torch":
        x = k.layers.Rescaling(1 / 255.0, name=f"{prefix}scale")(x)
        return k.layers.Normalization(mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD],
                                      name=f"{prefix}normalize")(x)
    if mode == "caffe":
        x = k.ops.flip(x, axis=-1)  # RGB -> BGR
        return k.layers.Normalization(mean=CAFFE_MEAN_BGR, variance=(1.0, 1.0, 1.0),
                                      name=f"{prefix}normalize")(x)
    if mode == "included":
        return x
    raise ValueError(f"unknown preprocessing {mode!r}")


def _basic_cnn(x, prefix: str = ""):
    from glaucli.tf import keras

    layers = keras().layers
    for i in range(1, 4):
        x = layers.Conv2D(32, 3, padding="same", activation="relu", name=f"{prefix}conv{i}")(x)
        x = layers.MaxPooling2D(name=f"{prefix}pool{i}")(x)
    return x


def application(backbone: Backbone, size: int, weights: str | None, input_tensor):
    """The Keras application on `input_tensor`, its weights loaded from `weights`.

    Weights go into a standalone copy first (the layout Keras' own files expect),
    then are copied layer by layer into the flat graph.
    """
    from glaucli.tf import keras

    constructor = getattr(keras().applications, backbone.constructor)
    flat = constructor(include_top=False, weights=None, input_tensor=input_tensor)
    if weights is None:
        return flat
    standalone = _load_standalone(constructor, backbone, size, weights)
    source = [layer for layer in standalone.layers if layer.weights]
    target = [layer for layer in flat.layers if layer.weights and not layer.name.startswith("pre_")]
    for src, dst in zip(source, target, strict=True):
        dst.set_weights(src.get_weights())
    return flat


def _load_standalone(constructor, backbone: Backbone, size: int, weights: str):
    import socket

    if weights == "imagenet":
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(20)  # Keras' download has no timeout of its own
        try:
            # Keras prints its download progress on stdout, which belongs to glaucli's data.
            with contextlib.redirect_stdout(sys.stderr):
                return constructor(include_top=False, weights="imagenet", input_shape=(size, size, 3))
        except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...") offline
            if "fetch failure" in str(exc) or isinstance(exc, (OSError, TimeoutError)):
                raise InputError(f"cannot download the ImageNet weights for {backbone.name} (offline?)",
                                 hint="pass --weights FILE (a backbone .weights.h5/.h5 file) or --weights none; "
                                      "README explains how to pre-fetch weights") from None
            raise
        finally:
            socket.setdefaulttimeout(previous)
    path = Path(weights)
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    model = constructor(include_top=False, weights=None, input_shape=(size, size, 3))
    try:
        model.load_weights(str(path))
    except (ValueError, KeyError, OSError) as exc:
        raise InputError(f"{path} does not hold {backbone.name} weights "
                         f"({brief(exc)})",
                         hint="use weights saved from the same architecture without its top") from None
    return model


def output_head(x, dropout: float | None = None):
    """The one output of every trainable glaucli model (classifier and concat ensemble):
    [Dropout `head_dropout`] -> Dense(1) `head_logits` -> sigmoid `probability`, P(RG).
    Float32 under mixed precision; the names are what saved models, fine-tuning (`head_*`
    trains in every phase) and the feature cache look for."""
    from glaucli.tf import keras

    k = keras()
    if dropout is not None:
        x = k.layers.Dropout(dropout, name="head_dropout")(x)
    logits = k.layers.Dense(1, name="head_logits", dtype="float32")(x)
    return k.layers.Activation("sigmoid", name="probability", dtype="float32")(logits)


def build(backbone: Backbone, size: int, weights: str | None = None, head: str = "default",
          dropout: float = 0.2) -> Built:
    """The classifier for `backbone` at `size` px. `weights`: None, "imagenet" or a file.

    head "default": GAP -> Dropout -> logits; "seed": the original project's
    GAP -> Dropout 0.5 -> Dense 64 relu -> Dropout 0.5 -> logits.
    """
    from glaucli.tf import keras

    k = keras()
    if size < backbone.min_size:
        raise UsageError(f"{backbone.name} needs images of at least {backbone.min_size} px (got {size})")
    if weights is not None and not backbone.pretrained:
        raise UsageError(f"{backbone.name} is trained from scratch; use --weights none")
    inputs = k.Input((size, size, 3), name="image")
    mode = backbone.preprocessing if head != "seed" else "scale01"
    if head == "seed" and backbone.preprocessing == "included":
        raise UsageError(f"--recipe seed scales by 1/255 itself; {backbone.name} includes its own preprocessing")
    x = preprocess(inputs, mode)
    features = _basic_cnn(x) if backbone.constructor is None else application(backbone, size, weights, x).output
    gradcam_layer = features._keras_history[0].name
    if backbone.constructor is None:
        x = k.layers.Flatten(name="head_flatten")(features)
        x = k.layers.Dense(256, activation="relu", name="head_dense")(x)
    else:
        x = k.layers.GlobalAveragePooling2D(name="head_pool")(features)
        if head == "seed":
            x = k.layers.Dropout(0.5, name="head_dropout1")(x)
            x = k.layers.Dense(64, activation="relu", name="head_dense")(x)
            x = k.layers.Dropout(0.5, name="head_dropout2")(x)
            dropout = None  # the seed head's own last dropout stands in for head_dropout
    model = k.Model(inputs, output_head(x, dropout), name=f"glaucli_{backbone.name.replace('-', '_')}")
    return Built(model, gradcam_layer, mode)


def backbone_layers(model) -> list:
    """The backbone's layers of a built or loaded classifier (not input, preprocessing, head)."""
    return [layer for layer in model.layers
            if not layer.name.startswith(HEAD_PREFIXES) and layer.__class__.__name__ != "InputLayer"]


# Attributes through which Keras' stochastic layers draw noise (Dropout and its spatial
# variants, stochastic depth as Dropout with a noise shape, GaussianNoise/GaussianDropout).
STOCHASTIC_ATTRS = ("rate", "stddev")


def set_trainable(model, unfreeze: str, freeze_batchnorm: bool = True) -> int:
    """Freeze the backbone except its top `unfreeze` ("none", "all", N layers, or a fraction).

    Frozen means inference mode, as keras-io's `base(x, training=False)`, which a flat
    graph cannot say: frozen BatchNorm layers use their moving statistics (Keras 3 does
    that for BN with trainable=False) and frozen stochastic layers get a noise rate of 0
    (restored when they are unfrozen; `original_rates` restores them around a save).
    BatchNorm stays frozen whatever is unfrozen, unless `freeze_batchnorm` is False (from
    scratch, and the original recipe). Returns the number of backbone layers made trainable.
    """
    layers = backbone_layers(model)
    count = resolve_unfreeze(unfreeze, len(layers))
    for i, layer in enumerate(layers):
        is_bn = layer.__class__.__name__ == "BatchNormalization"
        layer.trainable = i >= len(layers) - count and not (is_bn and freeze_batchnorm)
        _set_noise(layer, on=layer.trainable)
    return count


def adapt_batchnorm(model, steps_per_epoch: int) -> None:
    """Trainable BatchNorm averages its moving statistics over about half an epoch.

    Inference (validation, prediction) uses the moving statistics. Keras applications set
    momentum 0.99-0.999, a window of 100-1000 steps: longer than a whole from-scratch run on
    a few hundred images, so inference saw near-initial statistics and gave every image the
    same score although training accuracy was 98 %. Frozen BatchNorm is left alone.
    """
    momentum = max(0.5, 1 - 2 / max(1, steps_per_epoch))
    for layer in backbone_layers(model):
        if layer.__class__.__name__ == "BatchNormalization" and layer.trainable:
            layer.momentum = min(layer.momentum, momentum)


def _set_noise(layer, on: bool) -> None:
    if not hasattr(layer, "seed_generator"):
        return
    for attr in STOCHASTIC_ATTRS:
        if hasattr(layer, attr):
            original = getattr(layer, "_glaucli_" + attr, getattr(layer, attr))
            setattr(layer, "_glaucli_" + attr, original)
            setattr(layer, attr, original if on else 0.0)


@contextlib.contextmanager
def original_rates(model):
    """The stochastic layers' own rates for the duration (a save records those, not the 0 of
    a frozen phase, so a model loaded later, or resumed, knows what to restore)."""
    changed = []
    for layer in model.layers:
        for attr in STOCHASTIC_ATTRS:
            if hasattr(layer, "_glaucli_" + attr):
                changed.append((layer, attr, getattr(layer, attr)))
                setattr(layer, attr, getattr(layer, "_glaucli_" + attr))
    try:
        yield model
    finally:
        for layer, attr, value in changed:
            setattr(layer, attr, value)


def resolve_unfreeze(value: str, n_layers: int) -> int:
    value = str(value).strip().lower()
    if value == "all":
        return n_layers
    if value == "none":
        return 0
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"--unfreeze must be all, a layer count or a fraction (got {value!r})") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise UsageError(f"--unfreeze must be a finite number (got {value!r})")
    if number < 0:
        raise UsageError("--unfreeze must not be negative")
    if 0 < number < 1:
        return max(1, round(n_layers * number))
    if number != int(number):
        raise UsageError("--unfreeze: a layer count must be a whole number, a fraction below 1")
    return min(int(number), n_layers)
