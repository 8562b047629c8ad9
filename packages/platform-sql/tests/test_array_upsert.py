"""ArrayUpsert on Postgres: many rows as one statement (one JSON parameter through
json_to_recordset), guards and column types as the executemany upsert has them, and two upserts
sent as one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from platform_sql import (
    ArrayUpsert,
    DatabaseConfig,
    Money,
    UtcDateTime,
    create_database_engine,
    execute_together,
)
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, event, select
from sqlalchemy.exc import StatementError

pytestmark = pytest.mark.postgres

metadata = MetaData()
balances = Table(
    "balances",
    metadata,
    Column("key", Text, primary_key=True),
    Column("amount", Money, nullable=False),
    Column("at", UtcDateTime, nullable=True),
    Column("version", BigInteger, nullable=False),
)
marks = Table(
    "marks",
    metadata,
    Column("key", Text, primary_key=True),
    Column("version", BigInteger, nullable=False),
)
T = datetime(2026, 1, 1, tzinfo=UTC)


def guarded(table: Table, prefix: str) -> ArrayUpsert:
    return ArrayUpsert.build(
        table,
        [c.name for c in table.columns],
        key=["key"],
        where=lambda excluded: table.c.version < excluded.version,
        prefix=prefix,
    )


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(
        DatabaseConfig(url=database_url.render_as_string(hide_password=False))
    )
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def content(engine, table):
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(select(table))}


def test_rows_are_inserted_and_updated_behind_the_guard_with_their_types(engine):
    upsert = guarded(balances, "b_")
    with engine.begin() as connection:
        connection.execute(
            upsert.statement,
            upsert.bind(
                [{"key": "a", "amount": Decimal("1.50"), "at": T, "version": 2}]
            ).parameters,
        )
        bound = upsert.bind(
            [
                {"key": "a", "amount": Decimal("9.99"), "at": None, "version": 1},  # stale
                {"key": "b", "amount": Decimal("-0.01"), "at": None, "version": 1},
            ]
        )
        connection.execute(upsert.statement, bound.parameters)
    assert content(engine, balances) == {
        "a": (Decimal("1.50"), T, 2),
        "b": (Decimal("-0.01"), None, 1),
    }


def test_each_value_passes_its_column_type_checks(engine):
    upsert = guarded(balances, "b_")
    bound = upsert.bind([{"key": "a", "amount": Decimal("0.001"), "at": T, "version": 1}])
    with pytest.raises(StatementError, match="decimal places"), engine.begin() as connection:
        connection.execute(upsert.statement, bound.parameters)
    assert content(engine, balances) == {}


def test_values_arrive_exact_whatever_their_size_zone_or_characters(engine):
    # Wider than a binary float holds: a float anywhere on the way would lose the last cents.
    wide = Decimal("123456789012345678.99")
    local = datetime(2026, 1, 1, 3, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    awkward = 'é "quoted" {braces}, commas\\ and \n lines'
    upsert = guarded(balances, "b_")
    rows = [
        {"key": awkward, "amount": wide, "at": local, "version": 1},
        {"key": "min", "amount": -wide, "at": None, "version": 1},
    ]
    with engine.begin() as connection:
        connection.execute(upsert.statement, upsert.bind(rows).parameters)
    assert content(engine, balances) == {
        awkward: (wide, datetime(2026, 1, 1, 22, 0, tzinfo=UTC) - timedelta(days=1), 1),
        "min": (-wide, None, 1),
    }


def test_a_value_no_column_type_can_encode_is_refused(engine):
    upsert = guarded(marks, "m_")
    bound = upsert.bind([{"key": "a", "version": object()}])
    with pytest.raises(StatementError, match="cannot travel"), engine.begin() as connection:
        connection.execute(upsert.statement, bound.parameters)
    assert content(engine, marks) == {}


def test_two_upserts_are_one_statement_and_both_apply(engine):
    first, last = guarded(balances, "b_"), guarded(marks, "m_")
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    for version in (1, 2):
        with engine.begin() as connection:
            execute_together(
                connection,
                first.bind([{"key": "a", "amount": Decimal(version), "at": T, "version": version}]),
                last.bind([{"key": "a", "version": version}, {"key": "z", "version": version}]),
            )
    assert len(sent) == 2
    assert content(engine, balances) == {"a": (Decimal("2.00"), T, 2)}
    assert content(engine, marks) == {"a": (2,), "z": (2,)}
