from __future__ import annotations

import pytest
from platform_projections import Migration, MigrationError, migrate, schema_drift
from platform_sql import DatabaseConfig, create_database_engine
from sqlalchemy import Engine, inspect, text


@pytest.fixture
def fresh_postgres(database_url) -> Engine:
    engine = create_database_engine(
        DatabaseConfig(url=database_url.render_as_string(hide_password=False))
    )
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_migrating_twice_applies_nothing_the_second_time(fresh_postgres, ledger, ledger_migrations):
    first = migrate(fresh_postgres, ledger, ledger_migrations)
    second = migrate(fresh_postgres, ledger, ledger_migrations)

    assert first.applied == (
        "runtime:1 stream positions",
        "runtime:2 generations",
        "projection:1 totals",
    )
    assert second.applied == ()
    with fresh_postgres.connect() as connection:
        recorded = connection.execute(
            text("SELECT track, version, name FROM ledger.schema_migrations ORDER BY 1, 2")
        ).all()
    assert recorded == [
        ("projection", 1, "totals"),
        ("runtime", 1, "stream positions"),
        ("runtime", 2, "generations"),
    ]


@pytest.mark.postgres
def test_a_new_migration_is_applied_on_top(fresh_postgres, ledger, ledger_migrations):
    migrate(fresh_postgres, ledger, ledger_migrations)
    added = Migration(
        2,
        "an index",
        lambda c, schema: c.exec_driver_sql(f"CREATE INDEX ix_owner ON {schema}.totals (owner)"),
    )

    report = migrate(fresh_postgres, ledger, (*ledger_migrations, added))

    assert report.applied == ("projection:2 an index",)
    with fresh_postgres.connect() as connection:
        names = {i["name"] for i in inspect(connection).get_indexes("totals", schema="ledger")}
    assert "ix_owner" in names


@pytest.mark.postgres
def test_a_database_ahead_of_the_code_is_refused(fresh_postgres, ledger, ledger_migrations):
    noop = Migration(2, "later", lambda c, s: None)
    migrate(fresh_postgres, ledger, (*ledger_migrations, noop))

    with pytest.raises(MigrationError, match=r"\[2\]"):
        migrate(fresh_postgres, ledger, ledger_migrations)


@pytest.mark.postgres
def test_a_migration_that_leaves_the_schema_unlike_the_code_fails_and_rolls_back(
    fresh_postgres, ledger
):
    def wrong(connection, schema):
        connection.exec_driver_sql(f"CREATE TABLE {schema}.totals (stream_id text primary key)")

    with pytest.raises(MigrationError, match="does not match"):
        migrate(fresh_postgres, ledger, (Migration(1, "wrong", wrong),))

    with fresh_postgres.connect() as connection:
        assert not inspect(connection).has_schema("ledger")


def test_migration_versions_must_count_from_one(sqlite_engine, ledger, ledger_migrations):
    skipping = (*ledger_migrations, Migration(3, "three", lambda c, s: None))
    with pytest.raises(MigrationError, match="1, 2, 3"):
        migrate(sqlite_engine, ledger, skipping)


def test_sqlite_needs_the_schema_attached(ledger, ledger_migrations):
    engine = create_database_engine(DatabaseConfig(url="sqlite://"))
    with pytest.raises(MigrationError, match="ATTACH"):
        migrate(engine, ledger, ledger_migrations)


def test_drift_names_missing_and_extra_columns(sqlite_engine, ledger):
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE ledger.totals ADD COLUMN extra TEXT")
        assert schema_drift(connection, ledger, "ledger") == ["ledger.totals.extra is extra"]


def test_drift_names_type_changes_and_missing_tables(ledger):
    engine = create_database_engine(DatabaseConfig(url="sqlite://", attach={"ledger": ":memory:"}))
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE ledger.totals (stream_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
            " deposits INTEGER NOT NULL, total REAL NOT NULL, version BIGINT NOT NULL)"
        )
        problems = schema_drift(connection, ledger, "ledger")
    assert "ledger.totals.total is REAL, declared VARCHAR(22)" in problems
    assert "ledger.stream_positions is missing" in problems
