"""The bank-account domain's events. Importing this module registers them."""

from account_events.events import (
    ACCOUNT,
    ACCOUNT_EVENT_TYPES,
    AccountClosed,
    AccountEvent,
    AccountOpened,
    EventType,
    MoneyDeposited,
    MoneyWithdrawn,
)
from account_events.money import Money, format_money

__all__ = [
    "ACCOUNT",
    "ACCOUNT_EVENT_TYPES",
    "AccountClosed",
    "AccountEvent",
    "AccountOpened",
    "EventType",
    "Money",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "format_money",
]
