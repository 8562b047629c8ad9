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
from projection_transactions.migrate import run
from projection_transactions.model import transactions
from projection_transactions.settings import MigrationSettings
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
    """A fresh database with the transactions schema migrated (as the owner: the superuser)."""
    engine = _migrated(database_url.render_as_string(hide_password=False), pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The local runner's layout: a main database with ``transactions`` ATTACHed from its file."""
    engine = _migrated(
        f"sqlite:///{tmp_path / 'main.db'}",
        attach={"transactions": str(tmp_path / "transactions.db")},
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


def payloads_of(steps: Sequence[str]) -> list[Any]:
    """``("d10", "w2.50", "c")`` -> an opened account's payloads: d/w amounts, c closes."""
    payloads: list[Any] = [AccountOpened(owner="ann", currency="EUR")]
    for step in steps:
        if step == "c":
            payloads.append(AccountClosed())
        elif step[0] == "d":
            payloads.append(MoneyDeposited(amount=Decimal(step[1:]), reference=f"ref {step}"))
        else:
            payloads.append(MoneyWithdrawn(amount=Decimal(step[1:])))
    return payloads


@pytest.fixture
def account(store: InMemoryEventStore) -> Callable[..., list[EventEnvelope]]:
    """``account("d10", "w2.50", "c")``: a new account's events (version 1 is AccountOpened),
    stored in the event store. Histories need not obey the command rules."""

    def make(*steps: str) -> list[EventEnvelope]:
        return append_history(store, payloads_of(steps))

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
    return functools.partial(sqs_record, queue="transactions-live.fifo")


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext("projection-transactions")


def subscribed(events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
    """What the live queue receives of a stream: its filter policy lets only money through."""
    return [e for e in events if e.event_type in {"MoneyDeposited", "MoneyWithdrawn"}]


@pytest.fixture
def only_subscribed() -> Callable[[Sequence[EventEnvelope]], list[EventEnvelope]]:
    return subscribed


def reference_fold(events: Sequence[EventEnvelope]) -> list[dict[str, Any]]:
    """The rows an account's events should produce, computed from the envelopes' JSON alone
    (independently of the projection's own apply functions)."""
    rows: list[dict[str, Any]] = []
    balance = Decimal("0.00")
    for event in events:
        if event.event_type not in {"MoneyDeposited", "MoneyWithdrawn"}:
            continue
        amount = Decimal(str(event.payload["amount"]))
        deposit = event.event_type == "MoneyDeposited"
        balance += amount if deposit else -amount
        rows.append(
            {
                "account_id": event.stream_id,
                "version": event.version,
                "event_id": str(event.event_id),
                "type": "deposit" if deposit else "withdrawal",
                "amount": amount,
                "balance_after": balance,
                "reference": _storable(event.payload.get("reference")),
                "occurred_at": event.occurred_at,
            }
        )
    return rows


def _storable(reference: str | None) -> str | None:
    # Postgres text cannot hold NUL: the model keeps U+FFFD in its place (on both databases).
    return None if reference is None else reference.replace("\x00", "\ufffd")


@pytest.fixture
def fold() -> Callable[[Sequence[EventEnvelope]], list[dict[str, Any]]]:
    return reference_fold


def read_model(engine: Engine, account_ids: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """What the query side sees: the active generation's rows, without the generation."""
    columns = [column for column in transactions.columns if column.name != GENERATION]
    query = (
        select(*columns)
        .where(in_active_generation(transactions))
        .order_by(transactions.c.account_id, transactions.c.version)
    )
    if account_ids is not None:
        query = query.where(transactions.c.account_id.in_(list(account_ids)))
    found: dict[str, list[dict]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            found.setdefault(row.account_id, []).append(dict(row._mapping))
    return found


@pytest.fixture
def model() -> Callable[..., dict[str, list[dict[str, Any]]]]:
    """The rows of ``transactions.transactions`` a reader sees (optionally only some accounts),
    per account, oldest first."""
    return read_model
