"""The function's configuration: one model, read from the environment once per container.

The variable names are constants here; the Pulumi stack imports them to set the environment, so
each name is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

MEMBER: Final = "command-api"
"""The workspace member whose package is this function's zip."""
HANDLER: Final = "command_api.handler.lambda_handler"

EVENT_STORE_TABLE_ENV: Final = "EVENT_STORE_TABLE"
IDEMPOTENCY_TTL_SECONDS_ENV: Final = "IDEMPOTENCY_TTL_SECONDS"
MAX_APPEND_ATTEMPTS_ENV: Final = "MAX_APPEND_ATTEMPTS"
TRACING_ENABLED_ENV: Final = "TRACING_ENABLED"
# Powertools reads these two itself as well; the settings pass them explicitly.
SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"

DEFAULT_SERVICE_NAME: Final = "command-api"
DEFAULT_METRICS_NAMESPACE: Final = "cqrs-platform"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_store_table: str = Field(min_length=3, max_length=255)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    """How long an Idempotency-Key answers with its first response."""
    max_append_attempts: int = Field(default=5, ge=1, le=20)
    """Load-decide-append attempts before answering 409 concurrency_conflict."""
    tracing_enabled: bool = False
    """X-Ray through powertools' Tracer; off by default because it costs cold-start time."""
    service_name: str = Field(default=DEFAULT_SERVICE_NAME, min_length=1)
    metrics_namespace: str = Field(default=DEFAULT_METRICS_NAMESPACE, min_length=1)

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(seconds=self.idempotency_ttl_seconds)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from environment variables; unset ones keep their defaults."""
        names = {
            "event_store_table": EVENT_STORE_TABLE_ENV,
            "idempotency_ttl_seconds": IDEMPOTENCY_TTL_SECONDS_ENV,
            "max_append_attempts": MAX_APPEND_ATTEMPTS_ENV,
            "tracing_enabled": TRACING_ENABLED_ENV,
            "service_name": SERVICE_NAME_ENV,
            "metrics_namespace": METRICS_NAMESPACE_ENV,
        }
        return cls.model_validate(
            {field: environ[name] for field, name in names.items() if name in environ}
        )
