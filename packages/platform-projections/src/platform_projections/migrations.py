"""Explicit, versioned, repeatable schema migrations for a projection, run at deploy as the owner.

``migrate`` (one transaction; Postgres DDL is transactional, SQLite's too with our BEGIN):

1. takes an advisory lock, so two deploys cannot migrate one schema at once;
2. creates the schema (Postgres) or checks it is ATTACHed (SQLite);
3. applies the runtime's own pending migrations (track ``runtime``: the positions table, then
   generations and their control table), then the projection's (track ``projection``), recording
   each in ``schema_migrations``;
4. checks that the database now matches the projection's declared tables (drift fails the
   deploy instead of the first batch);
5. on Postgres, creates the roles if missing and grants: the writer may read and change only the
   projection's tables and update its control row (no DDL: it owns nothing), readers may only
   SELECT them; nobody but the owner may create anything in the database, temporary tables
   included.

Running it again applies nothing and re-grants: it is safe to run on every deploy. Migrations
are never edited once released; a change appends a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from platform_sql import GENERATION, GENERATIONS_TABLE, UtcDateTime
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateSchema

from platform_projections.generations import FIRST_GENERATION
from platform_projections.positions import POSITIONS_TABLE, runtime_tables
from platform_projections.projection import Projection

QUERY_READER: Final = "query_reader"
"""The read-only role the query side logs in as."""
RUNTIME_TRACK: Final = "runtime"
PROJECTION_TRACK: Final = "projection"
WRITER_PRIVILEGES: Final = "SELECT, INSERT, UPDATE, DELETE"
SCRAM_SHA_256: Final = "scram-sha-256"
"""How a writer's password is stored: the verifier is computed client-side."""
CONTROL_PRIVILEGES: Final = "SELECT, UPDATE"
"""The writer's rights on the control row: read it, lock it, change it; never add or drop one."""


class MigrationError(Exception):
    """The schema cannot be brought to what this code expects."""


@dataclass(frozen=True)
class Migration:
    """One schema change. ``apply(connection, schema)`` runs inside the migration transaction;
    Core DDL on the projection's tables already targets the physical ``schema`` (the connection
    translates it), raw SQL must name ``schema`` itself."""

    version: int
    name: str
    apply: Callable[[Connection, str], None]


@dataclass(frozen=True)
class Roles:
    """Who may do what in the projection's schema (Postgres only)."""

    writer: str
    readers: tuple[str, ...] = (QUERY_READER,)
    writer_password: str | None = field(default=None, repr=False)
    """Set when logins use passwords (RDS Proxy with a Secrets Manager secret per user)."""


@dataclass(frozen=True)
class MigrationReport:
    schema: str
    applied: tuple[str, ...]
    """``track:version name`` of every migration applied by this run (empty when up to date)."""


def runtime_migrations(projection: Projection[Any]) -> tuple[Migration, ...]:
    """The runtime's own tables in a projection's schema, versioned like the projection's.

    Each step spells out the tables as it made them: the declarations in ``positions.py`` move on,
    what a released step did must not.
    """
    logical = projection.schema

    def create_positions(connection: Connection, _schema: str) -> None:
        Table(
            POSITIONS_TABLE,
            MetaData(schema=logical),
            Column("stream_id", Text, primary_key=True),
            Column("version", BigInteger, nullable=False),
            Column("occurred_at", UtcDateTime, nullable=True),
            Column("updated_at", UtcDateTime, nullable=True),
        ).create(connection)

    def generations(connection: Connection, schema: str) -> None:
        # Positions move into generation 1 (a projection's own migration does the same for its
        # tables), and the control row starts with generation 1 active.
        metadata = MetaData(schema=logical)
        positions = Table(
            POSITIONS_TABLE,
            metadata,
            Column(GENERATION, Integer, primary_key=True, autoincrement=False),
            Column("stream_id", Text, primary_key=True),
            Column("version", BigInteger, nullable=False),
            Column("occurred_at", UtcDateTime, nullable=True),
            Column("updated_at", UtcDateTime, nullable=True),
        )
        add_generation(connection, schema, positions)
        control = Table(
            GENERATIONS_TABLE,
            metadata,
            Column("projection", Text, primary_key=True),
            Column("active", Integer, nullable=False),
            Column("building", Integer, nullable=True),
            Column("rebuild", Text, nullable=True),
            Column("promoted_by", Text, nullable=True),
            Column("latest", Integer, nullable=False),
            Column("cleanup", Boolean, nullable=False),
            Column("updated_at", UtcDateTime, nullable=False),
        )
        control.create(connection)
        connection.execute(
            insert(control).values(
                projection=projection.name,
                active=FIRST_GENERATION,
                latest=FIRST_GENERATION,
                cleanup=False,
                updated_at=datetime.now(UTC),
            )
        )

    return (
        Migration(1, "stream positions", create_positions),
        Migration(2, "generations", generations),
    )


