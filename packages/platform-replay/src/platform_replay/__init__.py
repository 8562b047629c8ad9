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

from platform_replay.definition import (
    ReplayTarget,
    replay_assume_role_policy,
    replay_role_policy,
    replay_role_statements,
    replay_state_machine_definition,
)
from platform_replay.progress import Phase, ProgressReader, QueueDepth, ReplayProgress, start_replay

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
