from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from platform_projections import (
    EventStoreUnavailable,
    FailureKind,
    InMemoryEventStore,
    Projector,
    migrate,
    read_positions,
    runtime_tables,
)
from platform_sql import in_active_generation
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import OperationalError


def rows(engine: Engine, ledger) -> dict[str, tuple[int, Decimal, int]]:
    table = ledger.metadata.tables["ledger.totals"]
    with engine.connect() as connection:
        return {
            row.stream_id: (row.deposits, row.total, row.version)
            for row in connection.execute(select(table).where(in_active_generation(table)))
        }


def positions(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return read_positions(connection, runtime_tables("ledger").positions)


def test_a_batch_is_folded_in_version_order_whatever_the_delivery_order(
    engine, ledger, store, history, record
):
    events = history("d10", "d2.50", "d0.01")
    projector = Projector(ledger, engine, store)

    result = projector.handle([record(e) for e in reversed(events)])

    assert result.failed_message_ids == ()
    assert result.applied == 4
    assert rows(engine, ledger) == {events[0].stream_id: (3, Decimal("12.51"), 4)}
    assert positions(engine) == {events[0].stream_id: 4}
    assert store.reads == 0


def test_duplicates_and_redeliveries_are_skipped_and_counted(
    engine, ledger, store, history, record
):
    events = history("d10", "d5")
    projector = Projector(ledger, engine, store)
    projector.handle([record(e) for e in events])

    result = projector.handle([record(events[1]), record(events[2]), record(events[2])])

    assert result.failed_message_ids == ()
    assert (result.applied, result.skipped) == (0, 3)
    assert rows(engine, ledger)[events[0].stream_id] == (2, Decimal("15.00"), 3)


def test_a_gap_is_filled_from_the_event_store_before_the_delivered_event(
    engine, ledger, store, history, record
):
    events = history("d1", "d2", "d3", "d4")
    projector = Projector(ledger, engine, store)

    result = projector.handle([record(events[0]), record(events[4])])

    assert result.failed_message_ids == ()
    assert (result.applied, result.repaired) == (5, 3)
    assert rows(engine, ledger)[events[0].stream_id] == (4, Decimal("10.00"), 5)


def test_unhandled_event_types_only_move_the_position(engine, ledger, store, history, record):
    # The ledger subscribes to deposits only: the withdrawal (v3) and the closure (v5) never
    # arrive, v4 arrives and shows a gap, which the store fills.
    events = history("d10", "w10", "d7", "c")
    projector = Projector(ledger, engine, store)
    projector.handle([record(events[0]), record(events[1])])

    result = projector.handle([record(events[3])])

    assert result.failed_message_ids == ()
    assert (result.applied, result.repaired) == (1, 1)
    assert rows(engine, ledger)[events[0].stream_id] == (2, Decimal("17.00"), 4)
    assert positions(engine)[events[0].stream_id] == 4


def test_sns_wrapped_and_raw_bodies_are_both_understood(engine, ledger, store, history, record):
    events = history("d1")
    projector = Projector(ledger, engine, store)

    result = projector.handle([record(events[0], sns=True), record(events[1])])

    assert result.failed_message_ids == ()
    assert rows(engine, ledger)[events[0].stream_id] == (1, Decimal("1.00"), 2)


def test_an_undecodable_message_fails_its_group_from_there_on_and_spares_the_rest(
    engine, ledger, store, history, record
):
    first = history("d1", "d2")
    other = history("d5")
    projector = Projector(ledger, engine, store)
    bad = {
        "messageId": "bad",
        "body": "not json",
        "attributes": {"MessageGroupId": first[0].stream_id},
    }
    batch = [record(first[0], message_id="a1"), bad, record(first[1], message_id="a2")]
    batch += [record(e, message_id=f"b{e.version}") for e in other]

    result = projector.handle(batch)

    assert result.failed_message_ids == ("bad", "a2")
    assert result.poisoned == 1
    assert result.failures[0].kind is FailureKind.UNDECODABLE
    assert rows(engine, ledger)[first[0].stream_id] == (0, Decimal("0.00"), 1)
    assert rows(engine, ledger)[other[0].stream_id] == (1, Decimal("5.00"), 2)
    assert result.failures[0].message_id == "bad"


def test_an_apply_bug_stops_its_stream_before_the_event_and_names_the_event(
    engine, ledger, store, history, record
):
    events = history("d1", "d2:boom", "d3")
    other = history("d9")
    projector = Projector(ledger, engine, store)
    batch = [record(e, message_id=f"a{e.version}") for e in events]
    batch += [record(e, message_id=f"b{e.version}") for e in other]

    result = projector.handle(batch)

    assert result.failed_message_ids == ("a3", "a4")
    (failure,) = result.failures
    assert failure.kind is FailureKind.APPLY
    assert failure.event_id == str(events[2].event_id)
    assert rows(engine, ledger)[events[0].stream_id] == (1, Decimal("1.00"), 2)
    assert rows(engine, ledger)[other[0].stream_id] == (1, Decimal("9.00"), 2)
    assert "Boom" in failure.reason

    # Redelivered, the poison fails again (until the DLQ takes it); nothing is applied twice.
    again = projector.handle(
        [record(events[2], message_id="a3"), record(events[3], message_id="a4")]
    )
    assert again.failed_message_ids == ("a3", "a4")
    assert rows(engine, ledger)[events[0].stream_id] == (1, Decimal("1.00"), 2)


def test_a_row_the_database_refuses_costs_only_its_own_group(
    engine, ledger, store, history, record
):
    bad = history("d1:many")
    good = history("d4", "d5")
    projector = Projector(ledger, engine, store)
    batch = [record(e, message_id=f"bad{e.version}") for e in bad]
    batch += [record(e, message_id=f"good{e.version}") for e in good]

    result = projector.handle(batch)

    assert result.failed_message_ids == ("bad1", "bad2")
    assert [f.kind for f in result.failures] == [FailureKind.WRITE]
    assert bad[0].stream_id not in rows(engine, ledger)
    assert rows(engine, ledger)[good[0].stream_id] == (2, Decimal("9.00"), 3)
    assert positions(engine)[good[0].stream_id] == 3
    assert positions(engine)[bad[0].stream_id] == 0


class FlakyStore(InMemoryEventStore):
    def __init__(self, events=(), *, failing: bool = True) -> None:
        super().__init__(events)
        self.failing = failing

    def read(self, stream_id, first, last):
        if self.failing:
            raise EventStoreUnavailable("throttled")
        return super().read(stream_id, first, last)


def test_a_gap_the_store_cannot_fill_now_fails_the_group_until_it_can(
    engine, ledger, history, store, record
):
    events = history("d1", "d2")
    other = history()
    flaky = FlakyStore(store.stream(events[0].stream_id) + store.stream(other[0].stream_id))
    projector = Projector(ledger, engine, flaky)
    batch = [record(events[0], message_id="a1"), record(events[2], message_id="a3")]
    batch.append(record(other[0], message_id="b1"))

    result = projector.handle(batch)

    assert result.failed_message_ids == ("a3",)
    assert [f.kind for f in result.failures] == [FailureKind.GAP]
    assert result.poisoned == 0
    assert positions(engine) == {events[0].stream_id: 1, other[0].stream_id: 1}

    flaky.failing = False
    retry = projector.handle([record(events[2], message_id="a3")])
    assert retry.failed_message_ids == ()
    assert rows(engine, ledger)[events[0].stream_id] == (2, Decimal("3.00"), 3)


def test_a_gap_missing_from_the_store_is_never_stepped_over(engine, ledger, history, record):
    events = history("d1", "d2")
    partial = InMemoryEventStore(events[:1])  # v2 is not (yet) in the store
    projector = Projector(ledger, engine, partial)

    result = projector.handle([record(events[0]), record(events[2], message_id="late")])

    assert result.failed_message_ids == ("late",)
    assert "no" in result.failures[0].reason
    assert positions(engine)[events[0].stream_id] == 1


def test_a_stream_split_across_groups_is_folded_once(engine, ledger, store, history, record):
    events = history("d1", "d2")
    stray = record(events[1], message_id="stray")
    stray["attributes"]["MessageGroupId"] = "another-group"
    projector = Projector(ledger, engine, store)

    result = projector.handle([record(e, message_id=f"m{e.version}") for e in events] + [stray])

    assert result.failed_message_ids == ()
    assert rows(engine, ledger)[events[0].stream_id] == (2, Decimal("3.00"), 3)


def test_transient_database_errors_are_retried(sqlite_engine, ledger, store, history, record):
    events = history("d1")
    failures = iter([True])

    @event.listens_for(sqlite_engine, "before_cursor_execute")
    def fail_once(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO ledger.totals") and next(failures, False):
            raise OperationalError(statement, parameters, Exception("database is locked"))

    waits: list[float] = []
    projector = Projector(ledger, sqlite_engine, store, sleep=waits.append)

    result = projector.handle([record(e) for e in events])

    assert result.failed_message_ids == ()
    assert len(waits) == 1
    assert rows(sqlite_engine, ledger)[events[0].stream_id] == (1, Decimal("1.00"), 2)


def test_a_database_that_stays_down_fails_the_whole_batch(
    sqlite_engine, ledger, store, history, record
):
    events = history("d1")

    @event.listens_for(sqlite_engine, "before_cursor_execute")
    def always_fail(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO ledger.stream_positions"):
            raise OperationalError(statement, parameters, Exception("disk I/O error"))

    projector = Projector(ledger, sqlite_engine, store, sleep=lambda _: None)

    with pytest.raises(OperationalError):
        projector.handle([record(e) for e in events])


def test_a_physical_schema_can_be_written_instead_of_the_live_one(
    postgres_engine, ledger, ledger_migrations, store, history, record
):
    migrate(postgres_engine, ledger, ledger_migrations, schema="ledger_next")
    events = history("d3")
    projector = Projector(ledger, postgres_engine, store, schema="ledger_next")

    projector.handle([record(e) for e in events])

    with postgres_engine.connect() as connection:
        live = connection.scalar(text("SELECT count(*) FROM ledger.totals"))
        rebuilt = connection.execute(text("SELECT total, version FROM ledger_next.totals")).one()
    assert live == 0
    assert rebuilt == (Decimal("3.00"), 2)


def test_concurrent_consumers_of_one_stream_never_apply_an_event_twice(
    postgres_engine, ledger, store, history, record
):
    # The live and the replay queue can deliver the same stream at the same time.
    events = history(*[f"d{i}" for i in range(1, 41)])
    projectors = [Projector(ledger, postgres_engine, store) for _ in range(4)]
    errors: list[BaseException] = []

    def consume(projector: Projector, offset: int) -> None:
        try:
            for start in range(offset, len(events), 3):
                projector.handle([record(e) for e in events[start : start + 5]])
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=consume, args=(p, i)) for i, p in enumerate(projectors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert rows(postgres_engine, ledger)[events[0].stream_id] == (40, Decimal(820), 41)


def test_lag_is_measured_from_the_oldest_event_in_the_batch(
    sqlite_engine, ledger, store, history, record
):
    events = history("d1")
    now = events[1].occurred_at.replace(second=events[1].occurred_at.second + 30)
    projector = Projector(ledger, sqlite_engine, store, clock=lambda: now)

    result = projector.handle([record(e) for e in events])

    assert result.lag_seconds == (now - events[0].occurred_at).total_seconds()


def test_an_empty_batch_does_nothing(sqlite_engine, ledger, store):
    result = Projector(ledger, sqlite_engine, store).handle([])

    assert result.response() == {"batchItemFailures": []}
    assert result.lag_seconds is None
