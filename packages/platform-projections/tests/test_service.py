"""The settings contract every projection service binds (``platform_projections.service``),
exercised on the ledger's binding: what each environment variable means, the projection's
default schema and service name, and failures at cold start."""

from __future__ import annotations

import pytest
from platform_projections import service
from platform_projections.service import (
    ProjectionMigrationSettings,
    ProjectionSettings,
    SettingsError,
)
from platform_sql import DatabaseConfig

URL = "postgresql+psycopg://ledger_writer@proxy.internal:5432/app"


def test_the_variable_names_are_the_ones_stacks_set():
    assert (
        service.EVENT_STORE_TABLE_ENV,
        service.PROJECTION_SCHEMA_ENV,
        service.WRITER_SECRET_ARN_ENV,
        service.SERVICE_NAME_ENV,
        service.METRICS_NAMESPACE_ENV,
        service.LOG_LEVEL_ENV,
        service.DATABASE_URL_ENV,
    ) == (
        "EVENT_STORE_TABLE",
        "PROJECTION_SCHEMA",
        "WRITER_SECRET_ARN",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
        "DATABASE_URL",
    )


def test_settings_are_read_once_from_the_environment(ledger_settings):
    settings = ledger_settings.from_environment(
        {
            "DATABASE_URL": URL,
            "DATABASE_IAM_AUTH": "true",
            "DATABASE_SSLMODE": "verify-full",
            "EVENT_STORE_TABLE": "event-store",
        }
    )
    assert settings.event_store_table == "event-store"
    assert settings.schema_name == "ledger"
    assert settings.database.iam_auth is True
    assert settings.database.application_name == "ledger-service"


def test_the_environment_may_name_another_schema(ledger_settings):
    settings = ledger_settings.from_environment(
        {"DATABASE_URL": URL, "EVENT_STORE_TABLE": "event-store", "PROJECTION_SCHEMA": "ledger_2"}
    )
    assert settings.schema_name == "ledger_2"


@pytest.mark.parametrize(
    "environ",
    [
        {"DATABASE_URL": URL},
        {"EVENT_STORE_TABLE": "event-store"},
        {"DATABASE_URL": URL, "EVENT_STORE_TABLE": "event-store", "PROJECTION_SCHEMA": "Bad-Name"},
        {"DATABASE_URL": URL, "EVENT_STORE_TABLE": "ab"},
    ],
)
def test_a_missing_or_bad_setting_fails_at_cold_start(ledger_settings, environ):
    with pytest.raises(SettingsError):
        ledger_settings.from_environment(environ)


def test_migration_settings_name_the_writer_secret_and_the_schema(ledger_migration_settings):
    settings = ledger_migration_settings.from_environment(
        {
            "DATABASE_URL": "postgresql+psycopg://owner@db.internal/app",
            "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:owner",
            "DATABASE_SSLMODE": "require",
            "WRITER_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:writer",
            "PROJECTION_SCHEMA": "ledger_next",
        }
    )
    assert settings.schema_name == "ledger_next"
    assert settings.writer_secret_arn.endswith(":writer")
    assert settings.database.application_name == "ledger-service"


def test_migration_settings_default_to_the_projections_schema_and_no_writer_secret(
    ledger_migration_settings,
):
    from_environment = ledger_migration_settings.from_environment({"DATABASE_URL": URL})
    built = ledger_migration_settings(database=DatabaseConfig(url=URL))

    assert (from_environment.schema_name, from_environment.writer_secret_arn) == ("ledger", None)
    assert (built.schema_name, built.writer_secret_arn) == ("ledger", None)


@pytest.mark.parametrize("environ", [{}, {"DATABASE_URL": URL, "PROJECTION_SCHEMA": "Bad-Name"}])
def test_bad_migration_settings_fail_before_migrating(ledger_migration_settings, environ):
    with pytest.raises(SettingsError):
        ledger_migration_settings.from_environment(environ)


@pytest.mark.parametrize("base", [ProjectionSettings, ProjectionMigrationSettings])
def test_a_service_must_bind_both_its_schema_and_its_name(base):
    with pytest.raises(TypeError, match="default_schema and service_name"):

        class Half(base):
            default_schema = "half"


def test_the_unbound_bases_refuse_to_be_used():
    with pytest.raises(TypeError, match="not bound"):
        ProjectionMigrationSettings(database=DatabaseConfig(url=URL))
