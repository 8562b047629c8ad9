"""The database roles of the whole system in one real Postgres database, as in production: both
projections migrated into it by their own migration entry points (as the owner), then every
role probed with what it must not do.

Each service's own test_roles proves its writer may change its rows and not its tables' shape,
and its reader may not write its model; this module proves what only shows with both schemas
side by side: a writer is confined to its own schema (the other projection's tables and
``public`` are out of reach), the query role is read-only on every schema, and no role but the
migration owner can run DDL anywhere, its own schema and temporary tables included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from platform_projections import QUERY_READER, Projection
from platform_projections.migrations import checked_tables
from platform_projections.positions import runtime_tables
from platform_sql import DatabaseConfig, create_database_engine
from projection_balances.migrate import run as migrate_balances
from projection_balances.projection import PROJECTION as BALANCES
from projection_balances.settings import MigrationSettings as BalancesMigrationSettings
from projection_transactions.migrate import run as migrate_transactions
from projection_transactions.projection import PROJECTION as TRANSACTIONS
from projection_transactions.settings import MigrationSettings as TransactionsMigrationSettings
from sqlalchemy import Engine, Table, text
from tests_integration.database_roles import as_role, refusal, refused

from platform_testing.postgres import throwaway_database

pytestmark = pytest.mark.postgres

PROJECTIONS: tuple[Projection[Any], ...] = (BALANCES, TRANSACTIONS)
WRITERS = {projection.writer_role: projection for projection in PROJECTIONS}
ROLES = (*WRITERS, QUERY_READER)
PUBLIC = "public"


def tables_of(projection: Projection[Any]) -> list[Table]:
    """Every table in a projection's schema: its model, positions, control row, migrations."""
    return [*checked_tables(projection), runtime_tables(projection.schema).migrations]


def row_statements(table: Table) -> list[str]:
    """Reading, adding, changing, removing and truncating ``table``'s rows."""
    name = table.fullname
    column = next(iter(table.columns)).name
    return [
        f"SELECT * FROM {name}",
        f"SELECT * FROM {name} FOR UPDATE",
        f"INSERT INTO {name} DEFAULT VALUES",
        f"UPDATE {name} SET {column} = {column}",
        f"DELETE FROM {name}",
        f"TRUNCATE {name}",
    ]


def write_statements(table: Table) -> list[str]:
    return [s for s in row_statements(table) if not s.startswith("SELECT * FROM") or "FOR" in s]


