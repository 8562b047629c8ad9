"""The function's configuration, bound to the transactions projection: the environment variable
names (written once, in :mod:`platform_projections.service`) and its two settings models.

The stack imports these names to set the functions' environments, so a name cannot drift between
the code that reads it and the code that sets it.
"""

from __future__ import annotations

from typing import Final

from platform_projections.service import (
    DATABASE_ATTACH_ENV,
    DATABASE_IAM_AUTH_ENV,
    DATABASE_SECRET_ARN_ENV,
    DATABASE_SSLMODE_ENV,
    DATABASE_SSLROOTCERT_ENV,
    DATABASE_URL_ENV,
    EVENT_STORE_TABLE_ENV,
    LOG_LEVEL_ENV,
    METRICS_NAMESPACE_ENV,
    PROJECTION_SCHEMA_ENV,
    SERVICE_NAME_ENV,
    WRITER_SECRET_ARN_ENV,
    ProjectionMigrationSettings,
    ProjectionSettings,
    SettingsError,
)

from projection_transactions.model import SCHEMA

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


class Settings(ProjectionSettings):
    """What the projection function reads from its environment."""

    default_schema = SCHEMA
    service_name = SERVICE_NAME


class MigrationSettings(ProjectionMigrationSettings):
    """What the migration entry point reads from its environment."""

    default_schema = SCHEMA
    service_name = SERVICE_NAME
