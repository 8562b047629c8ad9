"""The handler's cold start imports only what serving a command needs (checked by module name
in a fresh interpreter, not by time: ``python -m benchmarks cold-start`` measures the time)."""

from __future__ import annotations

from command_api.settings import HANDLER

from platform_testing.imports import NEVER_AT_RUNTIME, after_import, handler_module


def test_the_handler_imports_no_tooling_tests_tracing_or_database() -> None:
    state = after_import(handler_module(HANDLER))
    assert "command_api" in state.packages
    assert state.packages.isdisjoint(NEVER_AT_RUNTIME)
    assert state.packages.isdisjoint({"sqlalchemy", "psycopg", "platform_sql"})
    # The API routes its four operations itself: powertools' event handler package loads every
    # resolver it has (AppSync, Bedrock agents ... and asyncio).
    assert "aws_lambda_powertools.event_handler" not in state.modules
    assert "asyncio" not in state.modules


def test_the_handler_resumes_the_collector_and_freezes_what_its_import_made() -> None:
    state = after_import(handler_module(HANDLER))
    assert state.collecting
    assert state.frozen > 0
