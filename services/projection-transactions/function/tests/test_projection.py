"""The declaration's fold, and the projector writing it on Postgres and SQLite."""

from __future__ import annotations

from decimal import Decimal
from itertools import zip_longest

import pytest
from platform_projections import (
    EventStoreReader,
    EventStoreUnavailable,
    Projector,
    read_positions,
    runtime_tables,
)
from platform_projections.projection import subscription_filter_policy
from projection_transactions.model import transactions
from projection_transactions.projection import (
    PROJECTION,
    ROWS_PER_STATEMENT,
    History,
    HistoryStore,
    OutOfOrder,
)
from sqlalchemy import event

from account_events import AccountOpened, MoneyDeposited


def fold_declaration(events) -> History | None:
    """The projection's own fold of what it handles (what the runtime does in memory)."""
    state = None
    for envelope in events:
        if PROJECTION.handles(envelope.event_type):
            state = PROJECTION.apply(state, envelope)
    return state


def test_the_subscription_carries_only_deposits_and_withdrawals():
    assert subscription_filter_policy(PROJECTION) == {
        "aggregate_type": ["Account"],
        "event_type": ["MoneyDeposited", "MoneyWithdrawn"],
    }
    assert PROJECTION.filter_policy() == subscription_filter_policy(PROJECTION)
    assert PROJECTION.writer_role == "transactions_writer"


def test_each_movement_records_the_balance_after_it(account):
    events = account("d12.50", "w2.25", "d0.01", "w10.26")

    state = fold_declaration(events)

    assert state is not None
    assert [(row.type, row.amount, row.balance_after, row.version) for row in state.added] == [
        ("deposit", Decimal("12.50"), Decimal("12.50"), 2),
        ("withdrawal", Decimal("2.25"), Decimal("10.25"), 3),
        ("deposit", Decimal("0.01"), Decimal("10.26"), 4),
        ("withdrawal", Decimal("10.26"), Decimal("0.00"), 5),
    ]
    assert (state.balance, state.version) == (Decimal("0.00"), 5)
    assert [row.reference for row in state.added] == ["ref d12.50", None, "ref d0.01", None]
    assert state.added[0].event_id == str(events[1].event_id)
    assert state.added[0].occurred_at == events[1].occurred_at


def test_a_fold_goes_on_from_the_stored_balance_and_adds_only_new_rows(account):
    events = account("d10", "w4", "d1")
    stored = History(account_id=events[0].stream_id, balance=Decimal("6.00"), version=3)

    state = PROJECTION.apply(stored, events[3])

    assert [(row.version, row.balance_after) for row in state.added] == [(4, Decimal("7.00"))]


def test_an_event_at_or_below_the_stored_version_is_refused(account):
    events = account("d10", "w4")
    stored = History(account_id=events[0].stream_id, balance=Decimal("6.00"), version=3)

    with pytest.raises(OutOfOrder, match="v3 arrived after v3"):
        PROJECTION.apply(stored, events[2])


def test_the_store_matches_the_table_column_for_column():
    assert {c.name for c in transactions.columns} == {
        "generation",
        "account_id",
        "version",
        "event_id",
        "type",
        "amount",
        "balance_after",
        "reference",
        "occurred_at",
    }
    assert [c.name for c in transactions.primary_key.columns] == [
        "generation",
        "account_id",
        "version",
    ]


def test_interleaved_deposits_and_withdrawals_chain_their_balances(
    engine, store, account, only_subscribed, record, model, fold
):
    first = account("d100", "w30.50", "d0.25", "w69.75", "d5")
    second = account("w0.01", "d1000000000000", "w999999999999.99")
    projector = Projector(PROJECTION, engine, store)
    # The two accounts' movements interleaved, split over batches of three.
    pairs = zip_longest(only_subscribed(first), only_subscribed(second))
    mixed = [e for pair in pairs for e in pair if e is not None]

    for start in range(0, len(mixed), 3):
        result = projector.handle([record(e) for e in mixed[start : start + 3]])
        assert result.failed_message_ids == ()

    rows = model(engine)
    assert rows == {first[0].stream_id: fold(first), second[0].stream_id: fold(second)}
    assert [row["balance_after"] for row in rows[first[0].stream_id]] == [
        Decimal("100.00"),
        Decimal("69.50"),
        Decimal("69.75"),
        Decimal("0.00"),
        Decimal("5.00"),
    ]
    # The command rules forbid it, but a history that goes below zero is still folded as it is.
    assert [row["balance_after"] for row in rows[second[0].stream_id]] == [
        Decimal("-0.01"),
        Decimal("999999999999.99"),
        Decimal("0.00"),
    ]


def test_the_first_movement_repairs_through_account_opened(
    engine, store, account, record, model, fold
):
    events = account("d10", "w3")  # v1 AccountOpened never reaches this projection's queue

    result = Projector(PROJECTION, engine, store).handle([record(events[1]), record(events[2])])

    assert result.failed_message_ids == ()
    assert (result.applied, result.repaired, result.skipped) == (2, 1, 0)
    assert result.positions == {1: {events[0].stream_id: 3}}
    assert model(engine)[events[0].stream_id] == fold(events)


