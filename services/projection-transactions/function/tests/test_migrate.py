"""The transactions migrations: the table they build, and the steps the deploy-time Lambda
applies (the entry point's own contract is platform-projections' test_migration_entry)."""

from __future__ import annotations

import pytest
from platform_projections import schema_drift
from projection_transactions import migrate as migrate_module
from projection_transactions.projection import PROJECTION
from sqlalchemy import inspect


def test_the_migrations_build_exactly_the_declared_table(engine):
    with engine.connect() as connection:
        assert schema_drift(connection, PROJECTION, "transactions") == []
        inspector = inspect(connection)
        primary = inspector.get_pk_constraint("transactions", schema="transactions")
        checks = inspector.get_check_constraints("transactions", schema="transactions")

    # The primary key is the keyset index of the query's pages, within one generation.
    assert primary["constrained_columns"] == ["generation", "account_id", "version"]
    assert [check["name"] for check in checks] == ["ck_transactions_type"]


@pytest.mark.postgres
def test_the_deploy_time_lambda_reads_its_settings_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))

    first = migrate_module.lambda_handler({}, None)
    second = migrate_module.lambda_handler({}, None)

    assert first == {
        "schema": "transactions",
        "applied": [
            "runtime:1 stream positions",
            "runtime:2 generations",
            "projection:1 transactions",
            "projection:2 transactions by generation",
        ],
    }
    assert second == {"schema": "transactions", "applied": []}
