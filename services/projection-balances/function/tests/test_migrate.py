"""The balances migrations: the tables they build, and the steps the deploy-time Lambda applies
(the entry point's own contract is platform-projections' test_migration_entry)."""

from __future__ import annotations

import pytest
from platform_projections import schema_drift
from projection_balances import migrate as migrate_module
from projection_balances.projection import PROJECTION
from sqlalchemy import inspect


def test_the_migrations_build_exactly_the_declared_tables(engine):
    with engine.connect() as connection:
        assert schema_drift(connection, PROJECTION, "balances") == []
        indexes = {
            i["name"] for i in inspect(connection).get_indexes("accounts", schema="balances")
        }
    assert indexes == {
        "ix_accounts_owner_account_id",
        "ix_accounts_status_account_id",
        "ix_accounts_owner_status_account_id",
    }


@pytest.mark.postgres
def test_the_deploy_time_lambda_reads_its_settings_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))

    first = migrate_module.lambda_handler({}, None)
    second = migrate_module.lambda_handler({}, None)

    assert first == {
        "schema": "balances",
        "applied": [
            "runtime:1 stream positions",
            "runtime:2 generations",
            "projection:1 accounts",
            "projection:2 accounts by generation",
        ],
    }
    assert second == {"schema": "balances", "applied": []}
