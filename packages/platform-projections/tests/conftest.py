"""A small projection ("ledger": deposits per account) to exercise the runtime on both databases.

It handles AccountOpened and MoneyDeposited only, so withdrawals and closures reach it as gaps it
must step over; a deposit with reference "boom" makes its apply function raise (an apply bug),
and a CHECK constraint rejects totals of a million or more (a row the database refuses).

It is also bound as a projection service ("ledger-service": settings and a migration entry point,
as a service's ``settings`` and ``migrate`` modules bind theirs), for the contract tests every
projection service relies on (test_service, test_migration_entry, test_roles).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from platform_projections import (
    Event,
    InMemoryEventStore,
    Migration,
    Projection,
    RowPerStream,
    generation_column,
    migrate,
    on,
)
from platform_projections.migration_entry import MigrationEntryPoint
from platform_projections.service import ProjectionMigrationSettings, ProjectionSettings
from platform_replay.control import CONTROL_GROUP, ControlAction, ReplayControl
from platform_sql import DatabaseConfig, Money, create_database_engine
from sqlalchemy import BigInteger, CheckConstraint, Column, Engine, Integer, MetaData, Table, Text
from sqlalchemy.engine import URL

import account_events  # noqa: F401 - registers the event types
from account_events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn
from platform_events import EventEnvelope, default_registry, layout
from platform_events.messaging import replay_page_body
from platform_testing.lambda_events import sqs_record

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

metadata = MetaData(schema="ledger")
totals = Table(
    "totals",
    metadata,
    generation_column(),
    Column("stream_id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("deposits", Integer, nullable=False),
    Column("total", Money, nullable=False),
    Column("version", BigInteger, nullable=False),
    CheckConstraint("deposits < 1000", name="ck_totals_deposits"),
)


@dataclass(frozen=True)
class Total:
    stream_id: str
    owner: str
    deposits: int
    total: Decimal
    version: int


class Boom(Exception):
    pass


def opened(state: Total | None, event: Event[AccountOpened]) -> Total:
    return Total(event.stream_id, event.payload.owner, 0, Decimal("0.00"), event.version)


def deposited(state: Total | None, event: Event[MoneyDeposited]) -> Total:
    assert state is not None
    if event.payload.reference == "boom":
        raise Boom(f"cannot take {event.event_id}")
    # "many" stands for a row the database refuses (the CHECK constraint), not the code.
    deposits = 5000 if event.payload.reference == "many" else state.deposits + 1
    return replace(
        state,
        deposits=deposits,
        total=state.total + event.payload.amount,
        version=event.version,
    )


LEDGER = Projection(
    name="ledger",
    metadata=metadata,
    store=RowPerStream(totals, Total, key="stream_id"),
    handlers=(on(AccountOpened, opened), on(MoneyDeposited, deposited)),
)
LEDGER_MIGRATIONS = (Migration(1, "totals", lambda connection, _schema: totals.create(connection)),)


class LedgerSettings(ProjectionSettings):
    default_schema = "ledger"
    service_name = "ledger-service"


class LedgerMigrationSettings(ProjectionMigrationSettings):
    default_schema = "ledger"
    service_name = "ledger-service"


LEDGER_ENTRY = MigrationEntryPoint(LEDGER, LEDGER_MIGRATIONS, LedgerMigrationSettings)


@pytest.fixture
def ledger_settings() -> type[LedgerSettings]:
    """The ledger's projection function settings, as a service's ``settings.Settings``."""
    return LedgerSettings


@pytest.fixture
def ledger_migration_settings() -> type[LedgerMigrationSettings]:
    """The ledger's migration settings, as a service's ``settings.MigrationSettings``."""
    return LedgerMigrationSettings


@pytest.fixture
def ledger_entry() -> MigrationEntryPoint:
    """The ledger's migration entry point, as a service's ``migrate`` module exposes it."""
    return LEDGER_ENTRY


@pytest.fixture
def ledger() -> Projection[Total]:
    return LEDGER


@pytest.fixture
def ledger_migrations() -> tuple[Migration, ...]:
    return LEDGER_MIGRATIONS


@pytest.fixture
def sqlite_engine() -> Iterator[Engine]:
    engine = create_database_engine(DatabaseConfig(url="sqlite://", attach={"ledger": ":memory:"}))
    migrate(engine, LEDGER, LEDGER_MIGRATIONS)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(database_url: URL) -> Iterator[Engine]:
    engine = create_database_engine(
        DatabaseConfig(url=database_url.render_as_string(hide_password=False), pool_size=4)
    )
    migrate(engine, LEDGER, LEDGER_MIGRATIONS)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The ledger, migrated, on each database."""
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    found: Engine = request.getfixturevalue(name)
    return found


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def history(store: InMemoryEventStore) -> Callable[..., list[EventEnvelope]]:
    """``history("d10", "w5", "d1:boom", "c")``: a new account's events, appended to the store.

    d = deposit, w = withdrawal, c = close; ``:ref`` sets the reference.
    """

    def make(*steps: str, owner: str = "ann") -> list[EventEnvelope]:
        stream_id = str(uuid.uuid4())
        payloads: list[Any] = [AccountOpened(owner=owner, currency="EUR")]
        for step in steps:
            kind, _, reference = step.partition(":")
            amount = Decimal(kind[1:] or "0")
            if kind[0] == "d":
                payloads.append(MoneyDeposited(amount=amount, reference=reference or None))
            elif kind[0] == "w":
                payloads.append(MoneyWithdrawn(amount=amount, reference=reference or None))
            else:
                payloads.append(AccountClosed())
        events = [
            default_registry.envelope(
                payload,
                stream_id=stream_id,
                version=version,
                occurred_at=START + timedelta(seconds=version),
                correlation_id=f"corr-{stream_id}",
            )
            for version, payload in enumerate(payloads, start=1)
        ]
        for event in events:
            store.append(event)
        return events

    return make


