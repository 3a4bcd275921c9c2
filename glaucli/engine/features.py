"""Pooled backbone features of a classifier: what its head sees, one vector per image.

Shared by the distribution check (engine/ood.py) and anything else that wants
the backbone's view of an image (a cached head phase). The feature layer is
resolved by name, not position: `head_concat` (ensemble concat), `head_pool`
(applications), else the global average of the Grad-CAM layer (basic-cnn,
whose head flattens), else of the backbone's last 4-D output.
"""

from __future__ import annotations

from pathlib import Path

POOLED_LAYERS = ("head_concat", "head_pool")


def feature_layer(model, gradcam_layer: str | None = None) -> tuple[str, bool]:
    """(layer name, whether its output still needs global average pooling)."""
    names = [layer.name for layer in model.layers]
    for name in POOLED_LAYERS:
        if name in names:
            return name, False
    if gradcam_layer in names:
        return gradcam_layer, True
    four_d = [layer.name for layer in model.layers
              if not layer.name.startswith(("pre_", "image")) and len(getattr(layer.output, "shape", ())) == 4]
    if not four_d:
        raise ValueError(f"{model.name} has no pooled or 4-D feature layer")
    return four_d[-1], True


def pooled_output(model, gradcam_layer: str | None = None):
    """The symbolic (batch, features) tensor of `model`'s pooled features."""
    from glaucli.tf import keras

    name, pool = feature_layer(model, gradcam_layer)
    out = model.get_layer(name).output
    if pool:
        out = keras().layers.GlobalAveragePooling2D(name="features_pool")(out)
    return out


def feature_model(model, gradcam_layer: str | None = None, name: str = "features"):
    """A Keras model sharing `model`'s weights: raw RGB in, pooled features out."""
    from glaucli.tf import keras

    return keras().Model(model.inputs, pooled_output(model, gradcam_layer), name=name)


def pooled_features(model, pairs: list[tuple[Path, int]], image_size: int, batch_size: int = 32,
                    gradcam_layer: str | None = None, extractor=None, *, augment=None, cache=None,
                    check=lambda: None):
    """float32 (n, d) pooled features for every (path, label) pair, in order, through the one
    pipeline (no augmentation unless `augment`, a Keras augmentation model applied to each
    batch: a fixed augmented view). A plain loop: Model.predict is not usable under every
    distribution strategy. Pass `extractor` (a `feature_model`) to reuse one, `cache` (an
    `image_cache.ImageCache`) to skip decoding, `check` to stop between batches (it raises)."""
    import numpy as np

    from glaucli.data.pipeline import make_dataset
    from glaucli.tf import tensorflow

    extractor = extractor or feature_model(model, gradcam_layer)
    ds = make_dataset(pairs, image_size, batch_size, with_labels=False, cache=cache)
    if augment is not None:
        tf = tensorflow()
        ds = ds.map(lambda x: tf.clip_by_value(augment(x, training=True), 0.0, 255.0))
    chunks = []
    for x in ds:
        check()
        chunks.append(np.asarray(extractor(x, training=False), dtype="float32"))
    return np.concatenate(chunks) if chunks else np.zeros((0, extractor.outputs[0].shape[-1]), "float32")