def add_generation(connection: Connection, schema: str, table: Table) -> None:
    """Give an existing table the shape ``table`` declares, ``generation`` leading its primary key,
    with every existing row in generation 1. For a projection's migration that moves a released
    table to generations; ``table`` is that table's new shape, spelled out in the migration.

    Neither database alters a primary key in place portably (SQLite cannot at all), so the table is
    copied: created under a temporary name, filled, the old one dropped (its indexes with it), the
    new one renamed, its indexes created. It runs inside ``migrate``'s transaction, at deploy.
    """
    key = list(table.primary_key.columns)
    if not key or key[0].name != GENERATION:
        msg = f"{table.fullname} must lead its primary key with {GENERATION!r}"
        raise MigrationError(msg)
    quote = connection.dialect.identifier_preparer.quote
    staging_name = f"{table.name}__generations"
    staging = table.to_metadata(MetaData(), name=staging_name)
    # Index names are unique per schema on Postgres: they are made once the old table is gone.
    staging.indexes.clear()
    staging.create(connection)
    copied = [column.name for column in table.columns if column.name != GENERATION]
    names = ", ".join(quote(name) for name in copied)
    # Only identifiers the dialect quoted and a constant: no value from outside reaches the SQL.
    copy = (
        f"INSERT INTO {quote(schema)}.{quote(staging_name)} ({quote(GENERATION)}, {names}) "  # noqa: S608
        f"SELECT {FIRST_GENERATION}, {names} FROM {quote(schema)}.{quote(table.name)}"
    )
    connection.exec_driver_sql(copy)
    connection.exec_driver_sql(f"DROP TABLE {quote(schema)}.{quote(table.name)}")
    connection.exec_driver_sql(
        f"ALTER TABLE {quote(schema)}.{quote(staging_name)} RENAME TO {quote(table.name)}"
    )
    for index in table.indexes:
        index.create(connection)


def migrate(
    engine: Engine,
    projection: Projection[Any],
    migrations: Sequence[Migration],
    *,
    schema: str | None = None,
    roles: Roles | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MigrationReport:
    """Bring ``schema`` (default: the projection's name) up to date; see the module docstring.

    ``roles`` defaults to the projection's writer role and ``query_reader``.
    """
    physical = schema or projection.schema
    _check_sequence(migrations)
    roles = roles or Roles(writer=projection.writer_role)
    tables = runtime_tables(projection.schema)
    applied: list[str] = []
    with engine.connect() as raw:
        connection = raw.execution_options(schema_translate_map={projection.schema: physical})
        with connection.begin():
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"migrate:{physical}"},
                )
                connection.execute(CreateSchema(physical, if_not_exists=True))
            else:
                _require_attached(connection, physical)
            tables.migrations.create(connection, checkfirst=True)
            for track, steps in (
                (RUNTIME_TRACK, runtime_migrations(projection)),
                (PROJECTION_TRACK, migrations),
            ):
                done = set(
                    connection.scalars(
                        select(tables.migrations.c.version).where(
                            tables.migrations.c.track == track
                        )
                    )
                )
                unknown = done - {step.version for step in steps}
                if unknown:
                    msg = f"{physical} has {track} migrations {sorted(unknown)} this code lacks"
                    raise MigrationError(msg)
                for step in steps:
                    if step.version in done:
                        continue
                    step.apply(connection, physical)
                    connection.execute(
                        insert(tables.migrations).values(
                            track=track, version=step.version, name=step.name, applied_at=clock()
                        )
                    )
                    applied.append(f"{track}:{step.version} {step.name}")
            drift = schema_drift(connection, projection, physical)
            if drift:
                raise MigrationError(f"{physical} does not match the code: " + "; ".join(drift))
            if postgres:
                _grant(connection, projection, physical, roles)
    return MigrationReport(physical, tuple(applied))


def managed_tables(projection: Projection[Any]) -> list[Table]:
    """The tables a projection's writer changes rows of: its read model and its positions, every
    one keyed by generation first."""
    return [*projection.metadata.sorted_tables, runtime_tables(projection.schema).positions]


def checked_tables(projection: Projection[Any]) -> list[Table]:
    """Every table the code expects in the schema: the managed ones and the control table."""
    return [*managed_tables(projection), runtime_tables(projection.schema).generations]


