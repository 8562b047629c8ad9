"""The projection's two functions import only what they need on a cold start (checked by module
name in a fresh interpreter, not by time: ``python -m benchmarks cold-start`` measures the time)."""

from __future__ import annotations

import pytest
from projection_transactions.settings import HANDLER, MIGRATION_HANDLER

from platform_testing.imports import NEVER_AT_RUNTIME, after_import, handler_module

REPLAY_MACHINERY = {"platform_replay.definition", "platform_replay.progress", "platform_replay.cli"}
"""The state machine's definition and the progress reader: the replay's, not the function's (it
applies control messages, ``platform_replay.control``, only)."""


@pytest.mark.parametrize("handler", [HANDLER, MIGRATION_HANDLER])
def test_no_tooling_tests_tracing_or_replay_machinery(handler: str) -> None:
    state = after_import(handler_module(handler))
    assert "projection_transactions" in state.packages
    assert state.packages.isdisjoint(NEVER_AT_RUNTIME)
    assert state.modules.isdisjoint(REPLAY_MACHINERY)


def test_the_projection_function_does_not_load_the_migration_entry_point() -> None:
    state = after_import(handler_module(HANDLER))
    assert "platform_projections.migration_entry" not in state.modules
    assert "argparse" not in state.modules


@pytest.mark.parametrize("handler", [HANDLER, MIGRATION_HANDLER])
def test_the_collector_resumes_and_what_the_import_made_is_frozen(handler: str) -> None:
    state = after_import(handler_module(handler))
    assert state.collecting
    assert state.frozen > 0
