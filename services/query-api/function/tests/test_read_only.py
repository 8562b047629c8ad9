"""The query path cannot write: its database role has SELECT only, and its engine opens read-only
transactions. Both are checked through the query side's own engine (``query_engine``)."""

from __future__ import annotations

import uuid

import pytest
from platform_sql import DatabaseConfig
from query_api.api import build_app
from query_api.database import query_engine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

INSUFFICIENT_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"

WRITES = [
    "INSERT INTO balances.accounts VALUES"
    " (1, '00000000-0000-4000-8000-000000000000', 'Eve', 'EUR', 1000000, 'open', 1, now())",
    "UPDATE balances.accounts SET balance = 1000000",
    "DELETE FROM balances.accounts",
    "TRUNCATE balances.accounts",
    "CREATE TABLE balances.stolen (x int)",
    "CREATE TABLE public.stolen (x int)",
    "ALTER TABLE balances.accounts ADD COLUMN x int",
    "DROP TABLE balances.accounts",
]


@pytest.fixture
def backend():
    """Roles and privileges are Postgres's; SQLite's read-only guard is tested with SQLite."""
    return "postgres"


@pytest.fixture
def reader_url(database_url, admin_engine):
    """A login role like the projection's ``query_reader``: SELECT on balances.accounts and the
    control row naming its active generation, nothing else.
    Roles are cluster-wide, so the name is unique to this test and the role is dropped after."""
    role = f"query_reader_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex  # hex only: safe to spell out in DDL, which takes no parameters
    with admin_engine.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        connection.execute(text(f"GRANT USAGE ON SCHEMA balances TO {role}"))
        connection.execute(text(f"GRANT SELECT ON balances.accounts TO {role}"))
        connection.execute(text(f"GRANT SELECT ON balances.generations TO {role}"))
    yield database_url.set(username=role, password=password)
    with admin_engine.begin() as connection:
        connection.execute(text(f"DROP OWNED BY {role}"))
        connection.execute(text(f"DROP ROLE {role}"))


@pytest.fixture
def reader_engine(reader_url):
    engine = query_engine(DatabaseConfig(url=reader_url.render_as_string(hide_password=False)))
    yield engine
    engine.dispose()


def sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def test_the_query_role_reads_through_the_api(
    read_model, reader_engine, cursors, make_event, lambda_context
):
    row = read_model.put(balance="70.25")
    app = build_app(reader_engine, cursors)

    response = app.resolve(make_event(f"/accounts/{row['account_id']}"), lambda_context)

    assert response["statusCode"] == 200
    with reader_engine.connect() as connection:
        assert (
            connection.execute(text("SELECT current_user")).scalar_one().startswith("query_reader_")
        )


@pytest.mark.parametrize("statement", WRITES)
def test_the_query_role_cannot_write_even_in_a_read_write_transaction(
    read_model, reader_engine, statement
):
    read_model.put()

    with reader_engine.connect() as connection:
        # Lift the engine's read-only mode first, so it is the role's privileges that refuse.
        connection.execute(text("SET TRANSACTION READ WRITE"))
        with pytest.raises(DBAPIError) as raised:
            connection.execute(text(statement))

    assert sqlstate(raised.value) == INSUFFICIENT_PRIVILEGE, raised.value
    with reader_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM balances.accounts")).scalar_one() == 1


def test_the_query_engine_refuses_writes_even_as_a_privileged_user(read_model, engine):
    read_model.put()

    with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.execute(text("DELETE FROM balances.accounts"))

    assert sqlstate(raised.value) == READ_ONLY_TRANSACTION
