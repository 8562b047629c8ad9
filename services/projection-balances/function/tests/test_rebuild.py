"""A rebuild of balances through its Lambda handler, as the replay state machine drives it: begin,
replay pages into a new generation while readers keep the active one, promote; and the upgrade
of a database migrated before generations existed."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from platform_projections import Projector, migrate, runtime_tables, schema_drift
from platform_projections.lambda_handler import make_lambda_handler
from platform_projections.migrations import runtime_migrations
from platform_replay.control import CONTROL_GROUP, ControlAction, ReplayControl
from platform_sql import DatabaseConfig, create_database_engine
from projection_balances.migrate import run
from projection_balances.migrations import MIGRATIONS
from projection_balances.projection import PROJECTION
from projection_balances.settings import MigrationSettings
from sqlalchemy import insert, select, text

from account_events import MoneyDeposited
from platform_events import default_registry, layout, replay_page_body


def control(action: str, rebuild: str) -> dict:
    return {
        "messageId": f"{action}-{uuid.uuid4()}",
        "body": ReplayControl(ControlAction(action), rebuild).body(),
        "attributes": {"MessageGroupId": CONTROL_GROUP},
    }


def pages(envelopes, size: int = 2) -> list[dict]:
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


def test_a_rebuild_through_the_handler_swaps_the_whole_model_at_once(
    engine, store, account, record, context, model, fold
):
    first = account("d10", "w4")
    second = account("d1", "c", owner="bob")
    handler = make_lambda_handler(lambda: Projector(PROJECTION, engine, store), projection="b")
    # Serving: the first account, and the second as it was opened (the rest waits, live paused).
    handler({"Records": [record(e) for e in [*first, second[0]]]}, context)
    serving = model(engine)

    for batch in ([control("begin", "r")], pages([*first, *second])):
        assert handler({"Records": batch}, context) == {"batchItemFailures": []}
        assert model(engine) == serving

    assert handler({"Records": [control("promote", "r")]}, context) == {"batchItemFailures": []}
    assert model(engine) == {events[0].stream_id: fold(events) for events in (first, second)}


@pytest.fixture(params=["postgres", "sqlite"])
def released_engine(request, tmp_path: Path):
    """A database as the release before generations left it: accounts and positions in the old
    shape, with rows."""
    if request.param == "postgres":
        url = request.getfixturevalue("database_url").render_as_string(hide_password=False)
        engine = create_database_engine(DatabaseConfig(url=url))
    else:
        engine = create_database_engine(
            DatabaseConfig(
                url=f"sqlite:///{tmp_path / 'main.db'}",
                attach={"balances": str(tmp_path / "balances.db")},
            )
        )
    tables = runtime_tables("balances")
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("CREATE SCHEMA balances"))
        runtime_migrations(PROJECTION)[0].apply(connection, "balances")
        MIGRATIONS[0].apply(connection, "balances")
        tables.migrations.create(connection)
        for track, version, name in (
            ("runtime", 1, "stream positions"),
            ("projection", 1, "accounts"),
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
    with released_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO balances.accounts (account_id, owner, currency, balance, status,"
                " version, updated_at) VALUES (:id, 'ann', 'EUR', :balance, 'open', 3, :at)"
            ),
            {"id": events[0].stream_id, "balance": "5.00", "at": events[2].occurred_at},
        )
        connection.execute(
            text("INSERT INTO balances.stream_positions (stream_id, version) VALUES (:id, 3)"),
            {"id": events[0].stream_id},
        )

    report = run(settings, engine=released_engine)

    assert report.applied == ("runtime:2 generations", "projection:2 accounts by generation")
    with released_engine.connect() as connection:
        assert schema_drift(connection, PROJECTION, "balances") == []
        assert connection.execute(select(runtime_tables("balances").positions)).all()[0][:3] == (
            1,
            events[0].stream_id,
            3,
        )
    assert model(released_engine) == {events[0].stream_id: fold(events)}
    # The projection carries on from its positions: v4 is folded on top, nothing twice.
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
    assert migrate(released_engine, PROJECTION, MIGRATIONS).applied == ()
