"""The control messages a rebuild sends through the replay queue, and how a projector reads them.

A rebuild (``platform_replay.definition``, rebuild mode) fills a new generation of the projection's
tables while the active one keeps serving queries. It cannot touch the database itself, so it
tells the projector what to do with three messages on the replay queue, each in the group
``replay-control`` and each named after the execution (the *rebuild id*):

- ``{"replay_control": "begin", "rebuild": "<id>"}``: allocate a new generation and make it the
  one replay pages are written into. Sent first, and drained before any page is sent.
- ``{"replay_control": "promote", "rebuild": "<id>"}``: once every page was applied, make that
  generation the active one (readers switch in one transaction). Sent after the pages drained.
- ``{"replay_control": "abort", "rebuild": "<id>"}``: the rebuild failed; forget its generation
  (the active one never changed).

The projector (``platform_projections``) applies each at most once per rebuild id, so redelivery is
harmless, and refuses a promote whose rebuild is not the one in progress.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

REPLAY_CONTROL: Final = "replay_control"
"""Key of a control message's action."""
REBUILD: Final = "rebuild"
"""Key of a control message's rebuild id (the execution name)."""
CONTROL_GROUP: Final = "replay-control"
"""FIFO message group of every control message: never a replay partition (``<type>#<n>``)."""
MAX_REBUILD_ID_LENGTH: Final = 80
"""Step Functions' limit on execution names."""


class ControlAction(StrEnum):
    BEGIN = "begin"
    PROMOTE = "promote"
    ABORT = "abort"


class MalformedControl(ValueError):
    """A message claims to be a control message but is not a valid one."""


@dataclass(frozen=True, slots=True)
class ReplayControl:
    """One control message."""

    action: ControlAction
    rebuild: str

    def __post_init__(self) -> None:
        if not self.rebuild or len(self.rebuild) > MAX_REBUILD_ID_LENGTH:
            msg = f"a rebuild id has 1..{MAX_REBUILD_ID_LENGTH} characters: {self.rebuild!r}"
            raise MalformedControl(msg)

    def body(self) -> str:
        """The message body, as the state machine sends it."""
        return json.dumps({REPLAY_CONTROL: self.action.value, REBUILD: self.rebuild})


def is_control(document: object) -> bool:
    """Whether a decoded message body is a control message (valid or not)."""
    return isinstance(document, Mapping) and REPLAY_CONTROL in document


def parse_control(document: Mapping[str, Any]) -> ReplayControl:
    """The control message in a decoded body; :class:`MalformedControl` if it is not a valid one."""
    action, rebuild = document.get(REPLAY_CONTROL), document.get(REBUILD)
    if set(document) != {REPLAY_CONTROL, REBUILD}:
        msg = f"a control message has exactly the keys {REPLAY_CONTROL!r} and {REBUILD!r}"
        raise MalformedControl(msg)
    if not isinstance(action, str) or action not in {a.value for a in ControlAction}:
        msg = f"unknown replay control action {action!r}"
        raise MalformedControl(msg)
    if not isinstance(rebuild, str):
        msg = f"{REBUILD} is not a string"
        raise MalformedControl(msg)
    return ReplayControl(ControlAction(action), rebuild)
