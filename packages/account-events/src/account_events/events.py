"""Event payloads of the Account aggregate (names exactly as in shared/CONTRACT.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import Field

from account_events.money import Money
from platform_events import EventPayload, register_event

ACCOUNT: Final = "Account"
"""The aggregate type of every account event."""


class EventType(StrEnum):
    ACCOUNT_OPENED = "AccountOpened"
    MONEY_DEPOSITED = "MoneyDeposited"
    MONEY_WITHDRAWN = "MoneyWithdrawn"
    ACCOUNT_CLOSED = "AccountClosed"


ACCOUNT_EVENT_TYPES: Final = tuple(EventType)


@register_event(EventType.ACCOUNT_OPENED, aggregate_type=ACCOUNT)
class AccountOpened(EventPayload):
    owner: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


@register_event(EventType.MONEY_DEPOSITED, aggregate_type=ACCOUNT)
class MoneyDeposited(EventPayload):
    amount: Money
    reference: str | None = None


@register_event(EventType.MONEY_WITHDRAWN, aggregate_type=ACCOUNT)
class MoneyWithdrawn(EventPayload):
    amount: Money
    reference: str | None = None


@register_event(EventType.ACCOUNT_CLOSED, aggregate_type=ACCOUNT)
class AccountClosed(EventPayload):
    pass


AccountEvent = AccountOpened | MoneyDeposited | MoneyWithdrawn | AccountClosed
