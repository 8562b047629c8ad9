"""The query API's configuration: environment variable names, written once, and one settings model.

The stack imports these names to set the function's environment, so a name cannot drift between
the code that reads it and the code that sets it. The database variables are platform-sql's
(``DATABASE_URL``, ``DATABASE_IAM_AUTH`` ...), shared with every projection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from platform_sql import (
    DATABASE_ATTACH_ENV,
    DATABASE_IAM_AUTH_ENV,
    DATABASE_SECRET_ARN_ENV,
    DATABASE_SSLMODE_ENV,
    DATABASE_SSLROOTCERT_ENV,
    DATABASE_URL_ENV,
    DatabaseConfig,
    DatabaseConfigError,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

MEMBER: Final = "query-api"
"""The workspace member whose package is this function's zip."""
HANDLER: Final = "query_api.handler.lambda_handler"

CURSOR_SIGNING_KEY_ENV: Final = "QUERY_API_CURSOR_SIGNING_KEY"
"""HMAC key that signs pagination cursors (at least 32 characters). Changing it invalidates every
cursor in flight: clients get a 422 and start again from the first page."""

TRACING_ENABLED_ENV: Final = "TRACING_ENABLED"
"""``true``: X-Ray through powertools' Tracer. Off by default: the X-Ray SDK costs about as much
cold-start time as importing boto3."""
SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL_ENV: Final = "POWERTOOLS_LOG_LEVEL"
SERVICE_NAME: Final = MEMBER
"""The value the stack gives ``POWERTOOLS_SERVICE_NAME`` (and the database application_name)."""

MIN_SIGNING_KEY_LENGTH: Final = 32

__all__ = [
    "CURSOR_SIGNING_KEY_ENV",
    "DATABASE_ATTACH_ENV",
    "DATABASE_IAM_AUTH_ENV",
    "DATABASE_SECRET_ARN_ENV",
    "DATABASE_SSLMODE_ENV",
    "DATABASE_SSLROOTCERT_ENV",
    "DATABASE_URL_ENV",
    "HANDLER",
    "LOG_LEVEL_ENV",
    "MEMBER",
    "METRICS_NAMESPACE_ENV",
    "SERVICE_NAME",
    "SERVICE_NAME_ENV",
    "TRACING_ENABLED_ENV",
    "QuerySettings",
    "SettingsError",
]


class SettingsError(Exception):
    """The environment does not configure the query API; raised at cold start, never per request."""


class QuerySettings(BaseModel):
    """Everything the query API reads from its environment, validated once per container."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: DatabaseConfig
    cursor_signing_key: SecretStr = Field(min_length=MIN_SIGNING_KEY_LENGTH)
    tracing_enabled: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> QuerySettings:
        env = os.environ if environ is None else environ
        try:
            database = DatabaseConfig.from_environment(env, application_name=SERVICE_NAME)
        except DatabaseConfigError as error:
            raise SettingsError(str(error)) from error
        key = env.get(CURSOR_SIGNING_KEY_ENV)
        if not key:
            msg = f"{CURSOR_SIGNING_KEY_ENV} is not set"
            raise SettingsError(msg)
        if len(key) < MIN_SIGNING_KEY_LENGTH:
            # The key's value must never reach a log line, so name the rule, not the input.
            msg = f"{CURSOR_SIGNING_KEY_ENV} must be at least {MIN_SIGNING_KEY_LENGTH} characters"
            raise SettingsError(msg)
        try:
            return cls.model_validate(
                {
                    "database": database,
                    "cursor_signing_key": key,
                    "tracing_enabled": env.get(TRACING_ENABLED_ENV) or "false",
                }
            )
        except ValidationError as error:
            msg = f"invalid query-api settings: {error}"
            raise SettingsError(msg) from error
