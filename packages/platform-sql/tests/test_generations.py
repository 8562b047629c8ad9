"""The reader's half of blue/green: one statement sees the active generation's rows only."""

from __future__ import annotations

import pytest
from platform_sql import (
    DatabaseConfig,
    active_generation,
    create_database_engine,
    in_active_generation,
)
from sqlalchemy import Integer, String, column, select, table, text


@pytest.fixture
def engine():
    engine = create_database_engine(DatabaseConfig(url="sqlite://", attach={"things": ":memory:"}))
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE things.items (generation INTEGER, id TEXT, name TEXT)")
        )
        connection.execute(
            text("CREATE TABLE things.generations (projection TEXT, active INTEGER)")
        )
        connection.execute(
            text(
                "INSERT INTO things.items VALUES (1, 'a', 'old a'), (1, 'b', 'old b'),"
                " (2, 'a', 'new a')"
            )
        )
        connection.execute(text("INSERT INTO things.generations VALUES ('things', 1)"))
    yield engine
    engine.dispose()


items = table(
    "items",
    column("generation", Integer),
    column("id", String),
    column("name", String),
    schema="things",
)


def names(engine) -> list[str]:
    statement = select(items.c.name).where(in_active_generation(items)).order_by(items.c.id)
    with engine.connect() as connection:
        return list(connection.scalars(statement))


def test_only_the_active_generation_is_read_and_a_switch_is_one_update(engine):
    assert names(engine) == ["old a", "old b"]

    with engine.begin() as connection:
        connection.execute(text("UPDATE things.generations SET active = 2"))

    assert names(engine) == ["new a"]


def test_the_filter_is_one_statement_with_a_subquery():
    sql = str(select(items.c.id).where(in_active_generation(items)))

    assert "things.items.generation = (SELECT things.generations.active" in sql
    assert "WHERE things.generations.projection = :projection_1" in sql


def test_another_projection_in_the_schema_can_be_named():
    compiled = active_generation("things", "other").compile()

    assert compiled.params == {"projection_1": "other"}


def test_a_table_without_schema_or_generation_is_refused():
    with pytest.raises(ValueError, match="no schema"):
        in_active_generation(table("items", column("generation", Integer)))
    with pytest.raises(ValueError, match="no 'generation' column"):
        in_active_generation(table("items", column("id", String), schema="things"))
