"""A projection service's configuration: environment variable names, written once, and the two
settings models every projection service reads (the projection function's and the migration's).

A service binds them to its projection by subclassing, naming its default schema and its service
name::

    class Settings(ProjectionSettings):
        default_schema = SCHEMA
        service_name = SERVICE_NAME

Stacks import the variable names (through the service's ``settings`` module) to set the
functions' environments, so a name cannot drift between the code that reads it and the code that
sets it. The migration entry point lives in :mod:`platform_projections.migration_entry`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self

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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

EVENT_STORE_TABLE_ENV: Final = "EVENT_STORE_TABLE"
"""Name of the DynamoDB event store table (gap repair reads it)."""
PROJECTION_SCHEMA_ENV: Final = "PROJECTION_SCHEMA"
"""Physical schema to write; defaults to the projection's (a rebuild writes a fresh one)."""
WRITER_SECRET_ARN_ENV: Final = "WRITER_SECRET_ARN"  # noqa: S105 - a variable's name
"""Migration only: secret whose password the writer role is given (password logins)."""
SERVICE_NAME_ENV: Final = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV: Final = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL_ENV: Final = "POWERTOOLS_LOG_LEVEL"
SCHEMA_PATTERN: Final = r"^[a-z_][a-z0-9_]{0,62}$"
"""A physical schema's name: a lower-case identifier Postgres keeps whole."""
PING_AFTER_IDLE_SECONDS: Final = 5.0
"""The projection function pings a pooled connection only after it sat unused this long (a
frozen container's): the projector runs a batch again on a fresh connection when the one it
had is gone, so pinging before every batch would buy nothing but a round trip per batch."""

__all__ = [
    "DATABASE_ATTACH_ENV",
    "DATABASE_IAM_AUTH_ENV",
    "DATABASE_SECRET_ARN_ENV",
    "DATABASE_SSLMODE_ENV",
    "DATABASE_SSLROOTCERT_ENV",
    "DATABASE_URL_ENV",
    "EVENT_STORE_TABLE_ENV",
    "LOG_LEVEL_ENV",
    "METRICS_NAMESPACE_ENV",
    "PROJECTION_SCHEMA_ENV",
    "SCHEMA_PATTERN",
    "SERVICE_NAME_ENV",
    "WRITER_SECRET_ARN_ENV",
    "ProjectionMigrationSettings",
    "ProjectionSettings",
    "SettingsError",
]


class SettingsError(Exception):
    """The environment does not configure the function; raised at cold start, never per batch."""


class _BoundSettings(BaseModel):
    """What both settings models share: the projection they are bound to, the owner's or the
    writer's connection and the physical schema (the projection's own unless told otherwise)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_schema: ClassVar[str]
    """The projection's schema: what ``schema_name`` is unless the environment says otherwise."""
    service_name: ClassVar[str]
    """The service's name: the database connections' ``application_name``."""

    database: DatabaseConfig
    schema_name: str = Field(default="", pattern=SCHEMA_PATTERN)
    """Filled with ``default_schema`` when not given (see ``_bind_schema``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The two public bases stay unbound; a service's subclass must name both.
        if cls.__module__ != __name__ and not (
            "default_schema" in vars(cls) and "service_name" in vars(cls)
        ):
            msg = f"{cls.__qualname__} must set default_schema and service_name"
            raise TypeError(msg)

    @model_validator(mode="before")
    @classmethod
    def _bind_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and "schema_name" not in data:
            return {**data, "schema_name": cls._bound_schema()}
        return data

    @classmethod
    def _bound_schema(cls) -> str:
        try:
            return cls.default_schema
        except AttributeError:
            msg = f"{cls.__qualname__} is not bound to a projection (set default_schema)"
            raise TypeError(msg) from None

    @classmethod
    def _database(cls, env: Mapping[str, str], **defaults: Any) -> DatabaseConfig:
        try:
            return DatabaseConfig.from_environment(
                env, application_name=cls.service_name, **defaults
            )
        except DatabaseConfigError as error:
            raise SettingsError(str(error)) from error

    @classmethod
    def _schema(cls, env: Mapping[str, str]) -> str:
        return env.get(PROJECTION_SCHEMA_ENV) or cls._bound_schema()


class ProjectionSettings(_BoundSettings):
    """What the projection function reads from its environment, validated once per container."""

    event_store_table: str = Field(min_length=3, max_length=255)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        table = env.get(EVENT_STORE_TABLE_ENV)
        if not table:
            msg = f"{EVENT_STORE_TABLE_ENV} is not set"
            raise SettingsError(msg)
        try:
            return cls(
                database=cls._database(env, pool_ping_after_idle_seconds=PING_AFTER_IDLE_SECONDS),
                event_store_table=table,
                schema_name=cls._schema(env),
            )
        except ValidationError as error:
            raise SettingsError(str(error)) from error


class ProjectionMigrationSettings(_BoundSettings):
    """What the migration entry point reads: the owner's connection, the schema, the writer's
    password source."""

    writer_secret_arn: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        try:
            return cls(
                database=cls._database(env),
                schema_name=cls._schema(env),
                writer_secret_arn=env.get(WRITER_SECRET_ARN_ENV) or None,
            )
        except ValidationError as error:
            raise SettingsError(str(error)) from error
