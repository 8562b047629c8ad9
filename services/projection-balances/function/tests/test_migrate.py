from __future__ import annotations

import pytest
from platform_projections import schema_drift
from projection_balances import migrate as migrate_module
from projection_balances.migrate import main
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
def test_the_cli_migrates_postgres_once_then_reports_up_to_date(database_url, capsys):
    url = database_url.render_as_string(hide_password=False)

    assert main(["--database-url", url]) == 0
    assert main(["--database-url", url]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "balances: applied runtime:1 stream positions",
        "balances: applied runtime:2 generations",
        "balances: applied projection:1 accounts",
        "balances: applied projection:2 accounts by generation",
        "balances: up to date",
    ]


@pytest.mark.postgres
def test_a_rebuild_schema_can_be_migrated_beside_the_live_one(database_url, capsys):
    url = database_url.render_as_string(hide_password=False)

    main(["--database-url", url])
    main(["--database-url", url, "--schema", "balances_next"])

    assert "balances_next: applied projection:1 accounts" in capsys.readouterr().out


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
