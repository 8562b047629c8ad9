"""Fixtures for platform_events tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import account_events
from platform_events import EventEnvelope, EventRegistry, default_registry


@pytest.fixture
def envelope() -> EventEnvelope:
    return default_registry.envelope(
        account_events.MoneyDeposited(amount=Decimal("12.50"), reference="salary"),
        stream_id="5b0c6f43-8a51-4a8e-9f3c-1f6c2e1f0a11",
        version=3,
        occurred_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC) + timedelta(microseconds=7),
        correlation_id="req-1",
        causation_id="cmd-1",
    )


@pytest.fixture
def registry() -> EventRegistry:
    return EventRegistry()
