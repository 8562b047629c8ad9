from __future__ import annotations

import pytest
from projection_transactions.settings import MigrationSettings, Settings, SettingsError

URL = "postgresql+psycopg://transactions_writer@proxy.internal:5432/app"


def test_settings_are_read_once_from_the_environment():
    settings = Settings.from_environment(
        {
            "DATABASE_URL": URL,
            "DATABASE_IAM_AUTH": "true",
            "DATABASE_SSLMODE": "verify-full",
            "EVENT_STORE_TABLE": "event-store",
        }
    )
    assert settings.event_store_table == "event-store"
    assert settings.schema_name == "transactions"
    assert settings.database.iam_auth is True
    assert settings.database.application_name == "projection-transactions"


@pytest.mark.parametrize(
    "environ",
    [
        {"DATABASE_URL": URL},
        {"EVENT_STORE_TABLE": "event-store"},
        {"DATABASE_URL": URL, "EVENT_STORE_TABLE": "event-store", "PROJECTION_SCHEMA": "Bad-Name"},
    ],
)
def test_a_missing_or_bad_setting_fails_at_cold_start(environ):
    with pytest.raises(SettingsError):
        Settings.from_environment(environ)


def test_migration_settings_name_the_writer_secret_and_the_schema():
    settings = MigrationSettings.from_environment(
        {
            "DATABASE_URL": "postgresql+psycopg://owner@db.internal/app",
            "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:owner",
            "DATABASE_SSLMODE": "require",
            "WRITER_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:writer",
            "PROJECTION_SCHEMA": "transactions_next",
        }
    )
    assert settings.schema_name == "transactions_next"
    assert settings.writer_secret_arn.endswith(":writer")
