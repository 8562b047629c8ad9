"""The contract's invariant, checked on the running system: each read model, as the query API
serves it, equals the fold of the event store, and every event was applied exactly once."""

from __future__ import annotations

from platform_events import EventEnvelope
from tests_integration.reference import account_balances, account_transactions
from tests_integration.system import System


def assert_read_models_are_the_fold(system: System) -> list[EventEnvelope]:
    """Every account and every account's transactions, read page by page through the query API
    (small pages, so that cursors are followed), equal the folds; returns the stored events."""
    events = system.stored_events()
    balances = account_balances(events)
    listed = system.queries.every_account(limit=3)
    assert listed == [balances[account].document() for account in sorted(balances)]
    if "transactions" in system.projections:
        history = account_transactions(events)
        for account in sorted(balances):
            assert system.queries.every_transaction(account, limit=3) == history[account]
    return events


def assert_each_event_applied_once(system: System, events: list[EventEnvelope]) -> None:
    """Each projection applied every stored event it handles exactly once (its own
    ``EventsApplied`` metric, summed over all invocations), and nothing was given up on."""
    for deployed in system.projections.values():
        projection = deployed.service.projection
        handled = [e for e in events if projection.handles(e.event_type)]
        assert deployed.totals["EventsApplied"] == len(handled), (deployed.name, deployed.totals)
    assert system.dead_letters() == {}
    assert system.relay_failures == []


def assert_exact(system: System) -> list[EventEnvelope]:
    """Both of the above; returns the stored events."""
    events = assert_read_models_are_the_fold(system)
    assert_each_event_applied_once(system, events)
    return events
