"""The contract's invariant, as a property: whatever the pipe does to the messages it carries
(only deposits and withdrawals: the subscription's filter), duplicates, reordering within and
across batches, redelivery after a failed or unanswered batch, messages that never arrive, the
read model equals the fold of the event store."""

from __future__ import annotations

import dataclasses
from collections import deque
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from platform_projections import InMemoryEventStore, Projector, StateStore
from platform_projections.lambda_handler import make_lambda_handler
from projection_transactions.projection import PROJECTION

from account_events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn

MAX_ROUNDS = 150
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000.00"), places=2)


@st.composite
def account_history(draw: st.DrawFn) -> list[Any]:
    """The payloads of one account's valid command history (funds never negative, closed empty)."""
    payloads: list[Any] = [AccountOpened(owner="ann", currency="EUR")]
    balance = Decimal("0.00")
    for _ in range(draw(st.integers(0, 6))):
        reference = draw(st.none() | st.text(max_size=8))
        if balance > 0 and draw(st.booleans()):
            amount = draw(st.decimals(min_value=Decimal("0.01"), max_value=balance, places=2))
            payloads.append(MoneyWithdrawn(amount=amount, reference=reference))
            balance -= amount
        else:
            amount = draw(amounts)
            payloads.append(MoneyDeposited(amount=amount, reference=reference))
            balance += amount
    if draw(st.booleans()):
        if balance > 0:
            payloads.append(MoneyWithdrawn(amount=balance))
        payloads.append(AccountClosed())
    return payloads


class CrashingStore(StateStore[Any]):
    """The real store, except that an armed crash kills the batch mid-transaction."""

    def __init__(self, inner: StateStore[Any]) -> None:
        self.inner = inner
        self.armed = False

    def load(self, connection, stream_ids, *, generation):
        return self.inner.load(connection, stream_ids, generation=generation)

    def save(self, connection, states, *, generation):
        if self.armed:
            raise RuntimeError("the Lambda died before committing")
        self.inner.save(connection, states, generation=generation)


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    # Examples share the fixture's database on purpose: each uses new account ids.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(account_history(), min_size=1, max_size=3), data=st.data())
def test_the_read_model_equals_the_fold_of_the_event_store(
    engine, history_of, record, context, fold, model, only_subscribed, histories, data
):
    store = InMemoryEventStore()
    streams = [history_of(store, payloads) for payloads in histories]
    crashing = CrashingStore(PROJECTION.store)
    projector = Projector(dataclasses.replace(PROJECTION, store=crashing), engine, store)
    handler = make_lambda_handler(lambda: projector, projection="transactions")

    # What the pipe delivers: each deposit or withdrawal 0..3 times (never the last one of a
    # stream 0 times, or nothing would tell the projection the stream went on), in any order.
    messages = []
    for events in streams:
        delivered = only_subscribed(events)
        for event in delivered:
            lowest = 1 if event is delivered[-1] else 0
            for _ in range(data.draw(st.integers(lowest, 3), label="copies")):
                messages.append(record(event, sns=data.draw(st.booleans(), label="sns")))
    queue = deque(data.draw(st.permutations(messages), label="order"))

    account_ids = [events[0].stream_id for events in streams]
    expected = {events[0].stream_id: fold(events) for events in streams if fold(events)}
    rounds = 0
    while queue:
        rounds += 1
        assert rounds < MAX_ROUNDS
        size = data.draw(st.integers(1, 10), label="batch size")
        batch = [queue.popleft() for _ in range(min(size, len(queue)))]
        fate = data.draw(st.sampled_from(["ok"] * 6 + ["crash", "no answer"]), label="fate")
        crashing.armed = fate == "crash" and rounds < MAX_ROUNDS // 2
        try:
            answer = handler({"Records": batch}, context)
        except RuntimeError:
            queue.extend(batch)  # the whole batch comes back after the visibility timeout
        else:
            if fate == "no answer":
                queue.extend(batch)  # committed, but Lambda never reported it: redelivered
            else:
                failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
                queue.extend(m for m in batch if m["messageId"] in failed)
        finally:
            crashing.armed = False

        # At every step an account's rows are a prefix of its history: nothing half-applied,
        # nothing out of order, every balance_after the one that was true then.
        for account_id, rows in model(engine, account_ids).items():
            assert rows == expected[account_id][: len(rows)]

    assert model(engine, account_ids) == expected
