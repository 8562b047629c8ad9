from __future__ import annotations

from decimal import Decimal

import pytest
from platform_projections import subscription_filter_policy
from projection_balances.projection import PROJECTION, Account, NotAnOpenAccount


def fold(events) -> Account | None:
    state = None
    for event in events:
        state = PROJECTION.apply(state, event)
    return state


def test_an_account_is_opened_empty_and_moves_with_deposits_and_withdrawals(account):
    events = account("d12.50", "w2.25", "d0.01")

    state = fold(events)

    assert state == Account(
        account_id=events[0].stream_id,
        owner="ann",
        currency="EUR",
        balance=Decimal("10.26"),
        status="open",
        version=4,
        updated_at=events[-1].occurred_at,
    )


def test_closing_marks_the_account_closed_at_the_closing_event(account):
    events = account("d5", "w5", "c")

    state = fold(events)

    assert (state.status, state.balance, state.version) == ("closed", Decimal("0.00"), 4)


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (("c", "d1"), "closed"),
        (("c", "c"), "closed"),
    ],
)
def test_events_a_closed_account_cannot_take_are_rejected(account, steps, problem):
    with pytest.raises(NotAnOpenAccount, match=problem):
        fold(account(*steps))


def test_an_account_cannot_be_opened_twice(account):
    first = account()
    with pytest.raises(NotAnOpenAccount, match="twice"):
        PROJECTION.apply(fold(first), first[0])


def test_money_needs_an_opened_account(account):
    deposit = account("d1")[1]
    with pytest.raises(NotAnOpenAccount, match="missing"):
        PROJECTION.apply(None, deposit)


def test_the_subscription_takes_every_account_event():
    assert subscription_filter_policy(PROJECTION) == {
        "aggregate_type": ["Account"],
        "event_type": ["AccountClosed", "AccountOpened", "MoneyDeposited", "MoneyWithdrawn"],
    }
