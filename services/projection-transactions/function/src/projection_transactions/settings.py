"""The transactions projection's configuration: its two settings models and the environment
variable names (``*_ENV``, written once in :mod:`platform_projections.service`), re-exported for
the stack so a name cannot drift between the code that reads it and the code that sets it."""

from __future__ import annotations

from typing import Final

from platform_projections.service import *  # noqa: F403 - the *_ENV names and SettingsError
from platform_projections.service import ProjectionMigrationSettings, ProjectionSettings

from projection_transactions.model import SCHEMA

SERVICE_NAME: Final = "projection-transactions"
MEMBER: Final = "projection-transactions"
"""The workspace member whose package is this function's zip."""
HANDLER: Final = "projection_transactions.handler.lambda_handler"
MIGRATION_HANDLER: Final = "projection_transactions.migrate.lambda_handler"


class Settings(ProjectionSettings):
    """What the projection function reads from its environment."""

    default_schema = SCHEMA
    service_name = SERVICE_NAME


class MigrationSettings(ProjectionMigrationSettings):
    """What the migration entry point reads from its environment."""

    default_schema = SCHEMA
    service_name = SERVICE_NAME
