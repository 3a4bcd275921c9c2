"""The event dispatcher: every listener hears every event; a failing one is logged once and dropped."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from glaucli import events


def test_listeners_are_isolated_and_a_broken_one_is_logged_once(caplog):
    heard, calls = [], []

    def broken(event):
        calls.append(event)
        raise ValueError("boom")

    dispatch = events.Dispatcher([broken, heard.append])
    with caplog.at_level(logging.WARNING, logger="glaucli.events"):
        for i in range(3):
            dispatch(events.Progress("scoring", i, 3))
    assert [e.done for e in heard] == [0, 1, 2]
    assert len(calls) == 1  # dropped after its first failure
    assert [r.getMessage() for r in caplog.records].count(
        "a progress listener failed on Progress (ValueError: boom) and is ignored from now on") == 1


def test_interrupts_pass_through_and_events_are_frozen():
    def ctrl_c(event):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        events.Dispatcher(ctrl_c)(events.Message("hello"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        events.Message("hello").text = "changed"


def test_one_listener_a_list_or_none_and_subscribe():
    one, two = [], []
    assert events.dispatcher(None)(events.Warned("x")) is None  # nobody listening is fine
    dispatch = events.dispatcher(one.append)
    assert events.dispatcher(dispatch) is dispatch
    dispatch.subscribe(two.append)
    dispatch.message("m")
    dispatch.warn("w")
    assert one == two == [events.Message("m"), events.Warned("w")]
