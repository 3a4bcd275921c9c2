"""The output contract: data on stdout, everything else on stderr.

Progress bars only when stderr is a terminal; otherwise one plain line per
step so CI logs stay readable. `--quiet` silences progress and info lines;
`NO_COLOR` is honoured by rich itself.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console

from glaucli.contract import RESEARCH_NOTE, SCHEMA  # noqa: F401 - the CLI reads them here
from glaucli.safety import dumps

_state = {"quiet": False, "verbose": False}


class _Scrubbed:
    """A stream that passes every write through the secret scrubber: whatever rich prints
    (info, warning, error, progress bar, table) cannot show a Kaggle key. It looks up
    sys.stdout/sys.stderr at each write, so redirection (tests, pipes) still works."""

    def __init__(self, name: str):
        self._name = name

    def write(self, text: str) -> int:
        from glaucli.secrets import scrub

        return getattr(sys, self._name).write(scrub(text))

    def __getattr__(self, attr: str):  # flush, isatty, fileno, encoding...
        return getattr(getattr(sys, self._name), attr)


def _columns() -> int:
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:  # garbage in COLUMNS: the default, not a crash at import
        return 160


def _consoles() -> tuple[Console, Console]:
    # Piped tables get room for long paths instead of rich's 80-column default.
    wide = None if sys.stdout.isatty() else _columns()
    return (Console(file=_Scrubbed("stderr"), highlight=False, soft_wrap=True),
            Console(file=_Scrubbed("stdout"), highlight=False, width=wide))


err, out = _consoles()


def configure(*, quiet: bool | None = None, verbose: bool | None = None) -> None:
    if quiet:
        _state["quiet"] = True
    if verbose:
        _state["verbose"] = True


def reset() -> None:
    """Forget --quiet/--verbose (each CLI invocation starts clean, also in-process)."""
    _state.update(quiet=False, verbose=False)
    global err, out
    err, out = _consoles()
    _scrub_library_output()


def _scrub_library_output() -> None:
    """Python warnings and log records of the libraries (kagglesdk, urllib3) reach stderr too:
    route them through the scrubber as well."""
    import logging
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file if file is not None and file is not sys.stderr else _Scrubbed("stderr")).write(text)

    warnings.showwarning = show
    handler = logging.StreamHandler(_Scrubbed("stderr"))
    handler.setLevel(logging.WARNING)
    logging.lastResort = handler


def is_verbose() -> bool:
    return _state["verbose"]


def interactive() -> bool:
    """Live bars only on a terminal, never under --quiet."""
    return err.is_terminal and not _state["quiet"]


def info(message: str, markup: bool = False) -> None:
    """An info line on stderr. The text is shown as it is (a path holding `[/red]` is just
    text); `markup=True` only for fixed strings whose user parts went through `escape`."""
    if not _state["quiet"]:
        err.print(message, markup=markup)


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/] {escape(message)}")


def escape(value: Any) -> str:
    """Any value as rich markup that shows exactly its text (for tables and titles)."""
    from rich.markup import escape as rich_escape

    return rich_escape(str(value))


def emit_json(data: Any) -> None:
    """One JSON document on stdout; dicts carry the schema version."""
    if isinstance(data, dict) and "schema" not in data:
        data = {"schema": SCHEMA, **data}
    _write_out(dumps(data) + "\n")


class JsonArray:
    """A JSON array written one item at a time, so a long stream never sits in memory."""

    def __enter__(self) -> "JsonArray":
        self.count = 0
        _write_out("[")
        return self

    def add(self, item: Any) -> None:
        _write_out(("," if self.count else "") + "\n  " + dumps(item, indent=None))
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        _write_out("\n]\n" if self.count else "]\n")


def _write_out(text: str) -> None:
    from glaucli.secrets import scrub

    sys.stdout.write(scrub(text))
    sys.stdout.flush()


def emit_line(text: str) -> None:
    _write_out(text + "\n")


def emit(renderable: Any, markup: bool = False) -> None:
    """A table or a line on stdout; a plain string is shown as it is unless `markup`."""
    # markup=False on a table would also switch off the cells' own styles: strings only.
    out.print(renderable, markup=markup if isinstance(renderable, str) else None)


class Progress:
    """A bar on a terminal, plain lines (at most one per `every` seconds) elsewhere."""

    def __init__(self, description: str, total: int | None, unit: str = "", every: float = 5.0):
        self.description, self.total, self.unit, self.every = description, total, unit, every
        self.done = 0
        self._bar = None
        self._task = None
        self._closed = False
        self._last_line = float("-inf")  # the first line at once: monotonic() counts from boot
        self._began = time.monotonic()

    def __enter__(self) -> "Progress":
        return self

    def _show(self) -> None:
        """The bar appears on the first update (so several can be prepared, one shown at a time)."""
        if self._bar is None and not self._closed and interactive():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as Bar

            counter = ([DownloadColumn(), TransferSpeedColumn()] if self.unit == "bytes"
                       else [MofNCompleteColumn()])
            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), *counter,
                            TimeElapsedColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[status]}"), console=err, transient=False)
            self._bar.start()
            self._task = self._bar.add_task(escape(self.description), total=self.total, status="")

    def advance(self, n: int = 1, status: str = "") -> None:
        self.update(self.done + n, status=status)

    def update(self, done: int, total: int | None = None, status: str = "") -> None:
        """Set the absolute position (and the total, once it is known)."""
        self.done = done
        if total is not None:
            self.total = total
        self._show()
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total, status=escape(status))
        elif not _state["quiet"]:
            now = time.monotonic()
            finished = self.total is not None and self.done >= self.total
            if now - self._last_line >= self.every or finished:
                self._last_line = now
                err.print(f"{self.description}: {self._plain_position()} {status}".rstrip(), markup=False)

    def _plain_position(self) -> str:
        if self.unit != "bytes":
            of = f"/{self.total}" if self.total is not None else ""
            return f"{self.done}{of} {self.unit}".rstrip()
        # One unit for the pair, picked by the total: a 40 kB archive is not "0.0/0.0 MB".
        scale, unit = _byte_unit(max(self.total or 0, self.done))
        speed = self.done / max(time.monotonic() - self._began, 1e-6) / scale
        of = f"/{self.total / scale:.1f}" if self.total else ""
        return f"{self.done / scale:.1f}{of} {unit} ({speed:.1f} {unit}/s)"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar, self._closed = None, True

    def __exit__(self, *exc: object) -> None:
        self.close()


def _byte_unit(size: float) -> tuple[float, str]:
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if size >= scale:
            return scale, unit
    return 1.0, "B"


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on a terminal, one line elsewhere."""
    if interactive():
        with err.status(escape(message)):
            yield
    else:
        info(message)
        yield
