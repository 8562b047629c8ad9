"""Settings are read once, at cold start, and refuse an environment that cannot work."""

from __future__ import annotations

import pytest
from query_api.settings import (
    CURSOR_SIGNING_KEY_ENV,
    DATABASE_ATTACH_ENV,
    DATABASE_IAM_AUTH_ENV,
    DATABASE_URL_ENV,
    TRACING_ENABLED_ENV,
    QuerySettings,
    SettingsError,
)

KEY = "0123456789abcdef0123456789abcdef"
URL = "postgresql+psycopg://query_reader@proxy.example:5432/app"


def test_a_complete_environment_gives_settings():
    settings = QuerySettings.from_environment(
        {DATABASE_URL_ENV: URL, DATABASE_IAM_AUTH_ENV: "true", CURSOR_SIGNING_KEY_ENV: KEY}
    )

    assert settings.database.url == URL
    assert settings.database.iam_auth is True
    assert settings.database.application_name == "query-api"
    assert settings.cursor_signing_key.get_secret_value() == KEY


def test_sqlite_schemas_are_attached_from_the_environment():
    settings = QuerySettings.from_environment(
        {
            DATABASE_URL_ENV: "sqlite:///.local/main.db",
            DATABASE_ATTACH_ENV: "balances=.local/balances.db",
            CURSOR_SIGNING_KEY_ENV: KEY,
        }
    )

    assert settings.database.attach == {"balances": ".local/balances.db"}


def test_a_missing_database_url_is_refused():
    with pytest.raises(SettingsError, match=DATABASE_URL_ENV):
        QuerySettings.from_environment({CURSOR_SIGNING_KEY_ENV: KEY})


def test_a_missing_signing_key_is_refused():
    with pytest.raises(SettingsError, match=CURSOR_SIGNING_KEY_ENV):
        QuerySettings.from_environment({DATABASE_URL_ENV: URL})


def test_a_short_signing_key_is_refused_without_showing_it():
    with pytest.raises(SettingsError, match="at least 32") as raised:
        QuerySettings.from_environment(
            {DATABASE_URL_ENV: URL, CURSOR_SIGNING_KEY_ENV: "short-secret"}
        )

    assert "short-secret" not in str(raised.value)
    assert "short-secret" not in repr(raised.value.__cause__)


def test_the_signing_key_is_not_in_the_settings_repr():
    settings = QuerySettings.from_environment({DATABASE_URL_ENV: URL, CURSOR_SIGNING_KEY_ENV: KEY})

    assert KEY not in repr(settings)


def test_tracing_is_off_unless_enabled():
    base = {DATABASE_URL_ENV: URL, CURSOR_SIGNING_KEY_ENV: KEY}

    assert QuerySettings.from_environment(base).tracing_enabled is False
    assert QuerySettings.from_environment({**base, TRACING_ENABLED_ENV: "true"}).tracing_enabled
    with pytest.raises(SettingsError, match="tracing_enabled"):
        QuerySettings.from_environment({**base, TRACING_ENABLED_ENV: "perhaps"})
