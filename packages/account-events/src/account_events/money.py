"""Money in events: a ``Decimal`` with two places, never a float; JSON carries it as a string."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

CENT: Final = Decimal("0.01")


def format_money(amount: Decimal) -> str:
    """Two decimal places, no exponent: ``Decimal("12.5")`` -> ``"12.50"``."""
    return f"{amount.quantize(CENT):f}"


def _reject_float(value: object) -> object:
    if isinstance(value, float):
        # A float has already lost exactness; events never carry one.
        msg = "money must be a decimal string, not a float"
        raise ValueError(msg)
    return value


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        msg = "money must be finite"
        raise ValueError(msg)
    if value != value.quantize(CENT):
        msg = "money has at most two decimal places"
        raise ValueError(msg)
    return value.quantize(CENT)


Money = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    AfterValidator(_two_places),
    PlainSerializer(format_money, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["12.50"]}),
]
"""A decimal amount with exactly two places; ``"12.50"`` in JSON, ``Decimal`` in Python."""
