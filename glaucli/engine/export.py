"""Export a run's model (SavedModel, TFLite, ONNX) and prove it answers like the Keras model.

Preprocessing stays inside: every export takes raw RGB float32 (0-255) of the
run's image size and returns P(RG).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from glaucli import events
from glaucli.contract import RESEARCH_NOTE, SCHEMA
from glaucli.data.labels import CLASSES
from glaucli.errors import InputError, UsageError, WorkError
from glaucli.runs import Run, run_collection
from glaucli.safety import dumps, owned_path, record_written, swap_into_place

FORMATS = {"saved-model": "", "tflite": ".tflite", "onnx": ".onnx"}
TOLERANCE = {False: 1e-4, True: 1e-2}  # float32, float16 weights


def _check_images(run: Run, size: int, on_event: events.Dispatcher, count: int = 8):
    """A few validation images through the one loader. Without them (the run records no data,
    or it moved) the export is still checked, on random pixels, and a warning says why: an
    export is often made where the training data is not."""
    import numpy as np

    from glaucli.data.images import load_image

    try:
        pairs = run_collection(run.meta, run.path).files("validation")
        why = "its dataset has no validation split"
    except InputError as exc:
        pairs, why = [], exc.message
    if pairs:
        step = max(1, len(pairs) // count)
        return np.stack([load_image(p, size) for p, _ in pairs[::step][:count]]).astype("float32"), "validation images"
    on_event.warn(f"checking the export on random images, not validation images: {why}")
    return np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype("float32"), "random images"


def _saved_model(model, target: Path) -> None:
    model.export(str(target), format="tf_saved_model", verbose=False)


def _tflite(model, target: Path, float16: bool) -> None:
    from glaucli.tf import tensorflow

    tf = tensorflow()
    with tempfile.TemporaryDirectory() as tmp:
        _saved_model(model, Path(tmp) / "sm")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm"))
        if float16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        target.write_bytes(converter.convert())


def _onnx(model, target: Path) -> None:
    model.export(str(target), format="onnx", verbose=False)


def _run_saved_model(path: Path, x):
    import numpy as np

    from glaucli.tf import tensorflow

    loaded = tensorflow().saved_model.load(str(path))
    return np.asarray(loaded.signatures["serving_default"](tensorflow().constant(x))["output_0"])


def _run_tflite(path: Path, x):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's own, deprecated but present
        from glaucli.tf import tensorflow

        Interpreter = tensorflow().lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = Interpreter(model_path=str(path))
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _run_onnx(path: Path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check_options(fmt: str, float16: bool) -> None:
    """Usage and missing-extra errors, before any run is looked up or loaded."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint="formats: " + ", ".join(FORMATS))
    if float16 and fmt != "tflite":
        raise UsageError("--float16 applies to --format tflite only")
    if fmt == "onnx" and not all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnxruntime")):
        raise InputError("ONNX export needs tf2onnx and onnxruntime", hint='pip install "glaucli[export]"')


def _sidecar(target: Path, fmt: str) -> Path:
    return target / "meta.json" if fmt == "saved-model" else target.with_suffix(".meta.json")


def _is_export(path: Path, fmt: str, in_run: bool = False) -> bool:
    """A previous glaucli export of this format (the only thing an export may replace): its
    provenance record proves it (safety.wrote; for a SavedModel folder, that of the meta.json
    inside). `in_run`: the default target inside the run's own export/ folder, which glaucli
    made, so an export from before provenance records still counts there."""
    from glaucli.safety import wrote

    if fmt == "saved-model":
        return (path / "saved_model.pb").is_file() and (wrote(path / "meta.json")
                                                          or in_run and _is_sidecar(path / "meta.json"))
    return path.is_file() and in_run and path.suffix == FORMATS[fmt]


def _is_sidecar(path: Path) -> bool:
    from glaucli.safety import read_json_object

    meta = read_json_object(path)
    return meta is not None and meta.get("format") in FORMATS and "run" in meta


def output_path(run: Run, fmt: str, output: Path | None, float16: bool = False, force: bool = False) -> Path:
    """Where the export goes, checked before any work: never the run itself or a folder holding
    it, never over something glaucli cannot prove it wrote (files: unless `force`). A file
    format given an existing folder goes inside it under the default name."""
    from glaucli.safety import may_replace, not_an_input

    default = ("model_fp16" if float16 else "model") + FORMATS[fmt] if fmt != "saved-model" else "saved_model"
    target = output if output is not None else run.path / "export" / default
    if fmt != "saved-model" and target.is_dir():
        target = target / default
    in_run = output is None
    not_an_input(target, run.inputs(), "--output")
    may_replace(target, lambda t: _is_export(t, fmt, in_run), "--output", force)
    if fmt != "saved-model":
        may_replace(_sidecar(target, fmt), lambda t: in_run and _is_sidecar(t), "--output (its .meta.json)", force)
    return target


def export(run: Run, fmt: str, output: Path | None = None, float16: bool = False,
           force: bool = False, *, on_event: events.Listeners = None) -> dict:
    """Write the export atomically, run it on a few images, compare with Keras. `on_event` gets
    the warnings (Warned: checked on random images when the run's validation images are not there)."""
    import numpy as np

    from glaucli.engine.scoring import load_model, model_image_size

    check_options(fmt, float16)
    target = output_path(run, fmt, output, float16, force)
    model = load_model(run.model_path)
    size = model_image_size(model)
    x, source = _check_images(run, size, events.dispatcher(on_event))
    expected = np.asarray(model.predict(x, verbose=0)).reshape(-1)  # also builds what export traces
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target, then rename: a failed export leaves no half file under its name.
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}{FORMATS[fmt]}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "saved-model":
                _saved_model(model, tmp)
            elif fmt == "tflite":
                _tflite(model, tmp, float16)
            else:
                _onnx(model, tmp)
        swap_into_place(tmp, target)
        if target.is_file():
            record_written(target)  # the provenance record: a later export may replace it
    finally:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
    runner = {"saved-model": _run_saved_model, "tflite": _run_tflite, "onnx": _run_onnx}[fmt]
    from glaucli.tf import native_stderr_silenced

    with native_stderr_silenced():  # TFLite's "Created ... XNNPACK delegate" line
        got = np.asarray(runner(target, x)).reshape(-1)
    diff = float(np.max(np.abs(got - expected)))
    size_bytes = (sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
                  if target.is_dir() else target.stat().st_size)
    sidecar = _sidecar(target, fmt)
    with owned_path(sidecar) as tmp_meta:
        tmp_meta.write_text(dumps({
            "schema": SCHEMA, "run": str(run.path), "format": fmt, "float16": float16, "image_size": size,
            "input": "raw RGB float32 0-255, shape (N, S, S, 3)", "output": "P(RG), shape (N, 1)",
            "classes": list(CLASSES), "threshold": run.threshold, "note": RESEARCH_NOTE}) + "\n", encoding="utf-8")
    result = {"format": fmt, "path": str(target), "size_bytes": size_bytes, "max_abs_diff": diff,
              "tolerance": TOLERANCE[float16], "checked_on": f"{len(x)} {source}", "meta": str(sidecar)}
    if not diff <= TOLERANCE[float16]:
        raise WorkError(f"the {fmt} export differs from the Keras model by {diff:.2e} "
                        f"(tolerance {TOLERANCE[float16]:.0e}); it is at {target}")
    return result
