"""Run folders: `$RUNS_DIR/{train,ensemble}/<name>`, meta.json, finding the latest run.

A name is never reused (`xception`, `xception-2`, ...). "Latest" is the run
whose meta.json says `status: complete` with the newest `finished_at`;
interrupted or running runs never count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from glaucli import events
from glaucli.contract import SCHEMA
from glaucli.errors import InputError, UsageError
from glaucli.safety import component, read_json_object, write_json_atomic  # noqa: F401 - re-exported

KINDS = ("train", "ensemble")
META = "meta.json"
BEST = "best.keras"
LAST = "last.keras"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_dir(runs_dir: Path, kind: str, name: str) -> Path:
    """Create and return a fresh folder; `mkdir` is atomic, so two runs never share one."""
    component(name, "--name")
    parent = runs_dir / kind
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = parent / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise InputError(f"too many runs named {name} in {parent}")


def run_meta(kind: str, status: str, *, backbone: str, image_size: int, preprocessing: str,
             threshold: float, data: dict, synthetic: bool, versions: dict, started_at: str | None = None,
             **fields) -> dict:
    """meta.json's fields common to every run (train and ensemble), in one order: kind, status,
    started/finished (finished now when `status` is complete), backbone, image size, classes,
    threshold, preprocessing, resample; then `fields` (what only this kind records: method,
    gradcam_layer, args, device ...); then the data record, synthetic, versions, the note."""
    from glaucli.contract import RESEARCH_NOTE
    from glaucli.data.images import RESAMPLE
    from glaucli.data.labels import CLASSES

    return {
        "kind": kind, "status": status, "started_at": started_at or now(),
        "finished_at": now() if status == "complete" else None, "backbone": backbone,
        "image_size": image_size, "classes": list(CLASSES), "threshold": float(threshold),
        "preprocessing": preprocessing, "resample": RESAMPLE, **fields,
        "data": data, "synthetic": synthetic, "versions": versions, "note": RESEARCH_NOTE,
    }


def write_meta(run: Path, meta: dict) -> None:
    write_json_atomic(run / META, {"schema": SCHEMA, **meta})


def read_meta(run: Path) -> dict | None:
    """meta.json as a dict; None when missing or corrupt (a list, garbage, too deep)."""
    return read_json_object(run / META)


def _when(meta: dict) -> str:
    """The sort key of a run; a corrupt date sorts first instead of breaking the sort."""
    value = meta.get("finished_at") or meta.get("started_at") or ""
    return value if isinstance(value, str) else ""


def list_runs(runs_dir: Path) -> list[tuple[Path, dict]]:
    """(folder, meta) of every run, oldest first."""
    found = []
    for kind in KINDS:
        parent = runs_dir / kind
        if parent.is_dir():
            for run in parent.iterdir():
                meta = read_meta(run) if run.is_dir() else None
                if meta is not None:
                    found.append((run, meta))
    return sorted(found, key=lambda rm: _when(rm[1]))


def latest_run(runs_dir: Path) -> Path:
    complete = [(_when(meta), run) for run, meta in list_runs(runs_dir)
                if meta.get("status") == "complete"]
    if not complete:
        raise InputError(f"no complete run under {runs_dir}",
                         hint="train one with `glaucli train BACKBONE`, or pass a run folder")
    return max(complete)[1]


@dataclass
class Run:
    """What evaluate, predict and export need: a model file and its meta.json."""

    path: Path  # the run folder
    model_path: Path
    meta: dict
    automatic: bool = False  # chosen as the latest complete run, not named by the user
    warnings: list[str] = field(default_factory=list)  # for the caller to show

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def threshold(self) -> float:
        return meta_threshold(self.meta, self.path)

    def inputs(self) -> list[Path]:
        """What using the run reads: its folder, model, meta.json and the other files in it
        (inputs, which no output may name: safety.not_an_input)."""
        try:
            inside = [p for p in self.path.iterdir() if p.is_file()] if self.path.is_dir() else []
        except OSError:
            inside = []
        return [self.path, self.model_path, self.path / META, *inside]


def is_threshold(value) -> bool:
    """The one range rule for a decision threshold: a finite real number in [0, 1] (not a bool).
    0 and 1 are allowed: a user may ask for them, and a run that learned nothing may store one
    (training warns; the run must still load to be looked at)."""
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    return real and math.isfinite(value) and 0 <= value <= 1


def check_threshold(value: float | None, option: str = "--threshold") -> float | None:
    """A threshold the user gave (None: not given), else a UsageError (exit 2)."""
    if value is not None and not is_threshold(value):
        raise UsageError(f"{option} must be within [0, 1]")
    return value


def meta_threshold(meta: dict, where: Path) -> float:
    """The decision threshold meta.json records: a finite number in [0, 1], else exit 3."""
    value = meta.get("threshold", 0.5)
    if not is_threshold(value):
        raise InputError(f"{where / META}: threshold {value!r} is not a number in [0, 1] (the file is corrupt)",
                         hint="pass --threshold, or retrain the run")
    return float(value)


def meta_data_record(meta: dict, where: Path) -> dict:
    """meta.json's `data` record ({} if none), its path and spec of the types glaucli writes;
    a corrupt one is exit 3 with the file named."""
    data = meta.get("data") or {}
    spec = data.get("spec") if isinstance(data, dict) else None
    path = data.get("path") if isinstance(data, dict) else None
    paths = [path] + [(spec or {}).get(k) for k in ("path", "labels")] if isinstance(spec, (dict, type(None))) else [0]
    if not isinstance(data, dict) or any(p is not None and (not isinstance(p, str) or not p) for p in paths):
        raise InputError(f"{where / META}: the dataset record {data!r:.80} is not readable (the file is corrupt)",
                         hint="pass --data DIR")
    return data


def run_collection(meta: dict, where: Path, data=None, on_event: events.Listeners = None):
    """The one answer to "which data does this run read": `data` when given (a folder, a CSV
    or a DataSpec), else the dataset its meta.json records, resolved into a Collection (its
    notes and warnings for the caller to show). Exit 3 with one line when the run records
    none, the record is corrupt, or that dataset is no longer there. evaluate, calibrate,
    ensemble, export and a training resume all read a run's data through here. With
    `on_event`, the notes go to it as Message events and the warnings as Warned."""
    from glaucli.data import collection as collections

    spec = data if isinstance(data, collections.DataSpec) else collections.DataSpec(path=data)
    if spec.path is None and spec.labels is None:
        record = meta_data_record(meta, where)
        if not record.get("path"):
            raise InputError(f"{where} records no dataset", hint="pass --data DIR")
        spec = collections.from_record(record)
        if not Path(spec.path).exists():
            raise InputError(f"the run's dataset {spec.path} is no longer there", hint="pass --data DIR")
    found = collections.resolve(spec)
    if on_event is not None:
        on_event = events.dispatcher(on_event)
        for text in found.notes:
            on_event.message(text)
        for text in found.warnings:
            on_event.warn(text)
    return found


def resolve_run(arg: str | Path | None, runs_dir: Path) -> Run:
    """A RUN argument: a run folder, a run name under the runs dir, a `.keras` file, or
    None for the latest complete run (`automatic`: the CLI names it on stderr). Prints nothing."""
    if arg is None:
        run = _from_folder(latest_run(runs_dir))
        run.automatic = True
        return run
    path = Path(arg)
    if path.is_file():
        meta = read_meta(path.parent)
        if meta is None:
            return Run(path.parent, path, {},
                       warnings=[f"no {META} beside {path.name}: threshold 0.5, no dataset recorded"])
        return Run(path.parent, path, meta)
    folder = run_folder(arg, runs_dir)
    if folder is not None:
        return _from_folder(folder)
    raise InputError(f"no run {str(arg)!r} (not a folder, a .keras file, or a run under {runs_dir})",
                     hint="`glaucli runs` lists them")


def run_folder(arg: str | Path, runs_dir: Path) -> Path | None:
    """A run folder given as a path or as a name under the runs dir (any kind)."""
    if Path(arg).is_dir():
        return Path(arg)
    return next((runs_dir / kind / str(arg) for kind in KINDS if (runs_dir / kind / str(arg)).is_dir()), None)


def _from_folder(folder: Path) -> Run:
    meta = read_meta(folder)
    if meta is None:
        raise InputError(f"{folder} has no readable {META}; not a glaucli run")
    model = folder / BEST
    if not model.is_file():
        raise InputError(f"{folder} has no {BEST}", hint="the run may not have finished an epoch")
    return Run(folder, model, meta)
