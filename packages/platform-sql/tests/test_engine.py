from __future__ import annotations

import json
import threading
import time

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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool


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


# --------------------------------------------------------------------------- ping after idle
def _idle_pinging_engine(database_url, seconds: float):
    config = DatabaseConfig(
        url=database_url.render_as_string(hide_password=False),
        pool_ping_after_idle_seconds=seconds,
    )
    engine = create_database_engine(config)
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return engine, pings


def _backend(engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")))


def _terminate(database_url, pid: int) -> None:
    admin = create_engine(database_url, poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # The backend is gone once no session of that pid is listed.
    deadline = time.monotonic() + 5
    with admin.connect() as connection:
        while time.monotonic() < deadline and connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ):
            time.sleep(0.02)
    admin.dispose()


def test_without_an_idle_threshold_every_checkout_is_pinged():
    engine = create_database_engine(DatabaseConfig(url="postgresql+psycopg://w@db:5432/app"))
    assert engine.pool._pre_ping is True
    idle = create_database_engine(
        DatabaseConfig(url="postgresql+psycopg://w@db:5432/app", pool_ping_after_idle_seconds=5)
    )
    assert idle.pool._pre_ping is False


@pytest.mark.postgres
def test_a_connection_used_within_the_threshold_is_not_pinged(database_url):
    engine, pings = _idle_pinging_engine(database_url, 60)
    first = _backend(engine)
    for _ in range(3):
        assert _backend(engine) == first
    assert pings == []
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_idle_past_the_threshold_is_pinged_and_kept_when_alive(database_url):
    engine, pings = _idle_pinging_engine(database_url, 0.2)
    first = _backend(engine)
    time.sleep(0.3)
    assert _backend(engine) == first
    assert pings == [1]
    engine.dispose()


@pytest.mark.postgres
def test_a_dead_connection_idle_past_the_threshold_is_replaced_before_use(database_url):
    engine, pings = _idle_pinging_engine(database_url, 0.2)
    first = _backend(engine)
    _terminate(database_url, first)  # e.g. the proxy closed it while the container was frozen
    time.sleep(0.3)
    second = _backend(engine)  # no error reaches the caller
    assert second != first
    assert pings == [1]
    engine.dispose()


@pytest.mark.postgres
def test_a_dead_connection_within_the_threshold_fails_once_then_is_replaced(database_url):
    # What the caller's retry is for (the projector runs the batch again on a new connection).
    engine, pings = _idle_pinging_engine(database_url, 60)
    first = _backend(engine)
    _terminate(database_url, first)
    with pytest.raises(OperationalError) as failed:
        _backend(engine)
    assert failed.value.connection_invalidated
    assert _backend(engine) != first
    assert pings == []
    engine.dispose()