def ddl_statements() -> list[str]:
    """Creating, changing and dropping objects in every schema of the database, and the
    database-wide DDL: what only the migration owner may do."""
    statements = []
    for schema in (*(p.schema for p in PROJECTIONS), PUBLIC):
        statements += [
            f"CREATE TABLE {schema}.probe (id int)",
            f"CREATE VIEW {schema}.probe_view AS SELECT 1 AS one",
            f"CREATE SEQUENCE {schema}.probe_sequence",
            f"CREATE FUNCTION {schema}.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ]
    for projection in PROJECTIONS:
        for table in tables_of(projection):
            column = next(iter(table.columns)).name
            statements += [
                f"ALTER TABLE {table.fullname} ADD COLUMN probe int",
                f"ALTER TABLE {table.fullname} RENAME TO probe",
                f"CREATE INDEX probe_index ON {table.fullname} ({column})",
                f"DROP TABLE {table.fullname}",
            ]
        statements += [
            f"ALTER SCHEMA {projection.schema} RENAME TO probe",
            f"DROP SCHEMA {projection.schema} CASCADE",
        ]
    return [
        *statements,
        "CREATE SCHEMA probe",
        "CREATE TEMPORARY TABLE probe (id int)",
    ]


@pytest.fixture(scope="module")
def owner(postgres_server_url: str) -> Iterator[Engine]:
    """A fresh database with both projections migrated by their entry points, as the owner."""
    with throwaway_database(postgres_server_url) as url:
        database = DatabaseConfig(url=url.render_as_string(hide_password=False))
        engine = create_database_engine(database.model_copy(update={"pool_size": 2}))
        migrate_balances(BalancesMigrationSettings(database=database), engine=engine)
        migrate_transactions(TransactionsMigrationSettings(database=database), engine=engine)
        yield engine
        engine.dispose()


# ---------------------------------------------------------------------- writers


CROSS_SCHEMA = [
    pytest.param(writer, statement, id=f"{writer}: {statement}")
    for writer, own in WRITERS.items()
    for other in PROJECTIONS
    if other is not own
    for table in tables_of(other)
    for statement in row_statements(table)
]


@pytest.mark.parametrize(("writer", "statement"), CROSS_SCHEMA)
def test_a_writer_cannot_read_or_write_another_projections_schema(
    owner: Engine, writer: str, statement: str
) -> None:
    assert refused(owner, writer, statement)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_writer_still_changes_its_own_rows(owner: Engine, writer: str) -> None:
    # The refusals above are the other schema's, not a writer that can do nothing at all.
    projection = WRITERS[writer]
    for table in checked_tables(projection)[:-1]:
        as_role(owner, writer, f"DELETE FROM {table.fullname}")
    as_role(owner, writer, f"UPDATE {projection.schema}.generations SET active = active")


@pytest.mark.parametrize("writer", WRITERS)
def test_a_writer_cannot_touch_its_schemas_migration_history(owner: Engine, writer: str) -> None:
    migrations = runtime_tables(WRITERS[writer].schema).migrations
    for statement in write_statements(migrations):
        assert refused(owner, writer, statement), statement


# ---------------------------------------------------------------------- the query role

READER_WRITES = [
    pytest.param(statement, id=statement)
    for projection in PROJECTIONS
    for table in tables_of(projection)
    for statement in write_statements(table)
]


@pytest.mark.parametrize("statement", READER_WRITES)
def test_the_query_role_cannot_write_anywhere(owner: Engine, statement: str) -> None:
    assert refused(owner, QUERY_READER, statement)


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.name)
def test_the_query_role_reads_every_read_model(owner: Engine, projection: Projection[Any]) -> None:
    for table in checked_tables(projection):
        as_role(owner, QUERY_READER, f"SELECT * FROM {table.fullname}")


# ---------------------------------------------------------------------- DDL


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        pytest.param(role, statement, id=f"{role}: {statement}")
        for role in ROLES
        for statement in ddl_statements()
    ],
)
def test_no_role_but_the_owner_runs_ddl(owner: Engine, role: str, statement: str) -> None:
    assert refused(owner, role, statement)


@pytest.mark.parametrize("statement", ddl_statements())
def test_the_owner_runs_every_ddl_statement(owner: Engine, statement: str) -> None:
    # The same statements succeed for the migration's login: the refusals are the roles'.
    with owner.connect() as connection, connection.begin() as transaction:
        connection.execute(text(statement))
        transaction.rollback()


def test_no_role_holds_an_attribute_that_bypasses_grants(owner: Engine) -> None:
    with owner.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication,"
                " rolbypassrls, rolcanlogin,"
                " ARRAY(SELECT b.rolname FROM pg_auth_members m"
                "       JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid) AS member_of"
                " FROM pg_roles r WHERE rolname = ANY(:roles)"
            ),
            {"roles": list(ROLES)},
        ).all()
    assert {row.rolname for row in rows} == set(ROLES)
    for row in rows:
        attributes = (row.rolsuper, row.rolcreaterole, row.rolcreatedb, row.rolreplication)
        assert attributes == (False, False, False, False), row.rolname
        assert row.rolbypassrls is False, row.rolname
        assert row.rolcanlogin, row.rolname
        # rds_iam only (on RDS): membership of any other role would lend its privileges.
        assert set(row.member_of) <= {"rds_iam"}, row.rolname


def test_refusals_are_for_privilege_not_for_a_broken_statement(owner: Engine) -> None:
    # A probe that fails for any other reason proves nothing: refused() says so.
    assert refusal(owner, QUERY_READER, "SELECT * FROM balances.no_such_table") == "42P01"
    assert not refused(owner, QUERY_READER, "SELECT * FROM balances.no_such_table")
