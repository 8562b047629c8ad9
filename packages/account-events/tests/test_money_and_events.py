from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from account_events import (
    ACCOUNT,
    AccountClosed,
    AccountOpened,
    EventType,
    MoneyDeposited,
    MoneyWithdrawn,
    format_money,
)
from platform_events import default_registry


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.5", "12.50"), ("12.50", "12.50"), (7, "7.00"), (Decimal("0.01"), "0.01")],
)
def test_money_serializes_with_two_places(raw: object, expected: str) -> None:
    event = MoneyDeposited(amount=raw, reference=None)  # type: ignore[arg-type]
    assert event.model_dump(mode="json")["amount"] == expected
    assert event.model_dump()["amount"] == Decimal(expected)


@pytest.mark.parametrize("raw", [1.5, "1.234", "NaN", "Infinity", "abc", True])
def test_money_refuses_floats_extra_places_and_non_numbers(raw: object) -> None:
    with pytest.raises(ValidationError):
        MoneyWithdrawn(amount=raw)  # type: ignore[arg-type]


def test_format_money_never_uses_exponents() -> None:
    assert format_money(Decimal("1E+3")) == "1000.00"


def test_the_four_types_are_registered_under_the_contracts_names() -> None:
    expected = {
        EventType.ACCOUNT_OPENED: AccountOpened,
        EventType.MONEY_DEPOSITED: MoneyDeposited,
        EventType.MONEY_WITHDRAWN: MoneyWithdrawn,
        EventType.ACCOUNT_CLOSED: AccountClosed,
    }
    for name, model in expected.items():
        info = default_registry.info(name)
        assert (info.model, info.schema_version, info.aggregate_type) == (model, 1, ACCOUNT)
    assert {str(t) for t in EventType} == {
        "AccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
        "AccountClosed",
    }


def test_payloads_are_frozen_and_strict() -> None:
    with pytest.raises(ValidationError):
        AccountOpened(owner="Ada", currency="EUR", extra="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AccountOpened(owner="Ada", currency="eur")
