from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto import mock_aws
from platform_sql import (
    CachedSecretCredentials,
    Credentials,
    DatabaseConfig,
    DatabaseConfigError,
    IamAuthTokenCredentials,
    create_database_engine,
    credentials_from_config,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url


def test_the_configuration_is_read_from_the_environment():
    config = DatabaseConfig.from_environment(
        {
            "DATABASE_URL": "postgresql+psycopg://writer@proxy.example:5432/app",
            "DATABASE_IAM_AUTH": "true",
            "DATABASE_SSLMODE": "verify-full",
            "DATABASE_SSLROOTCERT": "/opt/rds-ca.pem",
        },
        application_name="tests",
    )
    assert config.iam_auth is True
    assert config.sslmode == "verify-full"
    assert config.application_name == "tests"
    assert config.pool_size == 1


def test_sqlite_schemas_are_read_as_pairs():
    config = DatabaseConfig.from_environment(
        {"DATABASE_URL": "sqlite:///main.db", "DATABASE_ATTACH": "balances=b.db, transactions=t.db"}
    )
    assert config.attach == {"balances": "b.db", "transactions": "t.db"}


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"DATABASE_URL": "not a url"},
        {"DATABASE_URL": "sqlite://", "DATABASE_ATTACH": "balances"},
        {"DATABASE_URL": "sqlite://", "DATABASE_ATTACH": "drop table=x.db"},
        {"DATABASE_URL": "postgresql+psycopg://u@h/d", "DATABASE_IAM_AUTH": "maybe"},
        {"DATABASE_URL": "postgresql+psycopg://u@h/d", "DATABASE_SSLMODE": "sometimes"},
    ],
)
def test_a_bad_configuration_fails_at_cold_start(environ):
    with pytest.raises(DatabaseConfigError):
        DatabaseConfig.from_environment(environ)


def test_credentials_never_travel_without_tls():
    config = DatabaseConfig(url="postgresql+psycopg://writer@db.example/app", iam_auth=True)
    with pytest.raises(DatabaseConfigError, match="sslmode"):
        create_database_engine(config, credentials=lambda: Credentials("token"))


def test_a_password_in_the_url_does_not_mix_with_a_secret():
    config = DatabaseConfig(
        url="postgresql+psycopg://writer:pw@db.example/app", secret_arn="arn", sslmode="require"
    )
    with pytest.raises(DatabaseConfigError, match="password"):
        create_database_engine(config)


def test_iam_auth_and_a_secret_are_exclusive():
    config = DatabaseConfig(
        url="postgresql+psycopg://writer@db.example/app",
        secret_arn="arn",
        iam_auth=True,
        sslmode="require",
    )
    with pytest.raises(DatabaseConfigError, match="not both"):
        create_database_engine(config)


def test_the_postgres_engine_is_small_pre_pinged_and_verifies_tls():
    config = DatabaseConfig(
        url="postgresql+psycopg://writer@db.example:5432/app", iam_auth=True, sslmode="verify-full"
    )
    engine = create_database_engine(config, credentials=lambda: Credentials("token"))
    assert engine.pool.size() == 1
    assert engine.pool._pre_ping is True
    _, cparams = engine.dialect.create_connect_args(engine.url)
    assert cparams["host"] == "db.example"
    assert "password" not in cparams


def test_each_new_connection_logs_in_with_fresh_credentials(database_url):
    calls = []

    def source() -> Credentials:
        calls.append(1)
        return Credentials(password="ignored-by-trust-auth", username=database_url.username)

    config = DatabaseConfig(url=database_url.set(username="nobody").render_as_string(False))
    engine = create_database_engine(config, credentials=source)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT current_user")) == database_url.username
    engine.dispose()
    with engine.connect() as connection:
        connection.scalar(text("SELECT 1"))
    engine.dispose()
    assert len(calls) == 2


def test_an_rds_secret_is_cached_and_re_read_after_its_ttl():
    now = [0.0]
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(
            Name="db", SecretString=json.dumps({"username": "writer", "password": "one"})
        )["ARN"]
        source = CachedSecretCredentials(client, arn, ttl_seconds=60, clock=lambda: now[0])
        assert source() == Credentials(password="one", username="writer")
        client.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"username": "writer", "password": "two"})
        )
        now[0] = 59.0
        assert source().password == "one"
        now[0] = 60.0
        assert source().password == "two"


def test_a_secret_of_another_shape_is_refused_without_echoing_it():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(Name="db", SecretString="hunter2")["ARN"]
        with pytest.raises(DatabaseConfigError) as caught:
            CachedSecretCredentials(client, arn)()
    assert "hunter2" not in str(caught.value)


def test_an_iam_token_is_signed_for_the_url_host_port_and_user():
    class Signer:
        def generate_db_auth_token(self, **arguments):
            return "token:{DBHostname}:{Port}:{DBUsername}".format(**arguments)

    source = IamAuthTokenCredentials(Signer(), make_url("postgresql+psycopg://w@proxy:6432/app"))
    assert source() == Credentials(password="token:proxy:6432:w")


def test_a_real_rds_client_signs_tokens_locally():
    config = DatabaseConfig(
        url="postgresql+psycopg://writer@proxy.example:5432/app", iam_auth=True, sslmode="require"
    )
    source = credentials_from_config(config)
    assert source is not None
    token = source().password
    assert token.startswith("proxy.example:5432/?Action=connect&DBUser=writer")


def test_sqlite_schemas_are_attached_databases_with_real_transactions(tmp_path):
    config = DatabaseConfig(
        url=f"sqlite:///{tmp_path / 'main.db'}", attach={"balances": str(tmp_path / "b.db")}
    )
    engine = create_database_engine(config)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE balances.accounts (id TEXT PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO balances.accounts VALUES ('kept')")
    connection = engine.connect()
    transaction = connection.begin()
    connection.exec_driver_sql("INSERT INTO balances.accounts VALUES ('rolled back')")
    with connection.begin_nested():
        connection.exec_driver_sql("INSERT INTO balances.accounts VALUES ('savepoint')")
    transaction.rollback()
    connection.close()
    with engine.begin() as connection:
        nested = connection.begin_nested()
        connection.exec_driver_sql("INSERT INTO balances.accounts VALUES ('undone')")
        nested.rollback()
        ids = [r[0] for r in connection.exec_driver_sql("SELECT id FROM balances.accounts")]
        mode = connection.exec_driver_sql("PRAGMA balances.journal_mode").scalar()
    assert ids == ["kept"]
    assert mode == "wal"
    assert (tmp_path / "b.db").exists()
    engine.dispose()


def test_sqlite_writers_take_the_write_lock_up_front(tmp_path):
    config = DatabaseConfig(url=f"sqlite:///{tmp_path / 'main.db'}")
    writer = create_database_engine(config)
    second = create_database_engine(config.model_copy(update={"connect_timeout_seconds": 1}))
    with writer.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER)")
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with writer.begin():
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    reader = create_database_engine(config, sqlite_write_lock=False)
    with reader.begin() as connection:
        # A reader is not blocked by a writer's lock (WAL)...
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    release.set()
    thread.join()
    for engine in (writer, second, reader):
        engine.dispose()
