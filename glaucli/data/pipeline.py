"""tf.data input pipelines over (path, label) pairs, through the one image loader.

Files are shuffled as names (cheap), decoded in parallel (Pillow releases the
GIL), batched, augmented on the training split only, and prefetched, so the
pipeline streams from disk and memory does not grow with the dataset.
"""

from __future__ import annotations

from pathlib import Path

from glaucli.data.images import ImageError, load_image


def _decode(path: bytes, size):
    try:
        return load_image(path.decode(), int(size))
    except ImageError as exc:
        # tf.data turns this into an error that names the file (exit 1 during the work).
        raise ValueError(str(exc)) from None


def layer_seeds(seed: int, count: int, stream: int = 0) -> list[int]:
    """`count` distinct seeds from the run seed. Keras 3 gives each random layer its own
    SeedGenerator(seed): layers sharing one seed draw the same numbers, so a horizontal flip
    would always come with a vertical flip and the same brightness change."""
    import numpy as np

    return [int(s) for s in np.random.SeedSequence([seed, stream]).generate_state(count) % 2**31]


def augmenter(level: str, seed: int = 0, stream: int = 0):
    """A Keras model of random layers for the training pipeline; None for "none".

    light: flips, small rotation, brightness/contrast. strong: adds zoom and
    shift. seed: the original project's (shift 0.5, flips, zoom 0.15, constant fill).
    Every layer gets its own seed from (seed, stream); `stream` is the first epoch, so a
    phase or a resumed run draws afresh yet reproducibly.
    """
    from glaucli.tf import keras

    layers = keras().layers
    if level == "none":
        return None
    if level == "seed":
        stack = [lambda s: layers.RandomTranslation(0.5, 0.5, fill_mode="constant", seed=s),
                 lambda s: layers.RandomFlip("horizontal_and_vertical", seed=s),
                 lambda s: layers.RandomZoom(0.15, fill_mode="constant", seed=s)]
    else:
        stack = [lambda s: layers.RandomFlip("horizontal", seed=s),
                 lambda s: layers.RandomRotation(0.05, fill_mode="constant", seed=s),
                 lambda s: layers.RandomBrightness(0.1, value_range=(0, 255), seed=s),
                 lambda s: layers.RandomContrast(0.1, seed=s)]
        if level == "strong":
            stack += [lambda s: layers.RandomFlip("vertical", seed=s),
                      lambda s: layers.RandomZoom(0.1, fill_mode="constant", seed=s),
                      lambda s: layers.RandomTranslation(0.05, 0.05, fill_mode="constant", seed=s)]
    seeds = layer_seeds(seed, len(stack), stream)
    return keras().Sequential([make(s) for make, s in zip(stack, seeds)], name=f"augment_{level}")


def make_dataset(pairs: list[tuple[Path, int]], image_size: int, batch_size: int, *,
                 training: bool = False, augment: str = "none", seed: int = 0, first_epoch: int = 0,
                 deterministic: bool = False, with_labels: bool = True, cache=None):
    """Batches of (float32 images 0-255, float32 labels) for Keras.

    Training data is an endless stream of epochs, epoch e shuffled with seed + e and cut
    to whole batches, so `steps_per_epoch(n, batch)` batches are exactly one epoch and a
    resumed run (first_epoch > 0) sees the same order as an uninterrupted one. `cache`: an
    `image_cache.ImageCache` that serves decoded images after their first decode.
    """
    from glaucli.tf import tensorflow

    tf = tensorflow()
    paths = [str(p) for p, _ in pairs]
    labels = [float(label) for _, label in pairs]
    if training:
        all_paths, all_labels = tf.constant(paths), tf.constant(labels)
        ds = epoch_stream(len(paths), batch_size, seed, first_epoch).map(
            lambda epoch, i: (tf.gather(all_paths, i), tf.gather(all_labels, i)))
        batch_size = min(batch_size, len(paths))
    else:
        ds = tf.data.Dataset.from_tensor_slices((paths, labels))

    decode = _decode if cache is None else cache.load  # the decoded-image cache, if any

    def load(path, label):
        image = tf.numpy_function(decode, [path, image_size], tf.uint8, stateful=False)
        image.set_shape((image_size, image_size, 3))
        return image, label

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic or not training)
    # Batched as uint8 (a quarter of the bytes), then made float for the model.
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    if training and augment != "none":
        layer = augmenter(augment, seed, first_epoch)
        ds = ds.map(lambda x, y: (tf.clip_by_value(layer(x, training=True), 0.0, 255.0), y),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if not with_labels:
        ds = ds.map(lambda x, y: x)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return without_autotuning(ds) if training else ds


def without_autotuning(ds):
    """`ds` with tf.data's autotuning off, for a stream that a Keras fit reads. Deleting an
    iterator waits for the autotuning thread, which sleeps up to a minute between rounds:
    fit returned 8-33 s after a phase's last epoch. Parallel calls then stay at their
    initial parallelism: every core, as autotuning would allow (same epoch time here)."""
    import os

    from glaucli.tf import tensorflow

    options = tensorflow().data.Options()
    options.autotune.enabled = False
    options.autotune.initial_parallelism = os.cpu_count() or 1
    return ds.with_options(options)


def epoch_stream(n: int, batch_size: int, seed: int, first_epoch: int = 0):
    """Endless (epoch, index) pairs over n items: epoch e is a stateless shuffle of range(n) by
    (seed, e), cut to whole batches. The image pipeline and the cached-feature head phase both
    draw their order from here, so they see the same samples in the same order."""
    from glaucli.tf import tensorflow

    tf = tensorflow()
    per_epoch = steps_per_epoch(n, batch_size) * min(batch_size, n)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))[:per_epoch]
        return tf.data.Dataset.from_tensor_slices((tf.fill([per_epoch], epoch), order))

    return tf.data.Dataset.range(first_epoch, first_epoch + 1_000_000).flat_map(one_epoch)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Whole batches per epoch (the remainder, different each epoch, is dropped)."""
    return max(1, n // batch_size)
