"""Column types that mean the same on Postgres and SQLite.

SQLite has no exact decimal and no time zones: ``Money`` is ``NUMERIC(20, 2)`` on Postgres and
canonical decimal text on SQLite (never REAL), ``UtcDateTime`` is ``timestamptz`` on Postgres and
naive UTC text on SQLite; both hand Python the same values back on either database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import DateTime, Dialect, Numeric, String, TypeDecorator
from sqlalchemy.types import TypeEngine

SQLITE: Final = "sqlite"
MONEY_PRECISION: Final = 20
MONEY_SCALE: Final = 2
_CENT: Final = Decimal(1).scaleb(-MONEY_SCALE)
# 18 integer digits, a sign and a point: the widest NUMERIC(20, 2) value as text.
_MONEY_TEXT_LENGTH: Final = MONEY_PRECISION + 2


class Money(TypeDecorator[Decimal]):
    """An exact amount with two decimal places: ``Decimal`` in Python on every dialect."""

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == SQLITE:
            # SQLite would store NUMERIC as a binary float; text keeps every cent exact.
            return dialect.type_descriptor(String(_MONEY_TEXT_LENGTH))
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = _exact_money(value)
        return f"{exact:f}" if dialect.name == SQLITE else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value) if isinstance(value, str) else _exact_money(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp: ``timestamptz`` on Postgres, naive UTC on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time has no defined instant; guessing a zone would corrupt data silently.
            msg = "naive datetimes are not stored; pass an aware datetime"
            raise ValueError(msg)
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == SQLITE else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _exact_money(value: Any) -> Decimal:
    if isinstance(value, float) or not isinstance(value, Decimal | int):
        # A float has already lost exactness before it reaches the database.
        msg = f"money must be a Decimal, not {type(value).__name__}"
        raise TypeError(msg)
    amount = Decimal(value)
    if not amount.is_finite() or amount != amount.quantize(_CENT):
        msg = f"money has at most {MONEY_SCALE} decimal places: {amount}"
        raise ValueError(msg)
    return amount.quantize(_CENT)
