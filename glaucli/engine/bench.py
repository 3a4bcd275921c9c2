"""Performance on this machine: input pipeline, training (pipeline-fed and from memory),
fine-tuning against a bare Keras script, inference (Keras, TFLite, ONNX) and single-image
latency, peak memory."""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

from glaucli import events
from glaucli.data.collection import DataSpec, resolve
from glaucli.data.pipeline import augmenter, make_dataset
from glaucli.engine import bench_compare
from glaucli.errors import UsageError
from glaucli.models import backbones, classifier

DEFAULT_BACKBONES = ("basic-cnn", "mobilenet-v3-small")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _rate(images: int, seconds: float) -> float:
    return round(images / seconds, 1) if seconds > 0 else float("inf")


def bench_backbone(name: str, pairs, size: int, batch: int, steps: int, precision: str,
                   rounds: int = 3, val_pairs=None, formats=bench_compare.FORMATS, *,
                   on_event: events.Listeners = None) -> dict:
    """One backbone's figures; a Message before each stage."""
    import numpy as np

    from glaucli.data.images import load_image
    from glaucli.engine.training.recipe import compile_model
    from glaucli.tf import tensorflow

    tf = tensorflow()
    on_event = events.dispatcher(on_event)
    bb = backbones.get(name)
    size = max(size, bb.min_size)
    images = steps * batch
    on_event.message(f"{name} at {size} px: input pipeline")
    ds = make_dataset(pairs, size, batch, training=True, augment="light", seed=0)
    it = iter(ds)
    next(it)  # start-up (threads, first decode) is not throughput
    start = time.perf_counter()
    for _ in range(steps):
        next(it)
    pipeline = _rate(images, time.perf_counter() - start)

    model = classifier.build(bb, size).model
    compile_model(model, 1e-3)
    x = np.stack([load_image(p, size) for p, _ in pairs[:images]]).astype("float32")
    y = np.array([label for _, label in pairs[:images]], dtype="float32")
    # The same augmentation as the pipeline's, so the ratio isolates reading and decoding.
    augment = augmenter("light", 0)
    memory_ds = (tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch)
                 .map(lambda a, b: (tf.clip_by_value(augment(a, training=True), 0.0, 255.0), b),
                      num_parallel_calls=tf.data.AUTOTUNE)
                 .prefetch(tf.data.AUTOTUNE))
    on_event.message(f"{name}: training, fed by the pipeline and from memory (the first epoch traces the graph)")
    t0 = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    trace_s = time.perf_counter() - t0
    model.fit(memory_ds, epochs=1, steps_per_epoch=steps, verbose=0)
    fed, in_memory = [], []
    for _ in range(rounds):  # alternate, and keep medians: 2-core timings are noisy
        for source, out in ((ds, fed), (memory_ds, in_memory)):
            start = time.perf_counter()
            model.fit(source, epochs=1, steps_per_epoch=steps, verbose=0)
            out.append(_rate(images, time.perf_counter() - start))
    fed, in_memory = statistics.median(fed), statistics.median(in_memory)

    on_event.message(f"{name}: inference and latency")
    model.predict(x[:batch], verbose=0)
    start = time.perf_counter()
    model.predict(x, batch_size=batch, verbose=0)
    inference = _rate(len(x), time.perf_counter() - start)
    one = x[:1]
    model.predict_on_batch(one)
    latencies = []
    for _ in range(20):
        t = time.perf_counter()
        model.predict_on_batch(one)
        latencies.append(time.perf_counter() - t)
    extra = {}
    if val_pairs:
        on_event.message(f"{name}: fine-tuning, glaucli's loop against a bare Keras fit (alternated epochs)")
        extra.update(bench_compare.versus_keras(bb, pairs[:images], val_pairs, size, batch, steps, rounds))
    if formats:
        on_event.message(f"{name}: exported {', '.join(formats)} inference")
        from glaucli.engine.precision import portable_twin

        twin = portable_twin(model)  # what best.keras, and so every export, holds
        twin.set_weights(model.get_weights())
        extra.update(bench_compare.exported_formats(twin, x, formats))
    return {**extra, "backbone": name, "image_size": size, "batch_size": batch, "steps": steps,
            "pipeline_img_s": pipeline, "train_pipeline_img_s": fed, "train_memory_img_s": in_memory,
            "pipeline_to_memory_ratio": round(fed / in_memory, 3) if in_memory else None,
            "inference_img_s": inference, "latency_ms": round(statistics.median(latencies) * 1000, 2),
            "first_epoch_s": round(trace_s, 1), "peak_rss_mb": round(_peak_rss_mb(), 1), "precision": precision}


def bench(names: list[str] | None = None, image_size: int = 96, batch_size: int = 16, steps: int = 8,
          data: Path | None = None, mixed_precision: str = "auto", formats=bench_compare.FORMATS,
          versus_keras: bool = True, *, on_event: events.Listeners = None) -> dict:
    """`glaucli bench`: each backbone's pipeline, training, inference and export figures.
    `on_event`: a Message before each stage."""
    from glaucli.engine import precision as precisions
    from glaucli.engine.devices import describe_devices

    on_event = events.dispatcher(on_event)
    names = list(names or DEFAULT_BACKBONES)
    for name in names:
        backbones.get(name)  # unknown names fail before any work
    unknown = sorted(set(formats) - set(bench_compare.FORMATS))
    if unknown:
        raise UsageError(f"unknown format(s) {', '.join(unknown)}", hint="formats: tflite, onnx")
    if mixed_precision not in ("auto", "on", "off"):
        raise UsageError("--mixed-precision must be auto, on or off")
    devices = describe_devices()
    precision = precisions.choose(mixed_precision, devices["gpus"], devices.get("cpu_bfloat16", []))
    with precisions.restored(), tempfile.TemporaryDirectory(prefix="glaucli-bench-") as tmp:
        precisions.use(precision)
        if data is None:
            from glaucli.data.sample import write_sample

            on_event.message("Drawing a temporary sample set")
            per_class = max(8, (steps + 1) * batch_size // 2 + 1)
            write_sample(Path(tmp), per_class=per_class, size=max(image_size, 64), seed=0)
            data = Path(tmp)
        collection = resolve(DataSpec(Path(data)))
        pairs = collection.require("train")
        if len(pairs) < steps * batch_size:
            steps = max(1, len(pairs) // batch_size)
        val_pairs = collection.require("validation") if versus_keras else None
        results = [bench_backbone(n, pairs, image_size, batch_size, steps, precision,
                                  val_pairs=val_pairs, formats=formats, on_event=on_event) for n in names]
    return {"device": devices, "results": results}
