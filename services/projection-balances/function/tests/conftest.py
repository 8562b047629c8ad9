"""Fixtures: migrated databases (Postgres and SQLite), an event store, Lambda-shaped SQS events and
an independent reference fold of the event store (what the read model must equal)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from platform_projections import InMemoryEventStore
from platform_sql import GENERATION, DatabaseConfig, create_database_engine, in_active_generation
from projection_balances.migrate import run
from projection_balances.model import accounts
from projection_balances.settings import MigrationSettings
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL

import account_events  # noqa: F401 - registers the event types
from account_events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn
from platform_events import EventEnvelope, default_registry
from platform_testing.lambda_events import LambdaContext, sqs_record

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _migrated(url: str, **config: Any) -> Engine:
    engine = create_database_engine(DatabaseConfig(url=url, **config))
    run(MigrationSettings(database=DatabaseConfig(url=url, **config)), engine=engine)
    return engine


@pytest.fixture
def postgres_engine(database_url: URL) -> Iterator[Engine]:
    """A fresh database with the balances schema migrated (as the owner: the test's superuser)."""
    engine = _migrated(database_url.render_as_string(hide_password=False), pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The local runner's layout: a main database with ``balances`` ATTACHed from its own file."""
    engine = _migrated(
        f"sqlite:///{tmp_path / 'main.db'}", attach={"balances": str(tmp_path / "balances.db")}
    )
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgres", "sqlite"])
def engine(request: pytest.FixtureRequest) -> Engine:
    found: Engine = request.getfixturevalue(f"{request.param}_engine")
    return found


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def account(store: InMemoryEventStore) -> Callable[..., list[EventEnvelope]]:
    """``account("d10", "w2.50", "c")``: a new account's events (d/w amounts, c closes), stored.

    Histories need not obey the command rules, so tests can build what only a bug could write.
    """

    def make(*steps: str, owner: str = "ann", currency: str = "EUR") -> list[EventEnvelope]:
        payloads: list[Any] = [AccountOpened(owner=owner, currency=currency)]
        for step in steps:
            if step == "c":
                payloads.append(AccountClosed())
            elif step[0] == "d":
                payloads.append(MoneyDeposited(amount=Decimal(step[1:]), reference=f"ref {step}"))
            else:
                payloads.append(MoneyWithdrawn(amount=Decimal(step[1:])))
        return append_history(store, payloads)

    return make


def append_history(store: InMemoryEventStore, payloads: Sequence[Any]) -> list[EventEnvelope]:
    stream_id = str(uuid.uuid4())
    events = [
        default_registry.envelope(
            payload,
            stream_id=stream_id,
            version=version,
            occurred_at=START + timedelta(minutes=version),
            correlation_id=f"corr-{stream_id}",
        )
        for version, payload in enumerate(payloads, start=1)
    ]
    for envelope in events:
        store.append(envelope)
    return events


@pytest.fixture
def history_of() -> Callable[[InMemoryEventStore, Sequence[Any]], list[EventEnvelope]]:
    return append_history


@pytest.fixture
def record() -> Callable[..., dict[str, Any]]:
    """An SQS record in Lambda's event shape (raw delivery, or SNS-wrapped with ``sns=True``)."""
    return functools.partial(sqs_record, queue="balances-live.fifo")


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext("projection-balances")


def reference_fold(events: Sequence[EventEnvelope]) -> dict[str, Any] | None:
    """The row an account's events should produce, computed from the envelopes' JSON alone
    (independently of the projection's own apply functions)."""
    row: dict[str, Any] | None = None
    for event in events:
        payload = event.payload
        if event.event_type == "AccountOpened":
            row = {
                "account_id": event.stream_id,
                "owner": payload["owner"],
                "currency": payload["currency"],
                "balance": Decimal("0.00"),
                "status": "open",
            }
        assert row is not None
        if event.event_type == "MoneyDeposited":
            row["balance"] += Decimal(str(payload["amount"]))
        elif event.event_type == "MoneyWithdrawn":
            row["balance"] -= Decimal(str(payload["amount"]))
        elif event.event_type == "AccountClosed":
            row["status"] = "closed"
        row["version"] = event.version
        row["updated_at"] = event.occurred_at
    return row


@pytest.fixture
def fold() -> Callable[[Sequence[EventEnvelope]], dict[str, Any] | None]:
    return reference_fold


def read_model(
    engine: Engine, account_ids: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """What the query side sees: the active generation's rows, without the generation."""
    columns = [column for column in accounts.columns if column.name != GENERATION]
    query = select(*columns).where(in_active_generation(accounts))
    if account_ids is not None:
        query = query.where(accounts.c.account_id.in_(list(account_ids)))
    with engine.connect() as connection:
        return {row.account_id: dict(row._mapping) for row in connection.execute(query)}


@pytest.fixture
def model() -> Callable[..., dict[str, dict[str, Any]]]:
    """The rows of ``balances.accounts`` a reader sees (optionally only some accounts), by id."""
    return read_model
