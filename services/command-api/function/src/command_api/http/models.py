"""Request and response bodies as pydantic models: they validate input and generate the OpenAPI
document, so the two cannot drift. Value rules come from the domain, written once."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Final
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from command_api.domain import values

_DECIMAL_TEXT: Final = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _amount_input(value: Any) -> Decimal:
    # The body is parsed with Decimal for every JSON number, so numbers arrive exact; a float
    # here could only come from a caller bypassing that parser and is refused like any non-number.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise values.InvalidValue(
                "amount", 'must be a decimal such as "12.50" (a string) or a JSON number'
            )
        return Decimal(value)
    raise values.InvalidValue("amount", 'must be a decimal string such as "12.50" or a number')


Owner = Annotated[
    str,
    AfterValidator(values.owner),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": values.OWNER_PATTERN,
            "description": "1..200 characters, no control characters, after trimming "
            "surrounding whitespace (stored trimmed)",
            "examples": ["Ada Lovelace"],
        }
    ),
]
Currency = Annotated[
    str,
    AfterValidator(values.currency),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "ISO 4217 code",
            "examples": ["EUR"],
        }
    ),
]
Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_input),
    AfterValidator(values.amount),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": values.AMOUNT_TEXT_PATTERN},
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 1_000_000_000_000,
                    "multipleOf": 0.01,
                },
            ],
            "description": "greater than 0, at most 1e12, at most 2 decimal places; a decimal "
            "string is preferred, a JSON number is read exactly",
            "examples": ["12.50"],
        }
    ),
]
Reference = Annotated[
    str | None,
    AfterValidator(values.reference),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": values.REFERENCE_MAX_LENGTH,
                    "pattern": values.REFERENCE_PATTERN,
                },
                {"type": "null"},
            ],
            "description": "free text recorded with the movement",
        }
    ),
]


class OpenAccountRequest(BaseModel):
    """Body of ``POST /accounts``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: Owner
    currency: Currency


class MoneyRequest(BaseModel):
    """Body of ``POST /accounts/{account_id}/deposits`` and ``.../withdrawals``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount
    reference: Reference = None


class RecordedEvent(BaseModel):
    """One event a command recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: str = Field(examples=["MoneyDeposited"])
    version: int = Field(ge=1)


class CommandResult(BaseModel):
    """What a successful command answers: the account's new version and the events recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: UUID
    version: int = Field(ge=1, description="the account's version after the command")
    events: list[RecordedEvent]
