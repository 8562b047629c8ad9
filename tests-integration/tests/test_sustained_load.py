"""Sustained mixed load through the real platform-local process, audited (issue 11); the full
size is ``uv run python -m tests_integration.load --commands 5000 --clients 16``."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tests_integration.load import (
    CREATED,
    AccountModel,
    Exchange,
    Kind,
    audit,
    model_problems,
    replay_problems,
    run_load,
    store_problems,
    summary,
)
from tests_integration.local_runner import Response, running_platform_local

from platform_events import EventEnvelope

COMMANDS = 400
CLIENTS = 8


@pytest.mark.subprocess
@pytest.mark.slow
def test_mixed_load_leaves_the_store_and_read_models_exact() -> None:
    with running_platform_local() as runner:
        run = run_load(runner.url, COMMANDS, CLIENTS, seed=7)
        result = audit(run, settle_timeout=60)
        report = summary(run, result, runner.database)

    assert result.passed, report
    assert len(run.exchanges) == COMMANDS
    kinds = Counter(e.kind for e in run.exchanges)
    assert set(kinds) == set(Kind), f"kinds never sent: {set(Kind) - set(kinds)}"
    refused = sum(1 for e in run.exchanges if not e.accepted) / COMMANDS
    assert 0.12 < refused < 0.35, report
    statuses = {e.response.status for e in run.exchanges if e.response is not None}
    assert {200, 201, 400, 404, 409, 412, 413, 422} <= statuses
    assert result.events_from_run == sum(
        len(e.response.body["events"])
        for e in run.setup + run.exchanges
        if e.accepted and e.response is not None and e.replay_of is None
    )


# The audit itself must be able to fail: each kind of damage, on hand-made records.
ACCOUNT = str(uuid.uuid4())
AT = datetime(2026, 1, 1, tzinfo=UTC)


def envelope(version: int, event_type: str, payload: dict[str, str]) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id=ACCOUNT,
        aggregate_type="Account",
        version=version,
        occurred_at=AT,
        correlation_id="c",
        payload=dict(payload),
    )


def accepted(events: list[EventEnvelope], amount: str | None = None) -> Exchange:
    body = {
        "account_id": ACCOUNT,
        "version": events[-1].version,
        "events": [
            {"event_id": str(e.event_id), "event_type": e.event_type, "version": e.version}
            for e in events
        ],
    }
    return Exchange(
        client=0,
        sequence=events[0].version,
        kind=Kind.DEPOSIT,
        method="POST",
        path=f"/accounts/{ACCOUNT}/deposits",
        headers={},
        body=b"{}",
        expected=frozenset({CREATED}),
        response=Response(201, {}, body, 0.01),
        amount=None if amount is None else Decimal(amount),
    )


OPENED = envelope(1, "AccountOpened", {"owner": "Ann", "currency": "EUR"})
DEPOSITED = envelope(2, "MoneyDeposited", {"amount": "5.00"})
EXCHANGES = [accepted([OPENED]), accepted([DEPOSITED], "5.00")]


def test_the_audit_accepts_a_faithful_store() -> None:
    assert store_problems(EXCHANGES, [OPENED, DEPOSITED]) == []
    assert model_problems([AccountModel(ACCOUNT, Decimal("5.00"), 2)], [OPENED, DEPOSITED]) == []


def test_the_audit_finds_lost_doubled_invented_and_altered_events() -> None:
    (lost,) = store_problems(EXCHANGES, [OPENED])
    assert "not stored" in lost
    doubled = store_problems(EXCHANGES, [OPENED, DEPOSITED, DEPOSITED])
    assert any("stored 2 times" in problem for problem in doubled)
    invented = envelope(3, "MoneyDeposited", {"amount": "1.00"})
    (orphan,) = store_problems(EXCHANGES, [OPENED, DEPOSITED, invented])
    assert "reported by no 2xx answer" in orphan
    altered = DEPOSITED.model_copy(update={"payload": {"amount": "6.00"}})
    (changed,) = store_problems(EXCHANGES, [OPENED, altered])
    assert "stored amount 6.00" in changed
    (diverged,) = model_problems([AccountModel(ACCOUNT, Decimal("4.00"), 2)], [OPENED, DEPOSITED])
    assert "model" in diverged


def test_the_audit_finds_a_retry_that_was_executed_again() -> None:
    first = EXCHANGES[1]
    again = accepted([envelope(3, "MoneyDeposited", {"amount": "5.00"})], "5.00")
    again.replay_of = first
    problems = replay_problems([first, again])
    assert any("not marked Idempotent-Replayed" in problem for problem in problems)
    assert any("differs from the first answer" in problem for problem in problems)
