"""The relay's configuration: environment variable names, written once, and one settings model.

The stack imports these names to set the function's environment, so a name cannot drift between
the code that reads it and the code that sets it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

BUS_TOPIC_ARN_ENV: Final = "EVENT_BUS_TOPIC_ARN"
"""ARN of the SNS FIFO topic every event is published to."""

SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_NAME: Final = "stream-relay"
"""The value the stack gives ``POWERTOOLS_SERVICE_NAME`` (the metrics' ``service`` dimension)."""

MEMBER: Final = "stream-relay"
"""The workspace member whose Lambda package the stack builds."""
HANDLER: Final = "stream_relay.handler.lambda_handler"
"""The Lambda handler, as the function's configuration names it."""

_FIFO_TOPIC_ARN: Final = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,251}\.fifo$"


class SettingsError(Exception):
    """The environment does not configure the relay; raised at cold start, never per record."""


class RelaySettings(BaseModel):
    """Everything the relay reads from its environment, validated once per container."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Only a FIFO topic keeps per-stream order and deduplicates on event_id; publishing to a
    # standard topic would silently lose both guarantees, so refuse to start instead.
    bus_topic_arn: str = Field(pattern=_FIFO_TOPIC_ARN)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RelaySettings:
        env = os.environ if environ is None else environ
        topic_arn = env.get(BUS_TOPIC_ARN_ENV)
        if not topic_arn:
            msg = f"{BUS_TOPIC_ARN_ENV} is not set"
            raise SettingsError(msg)
        try:
            return cls(bus_topic_arn=topic_arn)
        except ValidationError as error:
            msg = f"{BUS_TOPIC_ARN_ENV} is not an SNS FIFO topic ARN: {topic_arn!r}"
            raise SettingsError(msg) from error
