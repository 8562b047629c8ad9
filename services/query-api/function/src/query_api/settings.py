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

CURSOR_SIGNING_KEY_ENV: Final = "QUERY_API_CURSOR_SIGNING_KEY"
"""HMAC key that signs pagination cursors (at least 32 characters). Changing it invalidates every
cursor in flight: clients get a 422 and start again from the first page."""

SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL_ENV: Final = "POWERTOOLS_LOG_LEVEL"
SERVICE_NAME: Final = "query-api"
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
    "LOG_LEVEL_ENV",
    "METRICS_NAMESPACE_ENV",
    "SERVICE_NAME",
    "SERVICE_NAME_ENV",
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
        try:
            return cls(database=database, cursor_signing_key=SecretStr(key))
        except ValidationError as error:
            # The key's value must never reach a log line, so name the rule, not the input.
            msg = f"{CURSOR_SIGNING_KEY_ENV} must be at least {MIN_SIGNING_KEY_LENGTH} characters"
            raise SettingsError(msg) from error