@pytest.fixture
def record() -> Callable[..., dict[str, Any]]:
    """An SQS record in Lambda's event shape, raw delivery or wrapped by SNS."""

    return functools.partial(sqs_record, queue="ledger-live.fifo")


@pytest.fixture
def garbage() -> Callable[[str], dict[str, Any]]:
    """A record whose body is not an envelope, in message group ``group``."""

    def make(group: str) -> dict[str, Any]:
        return {
            "messageId": f"garbage-{uuid.uuid4()}",
            "body": '{"not": "an envelope"}',
            "attributes": {"MessageGroupId": group},
        }

    return make


@pytest.fixture
def page_records() -> Callable[..., list[dict[str, Any]]]:
    """The replay pages a replay state machine sends for ``envelopes``: per replay index
    partition (the FIFO group), in replay-sort order (stream, then version), ``page_size``
    events per message; partitions in sorted order."""

    def make(envelopes: list[EventEnvelope], page_size: int = 3) -> list[dict[str, Any]]:
        partitions: dict[str, list[EventEnvelope]] = {}
        for envelope in envelopes:
            partition = layout.replay_partition(
                envelope.aggregate_type, layout.replay_shard_of(envelope.stream_id)
            )
            partitions.setdefault(partition, []).append(envelope)
        records = []
        for partition, found in sorted(partitions.items()):
            ordered = sorted(found, key=lambda e: (e.stream_id, e.version))
            for start in range(0, len(ordered), page_size):
                page = ordered[start : start + page_size]
                records.append(
                    {
                        "messageId": f"page-{partition}-{start}-{uuid.uuid4()}",
                        "body": replay_page_body(page),
                        "attributes": {"MessageGroupId": partition},
                    }
                )
        return records

    return make


@pytest.fixture
def control_record() -> Callable[..., dict[str, Any]]:
    """A rebuild's control message, as the replay state machine sends it."""

    def make(action: str, rebuild: str, *, message_id: str | None = None) -> dict[str, Any]:
        return {
            "messageId": message_id or f"{action}-{uuid.uuid4()}",
            "body": ReplayControl(ControlAction(action), rebuild).body(),
            "attributes": {"MessageGroupId": CONTROL_GROUP},
        }

    return make
