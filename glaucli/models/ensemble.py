"""Ensembles as ordinary Keras models: one raw RGB input, P(RG) out.

Built from core layers and keras.ops only, so they load in safe mode without
glaucli installed. `mean`, `vote` and `stack` nest the members' own models
(named `member_<i>`, each behind a Resizing to its own size); `concat` is one
flat graph in which every backbone's layers carry a `m<i>_` prefix.
"""

from __future__ import annotations

from glaucli.errors import UsageError
from glaucli.models import classifier
from glaucli.models.backbones import Backbone


def _members_on_input(members: list, sizes: list[int]):
    """The ensemble input (the largest member size) and each member's P(RG) on it."""
    from glaucli.tf import keras

    k = keras()
    size = max(sizes)
    inputs = k.Input((size, size, 3), name="image")
    outputs = []
    for i, (model, s) in enumerate(zip(members, sizes)):
        model.name = f"member_{i}"
        x = inputs if s == size else k.layers.Resizing(s, s, interpolation="bilinear", name=f"resize_{i}")(inputs)
        outputs.append(model(x))
    return inputs, outputs


def build_mean(members: list, sizes: list[int]):
    """Soft voting: the average of the members' P(RG)."""
    from glaucli.tf import keras

    inputs, ps = _members_on_input(members, sizes)
    return keras().Model(inputs, keras().layers.Average(name="probability")(ps), name="ensemble_mean")


def build_vote(members: list, sizes: list[int], thresholds: list[float]):
    """Hard majority vote, each member at its own threshold. The score is the vote share,
    nudged by less than half a vote by the members' mean margin (p - t), so a tie is
    broken by the mean probability and 0.5 stays the decision threshold."""
    import numpy as np

    from glaucli.tf import keras

    k = keras()
    ops = k.ops
    inputs, ps = _members_on_input(members, sizes)
    n = len(ps)
    # p - t per member, as a fixed (identity kernel, -t bias) Dense: plain, serialisable weights.
    subtract = k.layers.Dense(n, trainable=False, name="vote_margins")
    margins = subtract(k.layers.Concatenate(name="votes_in")(ps))
    subtract.set_weights([np.eye(n, dtype="float32"), -np.asarray(thresholds, dtype="float32")])
    share = ops.mean(ops.cast(ops.greater_equal(margins, 0.0), "float32"), axis=-1, keepdims=True)
    nudge = ops.multiply(ops.mean(margins, axis=-1, keepdims=True), 0.49 / n)
    score = ops.clip(ops.add(share, nudge), 0.0, 1.0)
    return k.Model(inputs, score, name="ensemble_vote")


def build_stack(members: list, sizes: list[int], coef, intercept: float):
    """Logistic regression on the members' logits (members frozen), weights given."""
    import numpy as np

    from glaucli.tf import keras

    k = keras()
    ops = k.ops
    inputs, ps = _members_on_input(members, sizes)
    for model in members:
        model.trainable = False
    p = ops.clip(k.layers.Concatenate(name="stack_in")(ps), 1e-6, 1 - 1e-6)
    logits = ops.log(ops.divide(p, ops.subtract(1.0, p)))
    head = k.layers.Dense(1, activation="sigmoid", name="head_stack")
    out = head(logits)
    head.set_weights([np.asarray(coef, dtype="float32").reshape(-1, 1), np.array([intercept], dtype="float32")])
    return k.Model(inputs, out, name="ensemble_stack")


def check_concat_weights(weights: str | None) -> None:
    if weights not in (None, "imagenet"):
        raise UsageError("ensemble concat takes --weights imagenet or none (one file cannot fit several backbones)",
                         hint="train each backbone with its file, then combine the runs: glaucli ensemble mean RUN RUN")


def build_concat(backbones: list[Backbone], size: int, member_sizes: list[int],
                 weights: str | None) -> tuple[classifier.Built, list[str]]:
    """One model: each backbone on the input (resized to its size), pooled features
    concatenated into one head. Returns the build and every member's Grad-CAM layer."""
    from glaucli.tf import keras

    k = keras()
    check_concat_weights(weights)
    inputs = k.Input((size, size, 3), name="image")
    pooled, gradcam_layers, own = [], [], {"image"}
    for i, (bb, s) in enumerate(zip(backbones, member_sizes)):
        x = inputs if s == size else k.layers.Resizing(s, s, interpolation="bilinear", name=f"pre_resize_{i}")(inputs)
        x = classifier.preprocess(x, bb.preprocessing, prefix=f"pre_m{i}_")
        if bb.constructor is None:
            # A from-scratch member (basic-cnn): its last convolution block is pooled like any
            # backbone's features; named as head layers, it trains in every phase (frozen at
            # random initialisation it would learn nothing while the head phase runs).
            features = classifier._basic_cnn(x, prefix=f"head_m{i}_")
        else:
            app = classifier.application(bb, s, weights if bb.pretrained else None, x)
            for layer in app.layers:  # unique names per member, so the graph stays valid
                if layer.name not in own and not layer.name.startswith("pre_"):
                    layer.name = f"m{i}_{layer.name}"
            own.update(layer.name for layer in app.layers)
            features = app.output
        gradcam_layers.append(features._keras_history[0].name)
        pooled.append(k.layers.GlobalAveragePooling2D(name=f"head_pool_{i}")(features))
    x = k.layers.Concatenate(name="head_concat")(pooled)
    model = k.Model(inputs, classifier.output_head(x, 0.2), name="ensemble_concat")
    return classifier.Built(model, gradcam_layers[0], "per member"), gradcam_layers
