"""The head phase on cached features (Chollet's "fast feature extraction").

With the backbone frozen, the head phase spends nearly all its time recomputing the same
pooled features every epoch. Here the frozen backbone runs once over the training images
(the clean view plus a few fixed augmented views) and the validation images; the head's
own layers, shared with the full model, then train on those features. The layers are the
same objects and the optimizer is the full model's, so the full model holds the trained
head and its optimizer state at every epoch end: best.keras, last.keras, history.csv,
early stopping and resume behave exactly as in the live path, through the same callbacks.

The pooled features come from `engine/features.py`, shared with the distribution check.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from glaucli import events
from glaucli.data.pipeline import epoch_stream, without_autotuning
from glaucli.engine import features

FILE = "head_features.npz"  # in the run folder while the head phase runs (resume reads it)
AUGMENTED_VIEWS = 2  # fixed augmented views per training image, besides the clean one


def split(model):
    """(feature model: image -> pooled features, head model: features -> P(RG)) sharing the
    full model's layers, or None when the model has no pooled-feature head to split at."""
    from glaucli.tf import keras

    k = keras()
    try:
        name, needs_pool = features.feature_layer(model)
    except ValueError:
        return None
    after = [layer.name for layer in model.layers]
    after = model.layers[after.index(name) + 1:]
    if needs_pool or not after or not all(layer.name.startswith(("head_", "probability")) for layer in after):
        return None
    x = inputs = k.Input(tuple(model.get_layer(name).output.shape[1:]), name="pooled_features")
    for layer in after:  # the head is a chain: pool -> dropout -> logits -> sigmoid
        x = layer(x)
    return features.feature_model(model), k.Model(inputs, x, name="head")


def _key(pairs, val_pairs, meta: dict, views: int) -> str:
    text = "\n".join(str(p) for p, _ in list(pairs) + list(val_pairs))
    text += f"\n{meta['image_size']} {meta['seed']} {meta['args'].get('augment')} {views}"
    return hashlib.sha256(text.encode()).hexdigest()


def cached_features(run: Path, feature_model, train_pairs, val_pairs, meta: dict, cache, check,
                    on_event: events.Dispatcher):
    """(train features (views, n, c), validation features (m, c)): from the run folder when an
    interrupted head phase left them there, else computed once and saved there for resume."""
    from glaucli.data.pipeline import augmenter

    args = meta["args"]
    level = "seed" if args.get("recipe") == "seed" else args.get("augment", "none")
    views = 1 + (AUGMENTED_VIEWS if level != "none" else 0)
    key = _key(train_pairs, val_pairs, meta, views)
    path = run / FILE
    try:
        with np.load(path) as saved:
            if str(saved["key"]) == key:
                return saved["train"], saved["validation"]
    except (OSError, KeyError, ValueError):
        pass
    size, batch = meta["image_size"], args["batch_size"]
    on_event.message(f"Head phase on cached features: the frozen backbone runs once over "
                     f"{len(train_pairs)} training images ({views} view(s)) and {len(val_pairs)} validation images")
    def extract(pairs, augment=None):
        return features.pooled_features(None, pairs, size, batch, extractor=feature_model, augment=augment,
                                        cache=cache, check=check)

    # Fixed augmented views, each seeded from the run seed and the view number.
    train = [extract(train_pairs, augmenter(level, meta["seed"] * 1000 + view) if view else None)
             for view in range(views)]
    validation = extract(val_pairs)
    train = np.stack(train)
    tmp = path.with_name(f".{FILE}.tmp.npz")
    np.savez(tmp, key=np.array(key), train=train, validation=validation)
    os.replace(tmp, path)
    return train, validation


def head_fit(run: Path, meta: dict, train_pairs, val_pairs, first_epoch: int, cache,
             check: Callable[[], None], on_event: events.Dispatcher):
    """A drop-in for `distribute.keras_fit` that trains the model's head on cached features."""

    def fit(model, strategy, train_ds, epochs, initial_epoch, steps, class_weight, callbacks, batch):
        from glaucli.engine.selection import validation_scores
        from glaucli.engine.training.recipe import compile_model
        from glaucli.tf import tensorflow

        tf = tensorflow()
        feature_model, head = split(model)
        train, validation = cached_features(run, feature_model, train_pairs, val_pairs, meta, cache, check, on_event)
        compile_model(head, float(model.optimizer.learning_rate), xla=bool(model.jit_compile),
                      optimizer=model.optimizer)  # the same optimizer: its state is the model's
        views = tf.constant(train)
        labels = tf.constant([float(label) for _, label in train_pairs])
        train_ds = without_autotuning(epoch_stream(len(train_pairs), batch, meta["seed"], first_epoch)
                                      .map(lambda e, i: (views[tf.cast(e % len(train), tf.int32)][i], labels[i]))
                                      .batch(min(batch, len(train_pairs))).prefetch(tf.data.AUTOTUNE))
        val_ds = tf.data.Dataset.from_tensor_slices(
            (validation, np.array([float(label) for _, label in val_pairs], dtype=np.float32))).batch(batch)
        for callback in callbacks:  # the Validation callback: on the cached features, with the head
            if hasattr(callback, "validate"):
                callback.validate = lambda _model: validation_scores(head, val_ds)
        head.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch,
                 steps_per_epoch=steps, class_weight=class_weight, verbose=0,
                 callbacks=[OnFullModel(cb, model) for cb in callbacks])
        (run / FILE).unlink(missing_ok=True)  # the phase is over; an interruption raises before

    return fit


def _forward(name):
    def hook(self, *args, **kwargs):
        getattr(self.inner, name)(*args, **kwargs)
        if self.full.stop_training:  # early stopping decided on the full model
            self.model.stop_training = True
    hook.__name__ = name
    return hook


@functools.cache
def _adapter():
    from glaucli.tf import keras

    class OnFullModel(keras().callbacks.Callback):
        """Runs a callback written for the full model while Keras fits the head: it sees the full
        model (saves it, reads its optimizer) and its stop request reaches the head's fit."""

        def __init__(self, inner, full):
            super().__init__()
            self.inner, self.full = inner, full
            full.stop_training = False

        def set_model(self, model):
            super().set_model(model)
            self.inner.set_model(self.full)

        def set_params(self, params):
            super().set_params(params)
            self.inner.set_params(params)

    for name in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
                 "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
                 "on_test_batch_end"):
        setattr(OnFullModel, name, _forward(name))
    return OnFullModel


def OnFullModel(inner, full):  # reads as the class it builds (Keras is imported lazily)
    return _adapter()(inner, full)
