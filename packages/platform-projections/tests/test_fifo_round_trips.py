"""What a live batch costs in statements on Postgres, and reads that follow a physical schema.

Each statement is a round trip (and its share of server and SQLAlchemy overhead), which is what
bounds a FIFO batch of 10 messages: the batch keeps its guarantees (control row read under a
share lock, positions locked in one order, states consistent with them, one write per key) in
two statements, and these tests keep it that way."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from platform_projections import Projector, migrate, read_positions, runtime_tables
from platform_projections.service import PING_AFTER_IDLE_SECONDS
from platform_sql import DatabaseConfig, create_database_engine
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

pytestmark = pytest.mark.postgres

FIFO_BATCH = 10
STATEMENTS_PER_FIFO_BATCH = 2
"""Read the control row, lock the positions and load the states; write states and positions
(BEGIN and COMMIT are the driver's, not statements)."""


def test_a_fifo_batch_of_live_messages_takes_two_statements(
    postgres_engine, ledger, store, history, record
):
    accounts = [history("d1", "d2", "d3") for _ in range(3)]
    projector = Projector(ledger, postgres_engine, store)
    # Opened first, so the batch below updates existing rows and positions.
    projector.handle([record(events[0]) for events in accounts])
    later = [record(e) for version in range(1, 4) for events in accounts for e in [events[version]]]
    batch = [*later, record(history()[0])][:FIFO_BATCH]
    assert len(batch) == FIFO_BATCH
    statements: list[str] = []

    @event.listens_for(postgres_engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    result = projector.handle(batch)

    assert result.failed_message_ids == ()
    assert result.applied == FIFO_BATCH
    assert len(statements) <= STATEMENTS_PER_FIFO_BATCH, statements
    with postgres_engine.connect() as connection:
        totals = connection.execute(text("SELECT total, version FROM ledger.totals")).all()
    assert sorted(totals) == [(Decimal("0.00"), 1)] + [(Decimal("6.00"), 4)] * 3


def test_the_control_read_and_the_position_lock_agree_with_the_generations_read_alone(
    postgres_engine, ledger, store, history, record
):
    # A redelivered batch: every event is at or below its position, nothing is written twice.
    events = history("d1", "d2")
    projector = Projector(ledger, postgres_engine, store)
    first = projector.handle([record(e) for e in events])
    again = projector.handle([record(e) for e in events])

    assert (first.applied, again.applied, again.skipped) == (3, 0, 3)
    assert again.positions == {projector.generations().active: {events[0].stream_id: 3}}


def test_read_positions_reads_the_active_generation_of_the_translated_schema(
    postgres_engine, ledger, ledger_migrations, store, history, record
):
    migrate(postgres_engine, ledger, ledger_migrations, schema="ledger_next")
    events = history("d3")
    Projector(ledger, postgres_engine, store, schema="ledger_next").handle(
        [record(e) for e in events]
    )
    with postgres_engine.begin() as connection:
        # The logical schema's control row names another generation: it must not be the one read.
        connection.execute(text("UPDATE ledger.generations SET active = 7, latest = 7"))
    translated = {"schema_translate_map": {"ledger": "ledger_next"}}

    with postgres_engine.connect().execution_options(**translated) as connection:
        found = read_positions(connection, runtime_tables("ledger").positions)

    assert found == {events[0].stream_id: 2}


def test_states_read_before_a_position_lock_was_granted_are_read_again(
    postgres_engine, ledger, store, history, record
):
    # Another consumer folds v2 and holds the position's lock; this batch (v2, v3) reads its
    # snapshot, waits for the lock, and must fold v3 onto the state the other one committed.
    events = history("d1", "d2")
    stream = events[0].stream_id
    projector = Projector(ledger, postgres_engine, store)
    projector.handle([record(events[0])])
    other = postgres_engine.connect()
    holding = other.begin()
    other.execute(
        text("UPDATE ledger.stream_positions SET version = 2 WHERE stream_id = :s"), {"s": stream}
    )
    other.execute(
        text(
            "UPDATE ledger.totals SET deposits = 1, total = 100, version = 2 WHERE stream_id = :s"
        ),
        {"s": stream},
    )
    results = []
    batch = threading.Thread(
        target=lambda: results.append(projector.handle([record(e) for e in events[1:]]))
    )
    batch.start()
    deadline = time.monotonic() + 10
    with postgres_engine.connect() as watcher:
        while time.monotonic() < deadline and not watcher.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        ):
            time.sleep(0.01)
    holding.commit()
    other.close()
    batch.join()

    [result] = results
    assert (result.applied, result.skipped) == (1, 1)
    with postgres_engine.connect() as connection:
        row = connection.execute(
            text("SELECT deposits, total, version FROM ledger.totals WHERE stream_id = :s"),
            {"s": stream},
        ).one()
    assert tuple(row) == (2, Decimal("102.00"), 3)


def test_a_connection_that_died_unpinged_costs_a_retry_not_the_batch(
    database_url, ledger, ledger_migrations, store, history, record
):
    # The projection function pings only after idle; a pooled connection that died sooner (a
    # failover between two batches) fails the batch's first statement, and the projector runs
    # the batch again on a new connection.
    engine = create_database_engine(
        DatabaseConfig(
            url=database_url.render_as_string(hide_password=False),
            pool_ping_after_idle_seconds=PING_AFTER_IDLE_SECONDS,
        )
    )
    migrate(engine, ledger, ledger_migrations)
    events = history("d1", "d2")
    waits: list[float] = []
    projector = Projector(ledger, engine, store, sleep=waits.append)
    projector.handle([record(events[0])])
    with engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(database_url, poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        while connection.scalar(gone, {"pid": pid}):
            time.sleep(0.01)
    admin.dispose()

    result = projector.handle([record(e) for e in events[1:]])

    assert result.failed_message_ids == ()
    assert result.applied == 2
    assert len(waits) == 1
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT pg_backend_pid()")) != pid
    engine.dispose()
