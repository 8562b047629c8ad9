"""The function's configuration: environment variable names, written once, and one settings model.

The stack imports these names to set the functions' environments, so a name cannot drift between
the code that reads it and the code that sets it.
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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from projection_transactions.model import SCHEMA

EVENT_STORE_TABLE_ENV: Final = "EVENT_STORE_TABLE"
"""Name of the DynamoDB event store table (gap repair reads it)."""
PROJECTION_SCHEMA_ENV: Final = "PROJECTION_SCHEMA"
"""Physical schema to write; defaults to ``transactions`` (a rebuild writes a fresh one)."""
WRITER_SECRET_ARN_ENV: Final = "WRITER_SECRET_ARN"  # noqa: S105 - a variable's name
"""Migration only: secret whose password the writer role is given (password logins)."""
SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL_ENV: Final = "POWERTOOLS_LOG_LEVEL"
SERVICE_NAME: Final = "projection-transactions"
MEMBER: Final = "projection-transactions"
"""The workspace member whose package is this function's zip."""
HANDLER: Final = "projection_transactions.handler.lambda_handler"
MIGRATION_HANDLER: Final = "projection_transactions.migrate.lambda_handler"

__all__ = [
    "DATABASE_ATTACH_ENV",
    "DATABASE_IAM_AUTH_ENV",
    "DATABASE_SECRET_ARN_ENV",
    "DATABASE_SSLMODE_ENV",
    "DATABASE_SSLROOTCERT_ENV",
    "DATABASE_URL_ENV",
    "EVENT_STORE_TABLE_ENV",
    "HANDLER",
    "LOG_LEVEL_ENV",
    "MEMBER",
    "METRICS_NAMESPACE_ENV",
    "MIGRATION_HANDLER",
    "PROJECTION_SCHEMA_ENV",
    "SERVICE_NAME",
    "SERVICE_NAME_ENV",
    "WRITER_SECRET_ARN_ENV",
    "MigrationSettings",
    "Settings",
    "SettingsError",
]


class SettingsError(Exception):
    """The environment does not configure the function; raised at cold start, never per batch."""


class Settings(BaseModel):
    """What the projection function reads from its environment, validated once per container."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: DatabaseConfig
    event_store_table: str = Field(min_length=3, max_length=255)
    schema_name: str = Field(default=SCHEMA, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        table = env.get(EVENT_STORE_TABLE_ENV)
        if not table:
            msg = f"{EVENT_STORE_TABLE_ENV} is not set"
            raise SettingsError(msg)
        try:
            return cls(
                database=_database(env),
                event_store_table=table,
                schema_name=env.get(PROJECTION_SCHEMA_ENV) or SCHEMA,
            )
        except ValidationError as error:
            raise SettingsError(str(error)) from error


class MigrationSettings(BaseModel):
    """What the migration entry point reads: the owner's connection, the schema, the writer's
    password source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: DatabaseConfig
    schema_name: str = Field(default=SCHEMA, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    writer_secret_arn: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> MigrationSettings:
        env = os.environ if environ is None else environ
        try:
            return cls(
                database=_database(env),
                schema_name=env.get(PROJECTION_SCHEMA_ENV) or SCHEMA,
                writer_secret_arn=env.get(WRITER_SECRET_ARN_ENV) or None,
            )
        except ValidationError as error:
            raise SettingsError(str(error)) from error


def _database(env: Mapping[str, str]) -> DatabaseConfig:
    try:
        return DatabaseConfig.from_environment(env, application_name=SERVICE_NAME)
    except DatabaseConfigError as error:
        raise SettingsError(str(error)) from error
