"""The relay's cold start imports only what relaying needs (checked by module name in a fresh
interpreter, not by time: ``python -m benchmarks cold-start`` measures the time)."""

from __future__ import annotations

from stream_relay.settings import HANDLER

from platform_testing.imports import NEVER_AT_RUNTIME, after_import, handler_module


def test_the_relay_imports_no_tooling_tests_tracing_domain_or_database() -> None:
    state = after_import(handler_module(HANDLER))
    assert "stream_relay" in state.packages
    assert state.packages.isdisjoint(NEVER_AT_RUNTIME)
    # Domain-neutral (envelopes carry their canonical text), and no database.
    assert state.packages.isdisjoint({"account_events", "sqlalchemy", "psycopg", "platform_sql"})
    # powertools' event handler package loads every resolver it has (AppSync, Bedrock ...).
    assert "aws_lambda_powertools.event_handler" not in state.modules


def test_the_relay_resumes_the_collector_and_freezes_what_its_import_made() -> None:
    state = after_import(handler_module(HANDLER))
    assert state.collecting
    assert state.frozen > 0
