from __future__ import annotations

import pytest
from platform_sql import DatabaseConfig, create_database_engine, upsert
from sqlalchemy import BigInteger, Column, Engine, MetaData, Table, Text, select

metadata = MetaData()
rows = Table(
    "rows",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text),
    Column("version", BigInteger),
)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request) -> Engine:
    if request.param == "sqlite":
        url = "sqlite://"
    else:
        url = request.getfixturevalue("database_url").render_as_string(hide_password=False)
    engine = create_database_engine(DatabaseConfig(url=url))
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def content(engine):
    with engine.connect() as connection:
        return {r.key: (r.value, r.version) for r in connection.execute(select(rows))}


def test_one_statement_inserts_new_keys_and_updates_existing_ones_behind_a_guard(engine):
    with engine.begin() as connection:
        upsert(connection, rows, [{"key": "a", "value": "a1", "version": 1}], key=["key"])
        upsert(
            connection,
            rows,
            [
                {"key": "a", "value": "a0", "version": 0},
                {"key": "b", "value": "b3", "version": 3},
            ],
            key=["key"],
            where=lambda excluded: rows.c.version < excluded.version,
        )
        upsert(
            connection,
            rows,
            [{"key": "b", "value": "b4", "version": 4}],
            key=["key"],
            where=lambda excluded: rows.c.version < excluded.version,
        )
    assert content(engine) == {"a": ("a1", 1), "b": ("b4", 4)}


def test_rows_of_keys_only_are_inserted_once(engine):
    keys = Table("keys", MetaData(), Column("key", Text, primary_key=True))
    keys.create(engine)
    with engine.begin() as connection:
        upsert(connection, keys, [{"key": "a"}], key=["key"])
        upsert(connection, keys, [{"key": "a"}, {"key": "b"}], key=["key"])
        assert sorted(connection.scalars(select(keys.c.key))) == ["a", "b"]


def test_nothing_to_write_is_a_no_op(engine):
    with engine.begin() as connection:
        upsert(connection, rows, [], key=["key"])
    assert content(engine) == {}
