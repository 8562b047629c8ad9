"""The control messages' vocabulary: what the state machine sends is what a projector parses."""

from __future__ import annotations

import json

import pytest
from platform_replay.control import (
    CONTROL_GROUP,
    ControlAction,
    MalformedControl,
    ReplayControl,
    is_control,
    parse_control,
)


@pytest.mark.parametrize("action", list(ControlAction))
def test_a_body_parses_back_to_itself(action):
    control = ReplayControl(action, "replay-20261128T120000Z-1a2b3c4d")

    document = json.loads(control.body())

    assert is_control(document)
    assert parse_control(document) == control


def test_events_and_pages_are_not_control_messages():
    assert not is_control({"replayed_events": []})
    assert not is_control({"event_id": "x"})
    assert not is_control(["replay_control"])
    assert CONTROL_GROUP == "replay-control"
    assert "#" not in CONTROL_GROUP  # never a replay partition


@pytest.mark.parametrize(
    "document",
    [
        {"replay_control": "explode", "rebuild": "r"},
        {"replay_control": ["begin"], "rebuild": "r"},
        {"replay_control": "begin"},
        {"replay_control": "begin", "rebuild": 7},
        {"replay_control": "begin", "rebuild": ""},
        {"replay_control": "begin", "rebuild": "x" * 81},
        {"replay_control": "begin", "rebuild": "r", "generation": 2},
    ],
)
def test_malformed_control_messages_are_refused(document):
    with pytest.raises(MalformedControl):
        parse_control(document)
