"""Two comparisons for `glaucli bench`: glaucli's fine-tuning loop against a bare Keras
script, and the exported TFLite/ONNX models against Keras' own inference.

The fine-tuning comparison trains the same model (its top unfrozen as in the recipe, the
same augmentation) on the same images, alternating epochs between the two and keeping
medians: on a shared machine the speed drifts between epochs, and alternation spreads
the drift over both sides. glaucli's side is what a fine-tuning epoch of `glaucli train`
does, through its own callbacks (engine/training/callbacks.py): the tf.data pipeline from
files through the one loader and the decoded-image cache, the per-epoch validation on
exact scores, best.keras, last.keras and state.json written atomically, history.csv. The bare
side is `model.fit` on preloaded arrays with the same augmentation and validation, no
saves: the most a short script would do.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

FORMATS = ("tflite", "onnx")


def _rate(images: int, seconds: float) -> float:
    return round(images / seconds, 2) if seconds > 0 else float("inf")


def versus_keras(bb, pairs, val_pairs, size: int, batch: int, steps: int, rounds: int = 3) -> dict:
    """Fine-tuning images/s of glaucli's loop and of a bare Keras fit, and their ratio."""
    import numpy as np

    from glaucli import events
    from glaucli.data.image_cache import ImageCache
    from glaucli.data.images import load_image
    from glaucli.data.pipeline import augmenter, make_dataset
    from glaucli.engine import precision
    from glaucli.engine.signals import Interrupts
    from glaucli.engine.training import callbacks as run_callbacks
    from glaucli.engine.training.recipe import Phase, compile_model
    from glaucli.engine.training.state import TrainState
    from glaucli.models import classifier
    from glaucli.tf import keras, tensorflow

    tf, k = tensorflow(), keras()
    model = classifier.build(bb, size).model
    classifier.set_trainable(model, bb.unfreeze if bb.pretrained else "all", freeze_batchnorm=bb.pretrained)
    compile_model(model, 1e-5)
    twin = precision.portable_twin(model)
    images = steps * batch
    with tempfile.TemporaryDirectory(prefix="glaucli-bench-") as tmp, \
            ImageCache([p for p, _ in pairs + val_pairs], size, "memory") as cache:
        run = Path(tmp)

        ours = make_dataset(pairs, size, batch, training=True, augment="light", seed=0, cache=cache)
        ours_val = make_dataset(val_pairs, size, batch, deterministic=True, cache=cache)
        phase = Phase("finetune", 10**6, 1e-5, bb.unfreeze, patience=10**6)
        state = TrainState(steps=steps)

        class AlwaysBest(k.callbacks.Callback):  # every epoch writes best.keras, as an improving run does
            def on_epoch_end(self, epoch, logs=None):
                state.best = None

        callbacks = [AlwaysBest(), *run_callbacks.for_phase(run, phase, state, twin, ours_val, Interrupts(),
                                                           events.Dispatcher())]

        x = np.stack([load_image(p, size) for p, _ in pairs]).astype("float32")
        y = np.array([label for _, label in pairs], dtype="float32")
        vx = np.stack([load_image(p, size) for p, _ in val_pairs]).astype("float32")
        vy = np.array([label for _, label in val_pairs], dtype="float32")
        layer = augmenter("light", 0)
        bare = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).repeat().batch(batch)
                .map(lambda a, b: (tf.clip_by_value(layer(a, training=True), 0.0, 255.0), b),
                     num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))

        def epoch(mine: bool) -> float:
            start = time.perf_counter()
            if mine:
                model.fit(ours, validation_data=ours_val, epochs=1, steps_per_epoch=steps, verbose=0,
                          callbacks=callbacks)
            else:
                model.fit(bare, validation_data=(vx, vy), batch_size=batch, epochs=1, steps_per_epoch=steps,
                          verbose=0)
            return _rate(images, time.perf_counter() - start)

        epoch(True), epoch(False)  # tracing, the first decode and warm-up are not throughput
        glaucli, plain = [], []
        for _ in range(rounds):
            glaucli.append(epoch(True))
            plain.append(epoch(False))
    g, p = statistics.median(glaucli), statistics.median(plain)
    return {"finetune_glaucli_img_s": g, "finetune_keras_img_s": p,
            "finetune_ratio": round(g / p, 3) if p else None, "finetune_rounds": rounds}


def exported_formats(model, x, formats=FORMATS, repeat: int = 3) -> dict:
    """Inference images/s of `model` exported to each format (float32), run by its own
    runtime (TFLite interpreter, onnxruntime) on the batch `x`; median of `repeat`."""
    import importlib.util

    import numpy as np

    from glaucli.engine import export
    from glaucli.tf import native_stderr_silenced

    out = {}
    with tempfile.TemporaryDirectory(prefix="glaucli-bench-export-") as tmp:
        for fmt in formats:
            if fmt == "onnx" and not all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnxruntime")):
                out[f"{fmt}_img_s"] = None  # the export extra is not installed
                continue
            target = Path(tmp) / f"model.{fmt}"
            with warnings.catch_warnings(), native_stderr_silenced():
                warnings.simplefilter("ignore")
                if fmt == "tflite":
                    export._tflite(model, target, float16=False)
                    run = _tflite_runner(target, x.shape)
                else:
                    export._onnx(model, target)
                    run = _onnx_runner(target)
                run(x)  # warm-up
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    run(x)
                    times.append(time.perf_counter() - start)
            out[f"{fmt}_img_s"] = _rate(len(x), statistics.median(times))
            out[f"{fmt}_max_abs_diff"] = float(np.max(np.abs(np.asarray(run(x)).reshape(-1)
                                                              - np.asarray(model.predict(x, verbose=0)).reshape(-1))))
    return out


def _tflite_runner(path: Path, shape):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from glaucli.tf import tensorflow

        Interpreter = tensorflow().lite.Interpreter
    interpreter = Interpreter(model_path=str(path))
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(shape))
    interpreter.allocate_tensors()
    output = interpreter.get_output_details()[0]["index"]

    def run(x):
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run


def _onnx_runner(path: Path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]
