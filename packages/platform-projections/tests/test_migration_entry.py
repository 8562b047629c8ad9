"""The migration entry point contract every projection service binds
(``platform_projections.migration_entry``), on the ledger's binding: the console script, the
deploy-time Lambda and ``run`` (the local runner's), on Postgres and on SQLite files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import boto3
import pytest
from moto import mock_aws
from platform_sql import DatabaseConfig, create_database_engine
from sqlalchemy import text

LEDGER_STEPS = [
    "runtime:1 stream positions",
    "runtime:2 generations",
    "projection:1 totals",
]


@pytest.mark.postgres
def test_the_cli_migrates_postgres_once_then_reports_up_to_date(ledger_entry, database_url, capsys):
    url = database_url.render_as_string(hide_password=False)

    assert ledger_entry.main(["--database-url", url]) == 0
    assert ledger_entry.main(["--database-url", url]) == 0

    assert capsys.readouterr().out.splitlines() == [
        *(f"ledger: applied {step}" for step in LEDGER_STEPS),
        "ledger: up to date",
    ]


@pytest.mark.postgres
def test_a_rebuild_schema_can_be_migrated_beside_the_live_one(ledger_entry, database_url, capsys):
    url = database_url.render_as_string(hide_password=False)

    ledger_entry.main(["--database-url", url])
    ledger_entry.main(["--database-url", url, "--schema", "ledger_next"])

    assert "ledger_next: applied projection:1 totals" in capsys.readouterr().out


def test_the_cli_migrates_sqlite_files_attached_by_schema(ledger_entry, tmp_path, capsys):
    main_db, ledger_db = tmp_path / "main.db", tmp_path / "ledger.db"
    arguments = ["--database-url", f"sqlite:///{main_db}", "--attach", f"ledger={ledger_db}"]

    assert ledger_entry.main(arguments) == 0
    assert ledger_entry.main(arguments) == 0

    assert capsys.readouterr().out.splitlines() == [
        *(f"ledger: applied {step}" for step in LEDGER_STEPS),
        "ledger: up to date",
    ]
    assert ledger_db.stat().st_size > 0


def test_the_cli_flags_override_the_environment(ledger_entry, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///nowhere/never.db")
    monkeypatch.setenv("DATABASE_ATTACH", "ledger=nowhere/never.db")
    monkeypatch.setenv("PROJECTION_SCHEMA", "nowhere")
    arguments = [
        "--database-url",
        f"sqlite:///{tmp_path / 'main.db'}",
        "--attach",
        f"ledger_b={tmp_path / 'ledger_b.db'}",
        "--schema",
        "ledger_b",
    ]

    assert ledger_entry.main(arguments) == 0

    assert capsys.readouterr().out.splitlines()[-1] == "ledger_b: applied projection:1 totals"


def test_the_cli_is_named_and_documented_after_the_service(ledger_entry, capsys):
    with pytest.raises(SystemExit):
        ledger_entry.main(["--help"])

    out = capsys.readouterr().out
    assert out.startswith("usage: ledger-service-migrate")
    assert "Apply the ledger projection's schema migrations and grant its roles." in out
    assert "$PROJECTION_SCHEMA or ledger" in " ".join(out.split())


@pytest.mark.postgres
def test_the_deploy_time_lambda_reads_its_settings_from_the_environment(
    ledger_entry, database_url, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))

    first = ledger_entry.lambda_handler({}, None)
    second = ledger_entry.lambda_handler({}, None)

    assert first == {"schema": "ledger", "applied": LEDGER_STEPS}
    assert second == {"schema": "ledger", "applied": []}


def test_run_on_a_given_engine_leaves_it_to_the_caller(
    ledger_entry, ledger_migration_settings, tmp_path
):
    config = DatabaseConfig(
        url=f"sqlite:///{tmp_path / 'main.db'}", attach={"ledger": str(tmp_path / "ledger.db")}
    )
    engine = create_database_engine(config)

    report = ledger_entry.run(ledger_migration_settings(database=config), engine=engine)

    assert report.applied == tuple(LEDGER_STEPS)
    with engine.connect() as connection:  # still usable: run did not dispose of it
        assert connection.execute(text("SELECT count(*) FROM ledger.totals")).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
def test_the_writers_password_comes_from_its_secret(
    ledger_entry, ledger_migration_settings, database_url, monkeypatch
):
    url = database_url.render_as_string(hide_password=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        secret = boto3.client("secretsmanager").create_secret(
            Name="ledger-writer",
            SecretString=json.dumps({"username": "ledger_writer", "password": "s3cret-pw"}),
        )
        settings = ledger_migration_settings(
            database=DatabaseConfig(url=url), writer_secret_arn=secret["ARN"]
        )
        ledger_entry.run(settings)

    engine = create_database_engine(DatabaseConfig(url=url))
    with engine.connect() as connection:
        can_login, verifier = connection.execute(
            text("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = 'ledger_writer'")
        ).one()
    engine.dispose()
    assert can_login is True
    assert scram_matches(verifier, "s3cret-pw")
    assert not scram_matches(verifier, "another")


def scram_matches(verifier: str, password: str) -> bool:
    """Whether Postgres' SCRAM-SHA-256 verifier (``pg_authid.rolpassword``) is ``password``'s."""
    method, _, rest = verifier.partition("$")
    iterations_salt, _, keys = rest.partition("$")
    iterations, _, salt = iterations_salt.partition(":")
    stored_key = keys.partition(":")[0]
    assert method == "SCRAM-SHA-256"
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key
