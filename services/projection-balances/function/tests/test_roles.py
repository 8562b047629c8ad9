"""The balances tables under the roles the migration grants (the grants' contract, on every table
of a projection's schema, is platform-projections' test_roles): the writer runs the projection
and changes rows of ``balances.accounts`` but not its shape; the query side only reads it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from platform_projections import QUERY_READER, Projector
from platform_sql import DatabaseConfig, create_database_engine
from projection_balances.projection import PROJECTION
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import ProgrammingError

pytestmark = pytest.mark.postgres
INSUFFICIENT_PRIVILEGE = "42501"
WRITER = PROJECTION.writer_role


@pytest.fixture
def owner(postgres_engine) -> Engine:
    with postgres_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO balances.accounts"
                " VALUES (1, 'a', 'ann', 'EUR', 1.00, 'open', 1, now())"
            )
        )
    return postgres_engine


def as_role(engine: Engine, role: str, statement: str) -> None:
    with engine.connect() as connection, connection.begin():
        connection.execute(text(f'SET LOCAL ROLE "{role}"'))
        connection.execute(text(statement))


def refused(engine: Engine, role: str, statement: str) -> bool:
    try:
        as_role(engine, role, statement)
    except ProgrammingError as error:
        return getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    return False


@pytest.fixture
def writer_engine(database_url) -> Iterator[Engine]:
    """An engine whose every connection works as the writer role."""
    engine = create_database_engine(DatabaseConfig(url=database_url.render_as_string(False)))

    @event.listens_for(engine, "connect")
    def become_writer(dbapi_connection, _record):
        dbapi_connection.autocommit = True
        dbapi_connection.execute(f'SET ROLE "{WRITER}"')
        dbapi_connection.autocommit = False

    yield engine
    engine.dispose()


def test_the_writer_role_is_the_projections_own():
    assert WRITER == "balances_writer"


def test_the_writer_can_run_the_projection(owner, writer_engine, store, account, record, model):
    events = account("d3.30")

    result = Projector(PROJECTION, writer_engine, store).handle([record(e) for e in events])

    assert result.failed_message_ids == ()
    assert model(owner)[events[0].stream_id]["balance"] == Decimal("3.30")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE balances.accounts SET balance = 2 WHERE account_id = 'a'",
        "DELETE FROM balances.stream_positions",
        "SELECT * FROM balances.accounts",
    ],
)
def test_the_writer_may_change_rows_of_its_own_tables(owner, statement):
    as_role(owner, WRITER, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE balances.accounts ADD COLUMN sneaky int",
        "DROP TABLE balances.accounts",
        "TRUNCATE balances.accounts",
        "CREATE INDEX sneaky ON balances.accounts (currency)",
    ],
)
def test_the_writer_cannot_change_its_tables_shape(owner, statement):
    assert refused(owner, WRITER, statement)


def test_the_reader_may_read_the_model(owner):
    as_role(owner, QUERY_READER, "SELECT account_id, balance FROM balances.accounts")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO balances.accounts VALUES (1, 'b', 'bob', 'EUR', 0, 'open', 1, now())",
        "UPDATE balances.accounts SET balance = 1000000",
        "DELETE FROM balances.accounts",
    ],
)
def test_the_reader_cannot_write_the_model(owner, statement):
    assert refused(owner, QUERY_READER, statement)
