"""Blue/green generations: a rebuild fills a new generation from replay pages while readers and the
live queue keep the active one, control messages move the control row (idempotently), a promote
swaps in one transaction after catching up, and old rows go away in bounded rounds."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from platform_projections import FailureKind, Projector, read_positions
from platform_projections.positions import runtime_tables
from platform_sql import in_active_generation
from sqlalchemy import func, select


def totals(engine, ledger):
    table = ledger.metadata.tables["ledger.totals"]
    with engine.connect() as connection:
        return {
            row.stream_id: (row.deposits, row.total, row.version)
            for row in connection.execute(select(table).where(in_active_generation(table)))
        }


def rows_per_generation(engine, ledger) -> dict[str, Counter[int]]:
    """How many rows each table holds in each generation, readers' filter or not."""
    found = {}
    for table in (ledger.metadata.tables["ledger.totals"], runtime_tables("ledger").positions):
        with engine.connect() as connection:
            counted = connection.execute(
                select(table.c.generation, func.count()).group_by(table.c.generation)
            )
            found[table.name] = Counter({row[0]: row[1] for row in counted})
    return found


def state(projector):
    found = projector.generations()
    return (found.active, found.building)


def test_a_new_projection_replays_into_its_active_generation(
    engine, ledger, store, history, page_records
):
    events = history("d1", "d2")
    projector = Projector(ledger, engine, store)

    projector.handle(page_records(events))

    assert state(projector) == (1, None)
    assert totals(engine, ledger) == {events[0].stream_id: (2, Decimal("3.00"), 3)}
    assert rows_per_generation(engine, ledger)["totals"] == Counter({1: 1})


def test_a_rebuild_fills_a_new_generation_while_readers_and_live_events_keep_the_active_one(
    engine, ledger, store, history, record, page_records, control_record
):
    first = history("d1", "d2")
    second = history("d5")
    projector = Projector(ledger, engine, store)
    # The active model so far: first fully, second only opened (its deposit waits in the queue).
    projector.handle([record(e) for e in [*first, second[0]]])
    before = totals(engine, ledger)

    begun = projector.handle([control_record("begin", "r1")])
    assert begun.failed_message_ids == ()
    assert state(projector) == (1, 2)
    (control,) = begun.controls
    assert (control.action, control.rebuild, control.generations.building) == ("begin", "r1", 2)

    pages = projector.handle(page_records([*first, *second]))
    assert pages.failed_message_ids == ()
    assert set(pages.positions) == {2}
    # Readers still see generation 1, whole; generation 2 is complete but invisible.
    assert totals(engine, ledger) == before
    assert rows_per_generation(engine, ledger)["totals"] == Counter({1: 2, 2: 2})

    # A live event arriving meanwhile still goes to the active generation.
    live = projector.handle([record(second[1])])
    assert set(live.positions) == {1}

    promoted = projector.handle([control_record("promote", "r1")])
    assert promoted.failed_message_ids == ()
    assert state(projector) == (2, None)
    assert totals(engine, ledger) == {
        first[0].stream_id: (2, Decimal("3.00"), 3),
        second[0].stream_id: (1, Decimal("5.00"), 2),
    }
    with engine.connect() as connection:
        assert read_positions(connection, runtime_tables("ledger").positions) == {
            first[0].stream_id: 3,
            second[0].stream_id: 2,
        }
    # After the swap, live events go to the new generation.
    third = history("d7")
    projector.handle([record(e) for e in third])
    assert totals(engine, ledger)[third[0].stream_id] == (1, Decimal("7.00"), 2)


def test_promote_catches_up_what_the_active_generation_has_and_the_replay_missed(
    engine, ledger, store, history, record, page_records, control_record
):
    events = history("d1", "d2", "d3")
    projector = Projector(ledger, engine, store)
    projector.handle([control_record("begin", "r1")])
    # The replay read the store before v4 was there (or a live batch was still in flight when
    # the live mapping was paused): the active generation has v4, the new one stops at v3.
    projector.handle(page_records(events[:3]))
    projector.handle([record(e) for e in events])

    result = projector.handle([control_record("promote", "r1")])

    assert result.failed_message_ids == ()
    assert result.controls[0].caught_up == 1
    assert state(projector) == (2, None)
    assert totals(engine, ledger) == {events[0].stream_id: (3, Decimal("6.00"), 4)}


def test_control_messages_applied_again_change_nothing(
    engine, ledger, store, history, page_records, control_record
):
    events = history("d1")
    projector = Projector(ledger, engine, store)
    projector.handle([control_record("begin", "r1")])

    assert projector.handle([control_record("begin", "r1")]).failed_message_ids == ()
    assert state(projector) == (1, 2)
    projector.handle(page_records(events))
    projector.handle([control_record("promote", "r1")])
    again = projector.handle([control_record("promote", "r1"), control_record("abort", "r1")])

    assert again.failed_message_ids == ()
    assert state(projector) == (2, None)
    assert totals(engine, ledger) == {events[0].stream_id: (1, Decimal("1.00"), 2)}


def test_a_promote_of_a_rebuild_not_in_progress_is_refused_as_poison(
    engine, ledger, store, history, record, control_record
):
    events = history("d1")
    projector = Projector(ledger, engine, store)
    projector.handle([record(e) for e in events])

    result = projector.handle([control_record("promote", "never-begun", message_id="promote")])

    assert result.failed_message_ids == ("promote",)
    (failure,) = result.failures
    assert failure.kind is FailureKind.CONTROL
    assert "never-begun" in failure.reason
    assert result.poisoned == 1
    assert state(projector) == (1, None)
    assert totals(engine, ledger) == {events[0].stream_id: (1, Decimal("1.00"), 2)}


