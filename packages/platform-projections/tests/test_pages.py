"""Replay pages: one message carries many events of one replay partition; it succeeds only when
every one of them is at or below its stream's committed position, and its group (the partition)
keeps FIFO semantics."""

from __future__ import annotations

from decimal import Decimal

from platform_projections import FailureKind, InMemoryEventStore, Projector, read_positions
from platform_projections.positions import runtime_tables
from platform_sql import in_active_generation
from sqlalchemy import select

from platform_events import replay_page_body


def totals(engine, ledger):
    table = ledger.metadata.tables["ledger.totals"]
    with engine.connect() as connection:
        return {
            row.stream_id: (row.deposits, row.total, row.version)
            for row in connection.execute(select(table).where(in_active_generation(table)))
        }


def positions(engine):
    with engine.connect() as connection:
        return read_positions(connection, runtime_tables("ledger").positions)


def page(message_id, group, envelopes):
    return {
        "messageId": message_id,
        "body": replay_page_body(envelopes),
        "attributes": {"MessageGroupId": group},
    }


def test_pages_of_many_streams_are_folded_and_succeed_whole(
    engine, ledger, store, history, page_records
):
    accounts = [history("d1", "d2", "w1", "d4"), history("d10"), history("d3", "c")]
    everything = [e for events in accounts for e in events]
    # One page mixing every stream, then the same events as a replay would page them.
    mixed = page("mixed", "Account#0", everything)
    paged = page_records(everything, page_size=3)

    result = Projector(ledger, engine, store).handle([mixed, *paged])

    assert result.failed_message_ids == ()
    # Withdrawals and closures are not the ledger's: they only move positions. Each stream is
    # folded once, by the first group that carries it; the other pages succeed because their
    # events are at or below the committed positions.
    assert result.applied == 8
    assert result.repaired == 0
    assert totals(engine, ledger) == {
        accounts[0][0].stream_id: (3, Decimal("7.00"), 5),
        accounts[1][0].stream_id: (1, Decimal("10.00"), 2),
        accounts[2][0].stream_id: (1, Decimal("3.00"), 2),
    }
    assert positions(engine) == {events[0].stream_id: len(events) for events in accounts}


def test_a_page_again_is_skipped_event_by_event(engine, ledger, store, history, page_records):
    events = history("d1", "d2")
    projector = Projector(ledger, engine, store)
    records = page_records(events, page_size=10)
    projector.handle(records)

    again = projector.handle(records)

    assert again.failed_message_ids == ()
    assert (again.applied, again.skipped) == (0, 3)


def test_a_page_and_live_events_of_one_stream_fold_it_once(
    engine, ledger, store, history, record, page_records
):
    events = history("d1", "d2", "d3")
    projector = Projector(ledger, engine, store)
    live = [record(e, message_id=f"live{e.version}") for e in events[2:]]

    result = projector.handle(page_records(events[:3], page_size=10) + live)

    # The page's group folds the stream in this batch; live v3 is covered by it, live v4 is not
    # yet and comes back, to be folded on its own.
    assert result.failed_message_ids == ("live4",)
    assert result.applied == 3
    again = projector.handle(live[1:])
    assert again.failed_message_ids == ()
    assert totals(engine, ledger)[events[0].stream_id] == (3, Decimal("6.00"), 4)


def test_a_page_with_an_event_that_cannot_be_applied_fails_with_its_group_from_there_on(
    engine, ledger, store, history
):
    bad = history("d1", "d2:boom", "d3")
    good = history("d5", "d6")
    projector = Projector(ledger, engine, store)
    group = "Account#0"
    # bad's events and good's share a partition here: one page holds some of each.
    first = page("p1", group, [bad[0], bad[1], good[0]])
    second = page("p2", group, [bad[2], bad[3], good[1], good[2]])
    other = page("q1", "Account#1", history("d7"))

    result = projector.handle([first, second, other])

    # bad stops before its poison (v3); good's events in both pages are applied anyway, the pages
    # that still hold something unapplied come back, in order.
    assert result.failed_message_ids == ("p2",)
    (failure,) = result.failures
    assert (failure.kind, failure.version) == (FailureKind.APPLY, 3)
    assert totals(engine, ledger)[bad[0].stream_id] == (1, Decimal("1.00"), 2)
    assert totals(engine, ledger)[good[0].stream_id] == (2, Decimal("11.00"), 3)

    redelivered = projector.handle([second])
    assert redelivered.failed_message_ids == ("p2",)
    assert redelivered.skipped == 2


def test_a_gap_a_page_cannot_fill_fails_the_page_and_every_later_one_of_its_partition(
    engine, ledger, history
):
    events = history("d1", "d2", "d3")
    other = history("d9")
    # The store lacks v3: a later page delivers v4, the gap below it cannot be filled yet.
    partial = InMemoryEventStore([*events[:2], *other])
    projector = Projector(ledger, engine, partial)
    group = "Account#3"
    records = [
        page("p1", group, events[:2]),
        page("p2", group, [events[3]]),
        page("p3", group, other),
    ]

    result = projector.handle(records)

    assert result.failed_message_ids == ("p2", "p3")
    assert [f.kind for f in result.failures] == [FailureKind.GAP]
    assert result.poisoned == 0
    # Everything that could be applied was, including p3's stream, which comes back anyway (FIFO)
    # and is skipped then.
    assert positions(engine) == {events[0].stream_id: 2, other[0].stream_id: 2}

    complete = InMemoryEventStore([*events, *other])
    retried = Projector(ledger, engine, complete).handle(records[1:])
    assert retried.failed_message_ids == ()
    assert totals(engine, ledger)[events[0].stream_id] == (3, Decimal("6.00"), 4)


def test_an_empty_page_succeeds(engine, ledger, store):
    result = Projector(ledger, engine, store).handle([page("empty", "Account#0", [])])

    assert result.failed_message_ids == ()
    assert result.applied == 0


def test_a_page_that_is_not_a_list_of_envelopes_is_poison(engine, ledger, store, history):
    events = history("d1")
    broken = {
        "messageId": "broken",
        "body": '{"replayed_events": [{"not": "text"}]}',
        "attributes": {"MessageGroupId": "Account#0"},
    }
    after = page("after", "Account#0", events)

    result = Projector(ledger, engine, store).handle([broken, after])

    assert result.failed_message_ids == ("broken", "after")
    assert [f.kind for f in result.failures] == [FailureKind.UNDECODABLE]
    assert totals(engine, ledger) == {}
