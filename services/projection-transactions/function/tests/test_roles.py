"""The transactions table under the roles the migration grants (the grants' contract, on every
table of a projection's schema, is platform-projections' test_roles): the writer runs the
projection and changes rows of ``transactions.transactions`` but not its shape (nor its CHECK);
the query side only reads it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from platform_projections import QUERY_READER, Projector
from platform_sql import DatabaseConfig, create_database_engine
from projection_transactions.projection import PROJECTION
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import ProgrammingError

pytestmark = pytest.mark.postgres
INSUFFICIENT_PRIVILEGE = "42501"
WRITER = PROJECTION.writer_role
ROW = (
    "INSERT INTO transactions.transactions"
    " VALUES (1, 'a', 2, 'e', 'deposit', 1.00, 1.00, NULL, now())"
)


@pytest.fixture
def owner(postgres_engine) -> Engine:
    with postgres_engine.begin() as connection:
        connection.execute(text(ROW))
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
    assert WRITER == "transactions_writer"


def test_the_writer_can_run_the_projection(owner, writer_engine, store, account, record, model):
    events = account("d3.30", "w1")

    result = Projector(PROJECTION, writer_engine, store).handle([record(e) for e in events[1:]])

    assert result.failed_message_ids == ()
    assert [row["balance_after"] for row in model(owner)[events[0].stream_id]] == [
        Decimal("3.30"),
        Decimal("2.30"),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transactions.transactions SET reference = 'x' WHERE account_id = 'a'",
        "DELETE FROM transactions.stream_positions",
        "SELECT * FROM transactions.transactions",
    ],
)
def test_the_writer_may_change_rows_of_its_own_tables(owner, statement):
    as_role(owner, WRITER, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE transactions.transactions ADD COLUMN sneaky int",
        "ALTER TABLE transactions.transactions DROP CONSTRAINT ck_transactions_type",
        "DROP TABLE transactions.transactions",
        "TRUNCATE transactions.transactions",
        "CREATE INDEX sneaky ON transactions.transactions (reference)",
    ],
)
def test_the_writer_cannot_change_its_tables_shape(owner, statement):
    assert refused(owner, WRITER, statement)


def test_the_reader_may_read_the_model(owner):
    as_role(owner, QUERY_READER, "SELECT account_id, balance_after FROM transactions.transactions")


@pytest.mark.parametrize(
    "statement",
    [
        ROW.replace("'a', 2", "'b', 2"),
        "UPDATE transactions.transactions SET amount = 1000000",
        "DELETE FROM transactions.transactions",
    ],
)
def test_the_reader_cannot_write_the_model(owner, statement):
    assert refused(owner, QUERY_READER, statement)
