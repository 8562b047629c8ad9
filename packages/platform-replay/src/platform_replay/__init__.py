"""Replay machinery: a projection catches up from the event store without stopping anything.

- :mod:`platform_replay.definition`: the Step Functions state machine (ASL data) and its IAM
  statements; the same definition is deployed by Pulumi and executed by the tests.
- :mod:`platform_replay.control`: the control messages a rebuild sends through the replay queue
  (``begin``, ``promote``, ``abort``), which the projector applies.
- :mod:`platform_replay.progress`: an execution's progress (events sent, queue depth, live mapping).
- :mod:`platform_replay.cli`: ``python -m platform_replay start|rebuild|progress``.
- :mod:`platform_replay.emulation`: what moto's Step Functions interpreter needs to run it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from platform_replay.definition import (
        ReplayTarget,
        replay_assume_role_policy,
        replay_role_policy,
        replay_role_statements,
        replay_state_machine_definition,
    )
    from platform_replay.progress import (
        Phase,
        ProgressReader,
        QueueDepth,
        ReplayProgress,
        start_replay,
    )

# Loaded on first use: a projection's Lambda imports ``platform_replay.control`` (the control
# messages it applies), which runs this file, and needs neither the state machine's definition
# nor the progress reader on its cold start.
_LAZY: Final = {
    "ReplayTarget": "platform_replay.definition",
    "replay_assume_role_policy": "platform_replay.definition",
    "replay_role_policy": "platform_replay.definition",
    "replay_role_statements": "platform_replay.definition",
    "replay_state_machine_definition": "platform_replay.definition",
    "Phase": "platform_replay.progress",
    "ProgressReader": "platform_replay.progress",
    "QueueDepth": "platform_replay.progress",
    "ReplayProgress": "platform_replay.progress",
    "start_replay": "platform_replay.progress",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Phase",
    "ProgressReader",
    "QueueDepth",
    "ReplayProgress",
    "ReplayTarget",
    "replay_assume_role_policy",
    "replay_role_policy",
    "replay_role_statements",
    "replay_state_machine_definition",
    "start_replay",
]
