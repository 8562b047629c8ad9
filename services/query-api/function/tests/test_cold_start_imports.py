"""The query API's cold start imports only what answering a query needs (checked by module name
in a fresh interpreter, not by time: ``python -m benchmarks cold-start`` measures the time)."""

from __future__ import annotations

from query_api.settings import HANDLER

from platform_testing.imports import NEVER_AT_RUNTIME, after_import, handler_module


def test_the_handler_imports_no_tooling_tests_tracing_or_write_side() -> None:
    state = after_import(handler_module(HANDLER))
    assert "query_api" in state.packages
    # Tracing is off unless TRACING_ENABLED: the X-Ray SDK (in NEVER_AT_RUNTIME) stays unloaded.
    assert state.packages.isdisjoint(NEVER_AT_RUNTIME)
    assert state.packages.isdisjoint({"platform_events", "platform_projections", "account_events"})


def test_the_handler_resumes_the_collector_and_freezes_what_its_import_made() -> None:
    state = after_import(handler_module(HANDLER))
    assert state.collecting
    assert state.frozen > 0
