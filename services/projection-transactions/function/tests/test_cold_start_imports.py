"""The projection's two functions import only what they need on a cold start (checked by module
name in a fresh interpreter, not by time: ``python -m benchmarks cold-start`` measures the time)."""

from __future__ import annotations

from projection_transactions.settings import HANDLER, MIGRATION_HANDLER

from platform_testing.imports import assert_projection_function_imports


def test_no_tooling_tests_tracing_replay_machinery_or_collector_left_paused() -> None:
    assert_projection_function_imports("projection_transactions", HANDLER, MIGRATION_HANDLER)
