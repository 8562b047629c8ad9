"""The contract's value rules, written once: commands enforce them and request models reuse them."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

OWNER_MAX_LENGTH: Final = 200
REFERENCE_MAX_LENGTH: Final = 255
MAX_AMOUNT: Final = Decimal("1000000000000")
"""1e12, inclusive."""
CENT: Final = Decimal("0.01")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
# Control characters: PostgreSQL's text cannot hold NUL, so an event carrying one could never be
# projected and would stop its stream's read models; the others have no place in a name either.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_WHITESPACE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# The same rules as JSON Schema patterns, for the OpenAPI document. They use only escapes that
# every regex dialect reads alike (ECMA 262, Python, Rust), and spell out the whitespace that
# str.strip() trims, since each dialect's \s means something slightly different.
_STRIPPED: Final = (
    r"\t\n\x0b\x0c\r\x1c-\x1f\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NAME_CHARACTER: Final = r"[^\x00-\x1f\x7f]"
_NAME_EDGE: Final = r"[^\x00-\x1f\x7f\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
OWNER_PATTERN: Final = (
    f"^[{_STRIPPED}]*{_NAME_EDGE}(?:{_NAME_CHARACTER}{{0,{OWNER_MAX_LENGTH - 2}}}{_NAME_EDGE})?"
    f"[{_STRIPPED}]*$"
)
"""What ``owner`` accepts: 1..200 characters, none a control, once surrounding whitespace is
trimmed (which may be of any length)."""
REFERENCE_PATTERN: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""What ``reference`` accepts besides its length: no control character but tab, CR and LF."""
AMOUNT_TEXT_PATTERN: Final = r"^\+?[0-9]+(\.[0-9]{1,2}0*)?$"
"""Every decimal string ``amount`` can accept (its range is checked on the value): digits, at
most two significant decimals, an optional plus sign."""


class InvalidValue(ValueError):
    """A command field breaks a rule of the contract; ``field`` names it for the client."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def owner(value: str) -> str:
    """The owner's name, trimmed: 1..200 characters."""
    trimmed = value.strip()
    if not trimmed:
        raise InvalidValue("owner", "must not be empty or only whitespace")
    if _CONTROL.search(trimmed):
        raise InvalidValue("owner", "must not contain control characters")
    if len(trimmed) > OWNER_MAX_LENGTH:
        raise InvalidValue("owner", f"must be at most {OWNER_MAX_LENGTH} characters")
    return trimmed


def currency(value: str) -> str:
    """An ISO 4217 code as the contract defines it: three upper-case ASCII letters."""
    if not _CURRENCY.fullmatch(value):
        raise InvalidValue("currency", "must be an ISO 4217 code (three upper-case letters)")
    return value


def amount(value: Decimal) -> Decimal:
    """A positive amount of at most 1e12 with at most two decimal places, as ``Decimal("x.yy")``."""
    if not value.is_finite():
        raise InvalidValue("amount", "must be a finite number")
    if value <= 0:
        raise InvalidValue("amount", "must be greater than 0")
    # Range before quantize: quantizing a huge exponent would exceed the decimal context.
    if value > MAX_AMOUNT:
        raise InvalidValue("amount", "must be at most 1000000000000")
    if value != value.quantize(CENT):
        raise InvalidValue("amount", "must have at most 2 decimal places")
    return value.quantize(CENT)


def reference(value: str | None) -> str | None:
    """A free-text reference the client attaches to a movement (optional)."""
    if value is None:
        return None
    if len(value) > REFERENCE_MAX_LENGTH:
        raise InvalidValue("reference", f"must be at most {REFERENCE_MAX_LENGTH} characters")
    if _CONTROL_EXCEPT_WHITESPACE.search(value):
        raise InvalidValue("reference", "must not contain control characters other than whitespace")
    return value
