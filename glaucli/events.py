"""What the library tells its caller while it works: typed events, one convention.

Long-running engine functions take `on_event`: one listener, a list of them, or None. A
listener is any callable taking one event, a frozen dataclass below; it picks the kinds it
knows with isinstance (or `match`) and ignores the rest, so a new event breaks no listener.
A listener that raises is logged once (logger "glaucli.events") and skipped from then on:
a display bug never stops a training. KeyboardInterrupt passes through, as a Ctrl-C does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union


class Event:
    """Base class of every event."""


# -- any long task ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message(Event):
    """A line of progress worth showing ("Choosing the decision threshold ...")."""
    text: str


@dataclass(frozen=True)
class Warned(Event):
    """Something the user should know; never fatal (that is an exception)."""
    text: str


@dataclass(frozen=True)
class Progress(Event):
    """`done` of `total` (None: unknown) `unit` of `task`."""
    task: str
    done: int
    total: int | None = None
    unit: str = ""


# -- training -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunStarted(Event):
    backbone: str
    image_size: int
    device: dict
    hardware: dict
    train: int
    validation: int
    data: str
    run: str


@dataclass(frozen=True)
class RunResumed(Event):
    run: str
    phase: str
    epoch: int  # complete epochs before this resume
    seconds: float  # to load the state


@dataclass(frozen=True)
class PhaseStarted(Event):
    name: str
    epochs: int
    lr: float
    trainable_backbone_layers: int


@dataclass(frozen=True)
class EpochStarted(Event):
    phase: str
    epoch: int  # within the phase, from 1
    epochs: int
    steps: int


@dataclass(frozen=True)
class BatchEnded(Event):
    step: int
    steps: int
    logs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EpochEstimated(Event):
    seconds_per_epoch: float


@dataclass(frozen=True)
class EpochEnded(Event):
    phase: str
    epoch: int  # within the phase, from 1
    epochs: int
    logs: dict
    seconds: float
    best: bool  # the best model so far (best.keras was just written)


Listener = Callable[[Event], None]
Listeners = Union[Listener, Iterable[Listener], None]

log = logging.getLogger("glaucli.events")


class Dispatcher:
    """Calls every listener with each event; isolates their failures."""

    def __init__(self, listeners: Listeners = None):
        if listeners is None:
            listeners = []
        elif callable(listeners):
            listeners = [listeners]
        self._listeners: list[Listener] = list(listeners)
        self._broken: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def __call__(self, event: Event) -> None:
        for listener in self._listeners:
            if any(listener is broken for broken in self._broken):
                continue
            try:
                listener(event)
            except Exception as exc:  # noqa: BLE001 - isolating listeners is this class's job
                self._broken.append(listener)
                log.warning("a progress listener failed on %s (%s: %s) and is ignored from now on",
                            type(event).__name__, type(exc).__name__, exc)
                log.debug("the listener's traceback", exc_info=True)

    def message(self, text: str) -> None:
        self(Message(text))

    def warn(self, text: str) -> None:
        self(Warned(text))


def dispatcher(on_event: Listeners | Dispatcher) -> Dispatcher:
    """The caller's listener(s) as a Dispatcher (a Dispatcher passes through unchanged)."""
    return on_event if isinstance(on_event, Dispatcher) else Dispatcher(on_event)
