"""Ctrl-C and SIGTERM during training: stop cleanly at a batch boundary, and leave the
process's own handlers as they were when training returns."""

from __future__ import annotations

import contextvars
import os
import signal
import threading
from contextlib import contextmanager

_HARD_EXIT = contextvars.ContextVar("glaucli_hard_exit", default=False)


@contextmanager
def exit_on_second_signal():
    """The CLI's choice, around train()/resume(): a second Ctrl-C/SIGTERM while stopping ends
    the process at once (os._exit). Without it (the Python API, a notebook) the second signal
    raises KeyboardInterrupt and the caller's handlers are back when train() returns."""
    token = _HARD_EXIT.set(True)
    try:
        yield
    finally:
        _HARD_EXIT.reset(token)


class StopRequested(Exception):
    """A Ctrl-C/SIGTERM reached a point where training can stop cleanly."""


class Interrupts:
    """First Ctrl-C/SIGTERM: stop at the next batch boundary (the epoch in progress is
    abandoned; the last complete epoch is on disk). Second: stop at once; the files on
    disk are complete since every save is a rename."""

    def __init__(self):
        self.requested: int | None = None
        self.hard_exit = _HARD_EXIT.get()
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested is not None:
            if not self.hard_exit:
                raise KeyboardInterrupt
            os.write(2, b"Interrupted again: exiting now (saved files are complete).\n")
            os._exit(130)
        self.requested = signum

    def check(self) -> None:
        """Raise StopRequested if a signal came: called at batch and epoch boundaries."""
        if self.requested is not None:
            raise StopRequested

    def __exit__(self, *exc):
        # The CLI keeps the handler once stopping, so a further signal still exits at once;
        # a library caller gets its own handlers back, whatever happened.
        if self.requested is None or not self.hard_exit:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