def test_an_account_closed_between_movements_is_stepped_over_from_the_event_store(
    engine, store, account, record, model, fold
):
    # Only a bug could write money after a closure; the point is that the projection does not
    # care which unhandled type fills a gap, and chains the balance across it.
    events = account("d10", "w10", "c", "d4")
    projector = Projector(PROJECTION, engine, store)
    projector.handle([record(events[1]), record(events[2])])

    result = projector.handle([record(events[4])])

    assert (result.applied, result.repaired) == (1, 1)
    assert model(engine)[events[0].stream_id] == fold(events)
    assert model(engine)[events[0].stream_id][-1]["balance_after"] == Decimal("4.00")


class UnreachableStore(EventStoreReader):
    """The event store while DynamoDB throttles or cannot be reached."""

    def read(self, stream_id, first, last):
        raise EventStoreUnavailable(f"cannot read {stream_id} v{first}..v{last}")


def test_a_first_deposit_waits_while_the_event_store_cannot_give_its_opening(
    engine, store, account, record, model, fold
):
    events = account("d10")

    waiting = Projector(PROJECTION, engine, UnreachableStore()).handle(
        [record(events[1], message_id="deposit")]
    )

    assert waiting.failed_message_ids == ("deposit",)
    assert [failure.kind.value for failure in waiting.failures] == ["gap"]
    assert model(engine) == {}
    # Redelivered once the store answers again.
    healed = Projector(PROJECTION, engine, store).handle([record(events[1])])
    assert healed.failed_message_ids == ()
    assert model(engine)[events[0].stream_id] == fold(events)


def test_account_opened_and_closed_move_the_position_without_rows(
    engine, store, account, record, model
):
    events = account("c")  # opened and closed, never moved money

    result = Projector(PROJECTION, engine, store).handle([record(e) for e in events])

    assert result.failed_message_ids == ()
    assert result.applied == 0
    assert result.positions == {1: {events[0].stream_id: 2}}
    assert model(engine) == {}


@pytest.fixture
def model_inserts(engine):
    """The INSERT statements sent to the read model's table while the test runs."""
    seen: list[str] = []

    def note(_connection, _cursor, statement, *_args):
        if statement.lstrip().startswith("INSERT INTO transactions.transactions "):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def test_every_ordinary_batch_is_one_insert_of_all_its_rows(
    engine, store, account, record, model_inserts
):
    accounts = [account("d1", "w1", "d2") for _ in range(3)]

    result = Projector(PROJECTION, engine, store).handle(
        [record(e) for events in accounts for e in events[1:]]
    )

    assert result.applied == 9
    assert len(model_inserts) == 1


def test_a_long_gap_is_written_in_bounded_statements(
    engine, store, history_of, record, model, model_inserts
):
    payloads = [AccountOpened(owner="ann", currency="EUR")]
    payloads += [MoneyDeposited(amount=Decimal("0.01")) for _ in range(2100)]
    events = history_of(store, payloads)

    # Only the last deposit arrives: every version below it comes from the event store.
    result = Projector(PROJECTION, engine, store).handle([record(events[-1])])

    assert result.failed_message_ids == ()
    assert result.repaired == 2100
    rows = model(engine)[events[0].stream_id]
    assert [row["version"] for row in rows] == list(range(2, 2102))
    assert rows[-1]["balance_after"] == Decimal("21.00")
    # ROWS_PER_STATEMENT at a time: a gap of thousands of versions would otherwise be one
    # statement with more bound parameters than the databases take.
    assert len(model_inserts) == -(-2100 // ROWS_PER_STATEMENT) == 3


def test_the_store_loads_each_accounts_last_row(engine, store, account, record):
    first, second = account("d5", "w1", "d3"), account("d9")
    Projector(PROJECTION, engine, store).handle(
        [record(e) for events in (first, second) for e in events]
    )
    ids = [first[0].stream_id, second[0].stream_id, "never-moved"]

    with engine.connect() as connection:
        loaded = HistoryStore(transactions).load(connection, ids, generation=1)
        elsewhere = HistoryStore(transactions).load(connection, ids, generation=2)

    assert loaded == {
        first[0].stream_id: History(first[0].stream_id, Decimal("7.00"), 4),
        second[0].stream_id: History(second[0].stream_id, Decimal("9.00"), 2),
    }
    assert elsewhere == {}


def test_positions_live_beside_the_rows(engine, store, account, record):
    events = account("d5")
    Projector(PROJECTION, engine, store).handle([record(events[1])])

    with engine.connect() as connection:
        positions = read_positions(connection, runtime_tables("transactions").positions)

    assert positions == {events[0].stream_id: 2}


def test_a_nul_in_a_reference_is_stored_as_the_replacement_character(
    engine, store, history_of, record, model
):
    events = history_of(
        store,
        [
            AccountOpened(owner="ann", currency="EUR"),
            MoneyDeposited(amount=Decimal("1.00"), reference="a\x00b"),
            MoneyDeposited(amount=Decimal("2.00"), reference="zoë 🙂"),
        ],
    )

    result = Projector(PROJECTION, engine, store).handle([record(e) for e in events[1:]])

    assert result.failed_message_ids == ()
    rows = model(engine)[events[0].stream_id]
    assert [row["reference"] for row in rows] == ["a\ufffdb", "zoë 🙂"]
