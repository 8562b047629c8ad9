"""The roles contract every projection service's migration grants, on the ledger's binding: the
writer may change only its own tables' rows (and move, never add or remove, its control row);
the query side may only read them. Migrated through the entry point, as at deploy."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from platform_projections import QUERY_READER, Projector
from platform_sql import GENERATION, DatabaseConfig, create_database_engine, in_active_generation
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import ProgrammingError

pytestmark = pytest.mark.postgres
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def owner(database_url, ledger_entry, ledger_migration_settings) -> Iterator[Engine]:
    """The ledger migrated by its entry point as the owner (the test's superuser), with a row of
    its own and another schema beside it."""
    url = database_url.render_as_string(hide_password=False)
    engine = create_database_engine(DatabaseConfig(url=url))
    ledger_entry.run(ledger_migration_settings(database=DatabaseConfig(url=url)), engine=engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA other"))
        connection.execute(text("CREATE TABLE other.secrets (id text primary key)"))
        connection.execute(text("INSERT INTO other.secrets VALUES ('s')"))
        connection.execute(text("INSERT INTO ledger.totals VALUES (1, 'a', 'ann', 1, 1.00, 1)"))
    yield engine
    engine.dispose()


@pytest.fixture
def writer(ledger) -> str:
    return ledger.writer_role


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


def totals_of(engine: Engine, ledger) -> dict[str, tuple[int, Decimal]]:
    """What a reader sees: each stream's (deposits, total) in the active generation."""
    table = ledger.metadata.tables["ledger.totals"]
    columns = [column for column in table.columns if column.name != GENERATION]
    query = select(*columns).where(in_active_generation(table))
    with engine.connect() as connection:
        return {row.stream_id: (row.deposits, row.total) for row in connection.execute(query)}


@pytest.fixture
def writer_engine(database_url, writer) -> Iterator[Engine]:
    """An engine whose every connection works as the writer role."""
    engine = create_database_engine(DatabaseConfig(url=database_url.render_as_string(False)))

    @event.listens_for(engine, "connect")
    def become_writer(dbapi_connection, _record):
        dbapi_connection.autocommit = True
        dbapi_connection.execute(f'SET ROLE "{writer}"')
        dbapi_connection.autocommit = False

    yield engine
    engine.dispose()


def test_the_writer_role_is_named_after_the_projection(writer):
    assert writer == "ledger_writer"


def test_the_writer_can_run_the_projection(owner, writer_engine, ledger, store, history, record):
    events = history("d3.30", "w1", "d1")

    result = Projector(ledger, writer_engine, store).handle([record(e) for e in events])

    assert result.failed_message_ids == ()
    assert totals_of(owner, ledger)[events[0].stream_id] == (2, Decimal("4.30"))


def test_the_writer_can_run_a_whole_rebuild_without_ddl(
    owner, writer_engine, ledger, store, history, record, control_record, page_records
):
    events = history("d3.30", "w1")
    projector = Projector(ledger, writer_engine, store, cleanup_rows=1)
    projector.handle([record(e) for e in events])

    batches = [
        [control_record("begin", "r1")],
        *([page] for page in page_records(events)),
        [control_record("promote", "r1")],
    ]
    for batch in batches:
        assert projector.handle(batch).failed_message_ids == ()

    assert (projector.generations().active, projector.generations().building) == (2, None)
    # Generation 1's rows (the fixture's row, the test's, their positions) go away too.
    assert projector.collect_garbage() > 0
    assert totals_of(owner, ledger) == {events[0].stream_id: (1, Decimal("3.30"))}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger.generations SET building = 9",
        "SELECT active FROM ledger.generations FOR SHARE",
    ],
)
def test_the_writer_may_move_its_control_row(owner, writer, statement):
    as_role(owner, writer, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO ledger.generations VALUES ('x', 1, NULL, NULL, NULL, 1, false, now())",
        "DELETE FROM ledger.generations",
    ],
)
def test_the_writer_cannot_add_or_remove_control_rows(owner, writer, statement):
    assert refused(owner, writer, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger.totals SET total = 2 WHERE stream_id = 'a'",
        "INSERT INTO ledger.totals VALUES (1, 'b', 'bob', 0, 0, 1)",
        "DELETE FROM ledger.totals WHERE stream_id = 'b'",
        "DELETE FROM ledger.stream_positions",
        "SELECT * FROM ledger.totals",
    ],
)
def test_the_writer_may_change_rows_of_its_own_tables(owner, writer, statement):
    as_role(owner, writer, statement)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM other.secrets",
        "INSERT INTO other.secrets VALUES ('x')",
        "CREATE TABLE public.sneaky (id int)",
        "CREATE TABLE ledger.sneaky (id int)",
        "ALTER TABLE ledger.totals ADD COLUMN sneaky int",
        "ALTER TABLE ledger.totals DROP CONSTRAINT ck_totals_deposits",
        "DROP TABLE ledger.totals",
        "TRUNCATE ledger.totals",
        "CREATE INDEX sneaky ON ledger.totals (owner)",
        "INSERT INTO ledger.schema_migrations VALUES ('projection', 99, 'x', now())",
        "CREATE SCHEMA sneaky",
    ],
)
def test_the_writer_cannot_touch_another_schema_or_change_the_schema(owner, writer, statement):
    assert refused(owner, writer, statement)


def test_the_reader_may_read_the_model_its_positions_and_its_active_generation(owner):
    as_role(owner, QUERY_READER, "SELECT stream_id, total FROM ledger.totals")
    as_role(owner, QUERY_READER, "SELECT stream_id, version FROM ledger.stream_positions")
    as_role(owner, QUERY_READER, "SELECT active FROM ledger.generations")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO ledger.totals VALUES (1, 'b', 'bob', 0, 0, 1)",
        "UPDATE ledger.totals SET total = 1000000",
        "DELETE FROM ledger.totals",
        "UPDATE ledger.stream_positions SET version = 0",
        "UPDATE ledger.generations SET active = 2",
        "SELECT active FROM ledger.generations FOR UPDATE",
        "CREATE TABLE ledger.sneaky (id int)",
        "SELECT * FROM other.secrets",
    ],
)
def test_the_reader_cannot_write(owner, statement):
    assert refused(owner, QUERY_READER, statement)


def test_migrating_again_keeps_the_grants(owner, writer, ledger_entry, ledger_migration_settings):
    url = owner.url.render_as_string(hide_password=False)
    settings = ledger_migration_settings(database=DatabaseConfig(url=url))

    assert ledger_entry.run(settings, engine=owner).applied == ()
    as_role(owner, writer, "UPDATE ledger.totals SET total = 3")
    assert refused(owner, QUERY_READER, "DELETE FROM ledger.totals")
