"""Rich renderings shared by several commands."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from glaucli import console, events
from glaucli.data.layout import CLASSES


def onednn_words(device: dict) -> str:
    """oneDNN's state as a device line says it: "oneDNN on (glaucli: TensorFlow leaves it off
    on this CPU)"; "" for a device description without it (runs made before issue 35)."""
    state = device.get("onednn")
    if not state:
        return ""
    why = {"glaucli": "glaucli: TensorFlow leaves it off on this CPU",
           "user": "TF_ENABLE_ONEDNN_OPTS", "tensorflow": "TensorFlow's default on this CPU"}[state["by"]]
    return f"oneDNN {'on' if state['on'] else 'off'} ({why})"


class EventPrinter:
    """The library's Message, Warned and Progress events on stderr, the same for every command:
    a Message is an info line (hidden by --quiet), Warned a warning, Progress a bar per task
    (console.Progress: a bar on a terminal, plain lines elsewhere), closed when done == total,
    when the next task's bar opens (one bar shows at a time), or when the printer closes
    (`with EventPrinter(...) as show:`). `titles` names each task's bar ("scoring" ->
    "Evaluating RUN"); a title of None hides that task; an unnamed task shows as its name.
    Other events (training's) are ignored here."""

    def __init__(self, titles: dict[str, str | None] | None = None):
        self.titles = titles or {}
        self.bars: dict[str, console.Progress] = {}

    def __call__(self, event: events.Event) -> None:
        match event:
            case events.Message(text):
                console.info(text)
            case events.Warned(text):
                console.warn(text)
            case events.Progress(task, done, total, unit):
                self.progress(task, done, total, unit)

    def progress(self, task: str, done: int, total: int | None, unit: str) -> None:
        title = self.titles.get(task, task)
        if title is None:
            return
        bar = self.bars.get(task)
        if bar is None:
            self.close()
            bar = self.bars[task] = console.Progress(title, total, unit)
        bar.update(done, total)
        if total is not None and done >= total:
            self.bars.pop(task).close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()

    def __enter__(self) -> "EventPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def counts_table(counts: dict[str, dict[str, int]], title: str | None = None) -> Table:
    table = Table(title=title)  # markup: callers escape the user parts
    table.add_column("split")
    for cls in CLASSES:
        table.add_column(cls, justify="right")
    table.add_column("total", justify="right")
    for split, by_class in counts.items():
        table.add_row(split, *(str(by_class.get(c, 0)) for c in CLASSES),
                      str(sum(by_class.values())))
    if list(counts) == ["all"]:  # a collection without splits: its one row is the total
        return table
    total = {c: sum(s.get(c, 0) for s in counts.values()) for c in CLASSES}
    table.add_row("[bold]all[/]", *(f"[bold]{total[c]}[/]" for c in CLASSES),
                  f"[bold]{sum(total.values())}[/]")
    return table


def separating_digits(pairs, lo: int = 3, hi: int = 6) -> int:
    """The fewest decimals (lo..hi) at which every (value, threshold) pair that differs also
    prints differently: 0.48112 next to a threshold of 0.481463 must not both read 0.481."""
    pairs = [(a, b) for a, b in pairs if a != b]
    for digits in range(lo, hi + 1):
        if all(f"{a:.{digits}f}" != f"{b:.{digits}f}" for a, b in pairs):
            return digits
    return hi


def display_path(path: str) -> str:
    """A path as short as it can be said: relative to the working folder when under it."""
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return rel if not rel.startswith("..") else path


def short_date(stamp: str | None) -> str:
    """`2026-12-02T03:11:37.123+00:00` -> `2026-12-02 03:11` (the table needs no more)."""
    if not stamp:
        return ""
    return stamp.replace("T", " ")[:16]


# -- an evaluation ---------------------------------------------------------------------------

def settings_line(result: dict) -> str:
    """Which settings produced these figures (each setting has its own RUN/eval folder)."""
    source = {"run": "the run's", "validation-youden": "the run's", "given": "given",
              "target-specificity": "for the target specificity on validation",
              "target-specificity-recomputed": "for the target specificity on these images, optimistic"
              }.get(result.get("threshold_source", "run"), result.get("threshold_source"))
    boot = result.get("bootstrap")
    return (f"{result['split']} split, threshold {result['threshold']:.4f} ({source}), "
            f"TTA {'on' if result.get('tta') else 'off'}, "
            + (f"{boot} bootstrap resamples" if boot else "no intervals" if boot == 0 else "bootstrap intervals"))


def print_evaluation(result: dict) -> None:
    """An evaluation document (engine.evaluate) as tables on stdout: evaluate's and demo's."""
    c = result["confusion"]
    data = result["data"]
    where = f"{escape(Path(data['path']).name)} ({data['kind']}" + (", external" if result.get("external") else "") + ")"
    if result.get("synthetic"):
        console.warn("synthetic data (glaucli sample): these figures say nothing about glaucoma")
    cm = Table(title=f"Confusion matrix ({where}, {result['split']}, threshold {result['threshold']:.3f}"
                     + ("" if result["threshold_source"] in ("run", "validation-youden", "given") else f": {result['threshold_source']}")
                     + ")")
    cm.add_column("true \\ predicted")
    for cls in CLASSES:
        cm.add_column(f"pred {cls}", justify="right")
    for cls, (a, b) in zip(CLASSES, ((c["tn"], c["fp"]), (c["fn"], c["tp"]))):
        total = max(1, a + b)
        cm.add_row(f"true {cls}", f"{a} ({a / total:.1%})", f"{b} ({b / total:.1%})")
    console.emit(cm)
    table = Table(title=f"Metrics, n = {result['n']['NRG']} NRG + {result['n']['RG']} RG",
                  caption=escape(settings_line(result)))
    table.add_column("metric")
    table.add_column("value", justify="right")
    if result["ci95"]:  # --bootstrap 0: no intervals, no empty column
        table.add_column("95 % CI", justify="right")
    for name, value in result["metrics"].items():
        ci = result["ci95"].get(name)
        cells = [name, f"{value:.4f}"] + ([f"{ci[0]:.4f} - {ci[1]:.4f}" if ci else "-"] if result["ci95"] else [])
        table.add_row(*cells)
    console.emit(table)
    pc = Table(title="Per class")
    for column in ("class", "precision", "recall", "f1", "support"):
        pc.add_column(column, justify="left" if column == "class" else "right")
    for cls, row in result["per_class"].items():
        pc.add_row(cls, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"]))
    console.emit(pc)
    _print_flagged(result.get("ood"), result["metrics"])
    console.emit("[dim]pauc_90: partial AUC over 90-100 % specificity, McClish-standardised (0.5-1).[/]", markup=True)


def _print_flagged(ood: dict | None, metrics: dict) -> None:
    """How many images the fundus/distribution checks would not assess, metrics without them."""
    if not ood:
        return
    from glaucli.contract import NOT_ASSESSED

    title = f"Not assessed by predict: {ood['flagged']} of {ood['n']} ({ood['share']:.1%})"
    caption = ", ".join(f"{NOT_ASSESSED[code].removeprefix('not assessed: ')} {n}"
                        for code, n in (ood.get("reasons") or {}).items()) or "none flagged"
    if not ood["flagged"] or not ood["metrics_assessed"]:
        console.emit(f"[dim]{title}; {caption}[/]", markup=True)
        return
    table = Table(title=title, caption=caption)
    for column in ("metric", "all images", "assessed only"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in ("auc", "accuracy", "sensitivity", "specificity"):
        table.add_row(name, f"{metrics[name]:.4f}", f"{ood['metrics_assessed'][name]:.4f}")
    console.emit(table)
