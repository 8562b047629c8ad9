"""The normalized event envelope: what leaves the write side, on the bus, in queues and replays."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_serializer,
    field_validator,
)

from platform_events.errors import MalformedEnvelope

MAX_ID_LENGTH: Final = 255


def _reject_floats(value: JsonValue, path: str) -> None:
    # Binary floats cannot carry money exactly, and DynamoDB refuses them: numbers in payloads
    # are integers, and decimals travel as strings ("12.50"). Every envelope decoded (a replay
    # page holds hundreds) is checked, so the common case walks the values without building
    # paths; only a float found is located by the recursive walk, for the error message.
    if _contains_float(value):
        _locate_float(value, path)


def _contains_float(value: JsonValue) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _locate_float(value: JsonValue, path: str) -> None:
    if isinstance(value, float):
        msg = f"{path}: floats are not allowed in events; send decimals as strings"
        raise ValueError(msg)
    if isinstance(value, dict):
        for key, item in value.items():
            _locate_float(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _locate_float(item, f"{path}[{index}]")


class EventEnvelope(BaseModel):
    """One event, exactly as shared/CONTRACT.md describes it.

    ``payload`` is the event's JSON form (the registry turns it into a typed model);
    ``(stream_id, version)`` is unique and is every consumer's idempotency key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    event_id: UUID
    event_type: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    schema_version: int = Field(ge=1)
    stream_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    aggregate_type: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    correlation_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    causation_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("payload", "metadata")
    @classmethod
    def _no_floats(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        _reject_floats(value, "$")
        return value

    @field_serializer("occurred_at")
    def _rfc3339(self, value: datetime) -> str:
        return format_timestamp(value)

    @property
    def key(self) -> tuple[str, int]:
        """``(stream_id, version)``: the identity every consumer deduplicates on."""
        return (self.stream_id, self.version)

    def to_json(self) -> str:
        """The envelope's canonical JSON text (snake_case, RFC 3339 UTC timestamp)."""
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-compatible dict."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> EventEnvelope:
        """Parse canonical JSON text, raising :class:`MalformedEnvelope` when it is not one."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            raise MalformedEnvelope(_summarize(error)) from error

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventEnvelope:
        """Validate a JSON-compatible dict; :class:`MalformedEnvelope` when it is not one."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise MalformedEnvelope(_summarize(error)) from error


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``: fixed width, so strings sort as times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _summarize(error: ValidationError) -> str:
    parts = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(step) for step in problem["loc"]) or "$"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)