def test_an_aborted_rebuild_leaves_the_active_generation_and_the_next_one_starts_clean(
    engine, ledger, store, history, record, page_records, control_record
):
    events = history("d1", "d2")
    others = history("d4")
    projector = Projector(ledger, engine, store)
    projector.handle([record(e) for e in [*events, *others]])
    serving = totals(engine, ledger)
    projector.handle([control_record("begin", "r1")])
    # Half the replay got in before it failed.
    projector.handle(page_records(events))

    projector.handle([control_record("abort", "r1")])

    assert state(projector) == (1, None)
    assert totals(engine, ledger) == serving
    # The abandoned generation is garbage, deleted after the next batch.
    assert rows_per_generation(engine, ledger)["totals"] == Counter({1: 2})
    assert projector.generations().cleanup is False

    projector.handle([control_record("begin", "r2")])
    # Never generation 2 again: nothing an earlier attempt left can mix in.
    assert state(projector) == (1, 3)
    projector.handle(page_records([*events, *others]))
    projector.handle([control_record("promote", "r2")])
    assert state(projector) == (3, None)
    assert totals(engine, ledger) == serving


def test_a_rebuild_that_died_silently_is_superseded_by_the_next(
    engine, ledger, store, history, page_records, control_record
):
    events = history("d1")
    projector = Projector(ledger, engine, store)
    projector.handle([control_record("begin", "dead")])
    projector.handle(page_records(events))

    projector.handle([control_record("begin", "alive")])
    projector.handle(page_records(events))
    stale = projector.handle([control_record("promote", "dead", message_id="stale")])
    promoted = projector.handle([control_record("promote", "alive")])

    assert stale.failed_message_ids == ("stale",)
    assert promoted.failed_message_ids == ()
    assert state(projector) == (3, None)
    assert totals(engine, ledger) == {events[0].stream_id: (1, Decimal("1.00"), 2)}
    assert rows_per_generation(engine, ledger)["totals"] == Counter({3: 1})


def test_old_generations_are_deleted_in_bounded_rounds_after_a_promote(
    engine, ledger, store, history, record, page_records, control_record
):
    accounts = [history("d1") for _ in range(5)]
    everything = [e for events in accounts for e in events]
    projector = Projector(ledger, engine, store, cleanup_rows=2)
    projector.handle([record(e) for e in everything])
    projector.handle([control_record("begin", "r1")])
    projector.handle(page_records(everything))

    promoted = projector.handle([control_record("promote", "r1")])

    # The promote's batch already ran one round: at most two rows per table.
    assert promoted.cleaned == 4
    assert rows_per_generation(engine, ledger) == {
        "totals": Counter({2: 5, 1: 3}),
        "stream_positions": Counter({2: 5, 1: 3}),
    }
    assert projector.generations().cleanup is True
    # Every batch runs one more round until nothing is left; readers never noticed.
    cleaned = [projector.handle([record(accounts[0][1])]).cleaned for _ in range(3)]
    assert cleaned == [4, 2, 0]
    assert rows_per_generation(engine, ledger) == {
        "totals": Counter({2: 5}),
        "stream_positions": Counter({2: 5}),
    }
    assert projector.generations().cleanup is False
    assert totals(engine, ledger) == {
        events[0].stream_id: (1, Decimal("1.00"), 2) for events in accounts
    }


def test_collect_garbage_runs_rounds_until_nothing_is_left(
    engine, ledger, store, history, page_records, control_record
):
    everything = [e for _ in range(4) for e in history("d2")]
    projector = Projector(ledger, engine, store, cleanup_rows=1)
    projector.handle(page_records(everything))
    projector.handle([control_record("begin", "r1")])
    projector.handle(page_records(everything))
    projector.handle([control_record("promote", "r1")])

    deleted = projector.collect_garbage()

    assert deleted == 6  # 8 rows of generation 1, two of them by the promote's batch
    assert rows_per_generation(engine, ledger)["totals"] == Counter({2: 4})
    assert projector.collect_garbage() == 0


@pytest.mark.parametrize(
    "body",
    [
        '{"replay_control": "explode", "rebuild": "r1"}',
        '{"replay_control": "begin"}',
        '{"replay_control": "begin", "rebuild": ""}',
        '{"replay_control": "begin", "rebuild": "r1", "generation": 7}',
    ],
    ids=["unknown-action", "no-rebuild", "empty-rebuild", "extra-key"],
)
def test_a_malformed_control_message_is_poison(sqlite_engine, ledger, store, body):
    projector = Projector(ledger, sqlite_engine, store)
    message = {"messageId": "bad", "body": body, "attributes": {"MessageGroupId": "replay-control"}}

    result = projector.handle([message])

    assert result.failed_message_ids == ("bad",)
    assert [f.kind for f in result.failures] == [FailureKind.UNDECODABLE]
    assert state(projector) == (1, None)


def test_a_control_message_after_a_failed_one_of_its_group_waits_for_it(
    engine, ledger, store, control_record
):
    projector = Projector(ledger, engine, store)
    refused = control_record("promote", "never-begun", message_id="promote")
    later = control_record("begin", "r2", message_id="begin")

    result = projector.handle([refused, later])

    # FIFO within the control group: begin comes back with the promote, unapplied.
    assert result.failed_message_ids == ("promote", "begin")
    assert state(projector) == (1, None)