def schema_drift(connection: Connection, projection: Projection[Any], schema: str) -> list[str]:
    """Differences between the declared tables and the database (empty when they agree)."""
    inspector = inspect(connection)
    dialect = connection.dialect
    problems: list[str] = []
    for table in checked_tables(projection):
        where = f"{schema}.{table.name}"
        if not inspector.has_table(table.name, schema=schema):
            problems.append(f"{where} is missing")
            continue
        found = {c["name"]: c for c in inspector.get_columns(table.name, schema=schema)}
        declared = {c.name: c for c in table.columns}
        for name in sorted(declared.keys() ^ found.keys()):
            problems.append(f"{where}.{name} is {'missing' if name in declared else 'extra'}")
        for name in sorted(declared.keys() & found.keys()):
            want = declared[name].type.compile(dialect=dialect)
            have = found[name]["type"].compile(dialect=dialect)
            if want != have:
                problems.append(f"{where}.{name} is {have}, declared {want}")
            if bool(found[name]["nullable"]) != bool(declared[name].nullable):
                problems.append(f"{where}.{name} nullability differs")
        primary = inspector.get_pk_constraint(table.name, schema=schema)["constrained_columns"]
        if list(primary) != [c.name for c in table.primary_key.columns]:
            problems.append(f"{where} primary key is {primary}")
        indexes = {
            i["name"]: list(i["column_names"])
            for i in inspector.get_indexes(table.name, schema=schema)
        }
        for index in table.indexes:
            columns = [c.name for c in index.columns]
            if indexes.get(str(index.name)) != columns:
                problems.append(f"{where} lacks index {index.name} on {columns}")
    return problems


def _require_attached(connection: Connection, schema: str) -> None:
    attached = {row[1] for row in connection.exec_driver_sql("PRAGMA database_list")}
    if schema not in attached:
        msg = f"SQLite has no database ATTACHed as {schema!r} (attached: {sorted(attached)})"
        raise MigrationError(msg)


def _check_sequence(migrations: Iterable[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        msg = f"migration versions must be 1, 2, 3, ... in order; got {versions}"
        raise MigrationError(msg)


def _grant(connection: Connection, projection: Projection[Any], schema: str, roles: Roles) -> None:
    quote = connection.dialect.identifier_preparer.quote
    writer = quote(roles.writer)
    readers = [quote(reader) for reader in roles.readers]
    for role in (writer, *readers):
        _ensure_login_role(connection, role)
    if roles.writer_password is not None:
        _set_password(connection, roles.writer, roles.writer_password)
    on_rds = connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'"))
    if on_rds:
        # RDS: lets these roles log in with IAM auth tokens (directly or through RDS Proxy).
        for role in (writer, *readers):
            connection.exec_driver_sql(f"GRANT rds_iam TO {role}")
    qschema = quote(schema)
    statements = [
        f"REVOKE ALL ON SCHEMA {qschema} FROM PUBLIC",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {qschema} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {qschema} TO {', '.join([writer, *readers])}",
    ]
    control = runtime_tables(projection.schema).generations
    for table, privileges in [
        *((table, WRITER_PRIVILEGES) for table in managed_tables(projection)),
        (control, CONTROL_PRIVILEGES),
    ]:
        name = f"{qschema}.{quote(table.name)}"
        statements.append(f"GRANT {privileges} ON {name} TO {writer}")
        statements.extend(f"GRANT SELECT ON {name} TO {reader}" for reader in readers)
    # Our roles create nothing, not even temporary tables, which PUBLIC may create by default.
    database = quote(str(connection.scalar(text("SELECT current_database()"))))
    statements.append(f"REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM PUBLIC")
    for statement in statements:
        connection.exec_driver_sql(statement)


def _set_password(connection: Connection, role: str, password: str) -> None:
    """``ALTER ROLE ... PASSWORD`` with a SCRAM-SHA-256 verifier computed here, as psql's
    ``\\password`` does: the plain password never reaches the server, its statement log or an
    error message (which quotes the failed statement)."""
    pgconn = getattr(connection.connection.dbapi_connection, "pgconn", None)
    if pgconn is None:
        msg = "setting a role's password needs the psycopg driver"
        raise MigrationError(msg)
    verifier = pgconn.encrypt_password(
        password.encode(), role.encode(), SCRAM_SHA_256.encode()
    ).decode()
    quote = connection.dialect.identifier_preparer.quote
    quoted = literal(verifier).compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    )
    try:
        connection.exec_driver_sql(f"ALTER ROLE {quote(role)} PASSWORD {quoted}")
    except DBAPIError as error:
        # Not chained: the driver's error quotes the statement, and a verifier is still worth
        # an offline guess.
        code = getattr(error.orig, "sqlstate", None)
        msg = f"could not set the password of role {role} (SQLSTATE {code})"
        raise MigrationError(msg) from None


def _ensure_login_role(connection: Connection, quoted_role: str) -> None:
    # Roles are cluster-wide: another database (or a concurrent deploy) may have made it first.
    connection.exec_driver_sql(
        "DO $$ BEGIN "
        f"CREATE ROLE {quoted_role} LOGIN; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; "
        "END $$"
    )
