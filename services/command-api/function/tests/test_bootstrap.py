"""Settings from the environment, the composition root, and the Lambda entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest
from command_api import handler as handler_module
from command_api.bootstrap import build
from command_api.settings import (
    EVENT_STORE_TABLE_ENV,
    IDEMPOTENCY_TTL_SECONDS_ENV,
    MAX_APPEND_ATTEMPTS_ENV,
    METRICS_NAMESPACE_ENV,
    SERVICE_NAME_ENV,
    TRACING_ENABLED_ENV,
    Settings,
)
from pydantic import ValidationError


def test_settings_read_their_variables() -> None:
    settings = Settings.from_environ(
        {
            EVENT_STORE_TABLE_ENV: "events",
            IDEMPOTENCY_TTL_SECONDS_ENV: "600",
            MAX_APPEND_ATTEMPTS_ENV: "3",
            TRACING_ENABLED_ENV: "true",
            SERVICE_NAME_ENV: "commands",
            METRICS_NAMESPACE_ENV: "bank",
            "UNRELATED": "ignored",
        }
    )
    assert settings == Settings(
        event_store_table="events",
        idempotency_ttl_seconds=600,
        max_append_attempts=3,
        tracing_enabled=True,
        service_name="commands",
        metrics_namespace="bank",
    )


def test_only_the_table_is_required() -> None:
    settings = Settings.from_environ({EVENT_STORE_TABLE_ENV: "events"})
    assert settings.max_append_attempts == 5
    assert settings.idempotency_ttl.total_seconds() == 24 * 3600
    assert settings.tracing_enabled is False
    with pytest.raises(ValidationError):
        Settings.from_environ({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (MAX_APPEND_ATTEMPTS_ENV, "0"),
        (IDEMPOTENCY_TTL_SECONDS_ENV, "soon"),
        (TRACING_ENABLED_ENV, "maybe"),
    ],
)
def test_bad_settings_fail_at_cold_start(name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_environ({EVENT_STORE_TABLE_ENV: "events", name: value})


def test_the_entry_point_wires_itself_from_the_environment_once(
    api, dynamodb, table_name, monkeypatch
) -> None:
    monkeypatch.setenv(EVENT_STORE_TABLE_ENV, table_name)
    handler_module.wired.cache_clear()
    try:
        api.handler = handler_module.lambda_handler
        first = api.open()
        second = api.open()
        assert (first.status, second.status) == (201, 201)
        assert handler_module.wired.cache_info().misses == 1
    finally:
        handler_module.wired.cache_clear()


def test_tracing_wraps_the_handler_when_enabled(settings, dynamodb, api) -> None:
    traced = settings.model_copy(update={"tracing_enabled": True})
    api.handler = build(traced, dynamodb=dynamodb)
    assert api.open().status == 201


def test_importing_the_handler_leaves_the_x_ray_sdk_unloaded() -> None:
    # The SDK costs about as much import time as boto3; only tracing loads it.
    probe = "import sys, command_api.handler; print('aws_xray_sdk' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "False"
