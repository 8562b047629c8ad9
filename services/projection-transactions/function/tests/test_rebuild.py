"""A rebuild of transactions through its Lambda handler, as the replay state machine drives it:
begin, replay pages into a new generation while readers keep the active one, promote. The pages
carry only the projection's event types (the replay filters on them), so every account's
AccountOpened comes from the event store in the new generation too. And the upgrade of a database
migrated before generations existed."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from platform_projections import Projector, migrate, runtime_tables, schema_drift
from platform_projections.lambda_handler import make_lambda_handler
from platform_projections.migrations import runtime_migrations
from platform_replay.control import CONTROL_GROUP, ControlAction, ReplayControl
from platform_sql import DatabaseConfig, Money, UtcDateTime, create_database_engine
from projection_transactions.migrate import run
from projection_transactions.migrations import MIGRATIONS
from projection_transactions.projection import PROJECTION
from projection_transactions.settings import MigrationSettings
from sqlalchemy import BigInteger, Text, column, insert, select, table, text

from account_events import MoneyDeposited
from platform_events import default_registry, layout, replay_page_body


def control(action: str, rebuild: str) -> dict:
    return {
        "messageId": f"{action}-{uuid.uuid4()}",
        "body": ReplayControl(ControlAction(action), rebuild).body(),
        "attributes": {"MessageGroupId": CONTROL_GROUP},
    }


def pages(envelopes, size: int = 2) -> list[dict]:
    """Replay pages as the state machine sends them: per index partition, in stream order."""
    by_partition: dict[str, list] = {}
    for envelope in envelopes:
        shard = layout.replay_shard_of(envelope.stream_id)
        partition = layout.replay_partition(envelope.aggregate_type, shard)
        by_partition.setdefault(partition, []).append(envelope)
    records = []
    for partition, found in sorted(by_partition.items()):
        ordered = sorted(found, key=lambda e: (e.stream_id, e.version))
        for start in range(0, len(ordered), size):
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "body": replay_page_body(ordered[start : start + size]),
                    "attributes": {"MessageGroupId": partition},
                }
            )
    return records


def test_a_rebuild_through_the_handler_swaps_the_whole_history_at_once(
    engine, store, account, record, context, model, fold, only_subscribed
):
    first = account("d10", "w4", "d1")
    second = account("d1", "w1", "c")
    handler = make_lambda_handler(
        lambda: Projector(PROJECTION, engine, store), projection="transactions"
    )
    # Serving: the first account's first movement only (the rest waits, live paused).
    handler({"Records": [record(first[1])]}, context)
    serving = model(engine)
    assert serving == {first[0].stream_id: fold(first[:2])}

    replayed = pages(only_subscribed([*first, *second]))
    for batch in ([control("begin", "r")], *[[page] for page in replayed]):
        assert handler({"Records": batch}, context) == {"batchItemFailures": []}
        assert model(engine) == serving

    assert handler({"Records": [control("promote", "r")]}, context) == {"batchItemFailures": []}
    assert model(engine) == {events[0].stream_id: fold(events) for events in (first, second)}


@pytest.fixture(params=["postgres", "sqlite"])
def released_engine(request, tmp_path: Path):
    """A database as the release before generations left it: transactions and positions in the
    old shape, with rows."""
    if request.param == "postgres":
        url = request.getfixturevalue("database_url").render_as_string(hide_password=False)
        engine = create_database_engine(DatabaseConfig(url=url))
    else:
        engine = create_database_engine(
            DatabaseConfig(
                url=f"sqlite:///{tmp_path / 'main.db'}",
                attach={"transactions": str(tmp_path / "transactions.db")},
            )
        )
    tables = runtime_tables("transactions")
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("CREATE SCHEMA transactions"))
        runtime_migrations(PROJECTION)[0].apply(connection, "transactions")
        MIGRATIONS[0].apply(connection, "transactions")
        tables.migrations.create(connection)
        for track, version, name in (
            ("runtime", 1, "stream positions"),
            ("projection", 1, "transactions"),
        ):
            connection.execute(
                insert(tables.migrations).values(
                    track=track, version=version, name=name, applied_at=text("CURRENT_TIMESTAMP")
                )
            )
    yield engine
    engine.dispose()


def test_a_database_migrated_before_generations_keeps_every_row_in_generation_one(
    released_engine, store, account, record, model, fold
):
    events = account("d7", "w2")
    settings = MigrationSettings(database=DatabaseConfig(url="sqlite://"))
    # The table's first shape, without a generation (the columns the test writes).
    released = table(
        "transactions",
        column("account_id", Text),
        column("version", BigInteger),
        column("event_id", Text),
        column("type", Text),
        column("amount", Money()),
        column("balance_after", Money()),
        column("reference", Text),
        column("occurred_at", UtcDateTime()),
        schema="transactions",
    )
    with released_engine.begin() as connection:
        connection.execute(
            insert(released).values(
                [
                    {
                        "account_id": event.stream_id,
                        "version": event.version,
                        "event_id": str(event.event_id),
                        "type": kind,
                        "amount": Decimal(amount),
                        "balance_after": Decimal(after),
                        "reference": event.payload.get("reference"),
                        "occurred_at": event.occurred_at,
                    }
                    for event, kind, amount, after in (
                        (events[1], "deposit", "7.00", "7.00"),
                        (events[2], "withdrawal", "2.00", "5.00"),
                    )
                ]
            )
        )
        connection.execute(
            text("INSERT INTO transactions.stream_positions (stream_id, version) VALUES (:id, 3)"),
            {"id": events[0].stream_id},
        )

    report = run(settings, engine=released_engine)

    assert report.applied == (
        "runtime:2 generations",
        "projection:2 transactions by generation",
    )
    with released_engine.connect() as connection:
        assert schema_drift(connection, PROJECTION, "transactions") == []
        assert connection.execute(select(runtime_tables("transactions").positions)).all()[0][
            :3
        ] == (1, events[0].stream_id, 3)
    assert model(released_engine) == {events[0].stream_id: fold(events)}
    # The projection carries on from its positions and its last row: v4 chains on 5.00.
    later = default_registry.envelope(
        MoneyDeposited(amount=Decimal("1.25")),
        stream_id=events[0].stream_id,
        version=4,
        occurred_at=events[2].occurred_at,
        correlation_id="later",
    )
    store.append(later)
    projector = Projector(PROJECTION, released_engine, store)
    assert projector.handle([record(e) for e in [*events, later]]).applied == 1
    assert model(released_engine) == {events[0].stream_id: fold([*events, later])}
    assert model(released_engine)[events[0].stream_id][-1]["balance_after"] == Decimal("6.25")
    assert migrate(released_engine, PROJECTION, MIGRATIONS).applied == ()
