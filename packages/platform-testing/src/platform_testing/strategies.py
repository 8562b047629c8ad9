"""Hypothesis strategies for envelopes of the sample domain, shared by every member's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

import account_events
from platform_events import EventEnvelope, default_registry

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
)
money = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("1000000000000"), places=2, allow_nan=False
)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - the zone is added by `timezones`
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def account_payloads(draw: st.DrawFn) -> Any:
    """Any of the four account event payloads, with valid field values."""
    kind = draw(st.sampled_from(["opened", "deposited", "withdrawn", "closed"]))
    if kind == "opened":
        return account_events.AccountOpened(
            owner=draw(st.text(min_size=1, max_size=200)),
            currency=draw(st.from_regex(r"\A[A-Z]{3}\Z")),
        )
    if kind == "closed":
        return account_events.AccountClosed()
    model = account_events.MoneyDeposited if kind == "deposited" else account_events.MoneyWithdrawn
    return model(amount=draw(money), reference=draw(st.none() | text))


@st.composite
def envelopes(draw: st.DrawFn) -> EventEnvelope:
    """Envelopes of account events with arbitrary ids, unicode and metadata."""
    return default_registry.envelope(
        draw(account_payloads()),
        stream_id=draw(text),
        version=draw(st.integers(1, 10**9)),
        occurred_at=draw(timestamps),
        correlation_id=draw(text),
        causation_id=draw(st.none() | text),
        event_id=draw(st.uuids()),
        metadata=draw(st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=4)),
    )
