"""The writer may change only its own tables' rows; the query side may only read them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from platform_projections import QUERY_READER, Projector
from platform_replay.control import CONTROL_GROUP, ControlAction, ReplayControl
from platform_sql import DatabaseConfig, create_database_engine
from projection_transactions.migrate import run
from projection_transactions.projection import PROJECTION
from projection_transactions.settings import MigrationSettings
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import ProgrammingError

from platform_events import replay_page_body

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
        connection.execute(text("CREATE SCHEMA other"))
        connection.execute(text("CREATE TABLE other.secrets (id text primary key)"))
        connection.execute(text("INSERT INTO other.secrets VALUES ('s')"))
        connection.execute(text(ROW))
    return postgres_engine


def control_record(action: str, rebuild: str) -> dict:
    return {
        "messageId": action,
        "body": ReplayControl(ControlAction(action), rebuild).body(),
        "attributes": {"MessageGroupId": CONTROL_GROUP},
    }


def page_record(envelopes) -> dict:
    return {
        "messageId": "page",
        "body": replay_page_body(envelopes),
        "attributes": {"MessageGroupId": "Account#0"},
    }


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


def test_the_writer_can_run_a_whole_rebuild_without_ddl(
    owner, writer_engine, store, account, record, model, fold, only_subscribed
):
    events = account("d3.30", "w1")
    projector = Projector(PROJECTION, writer_engine, store, cleanup_rows=1)
    projector.handle([record(e) for e in events[1:]])

    batches = [
        [control_record("begin", "r1")],
        [page_record(only_subscribed(events))],
        [control_record("promote", "r1")],
    ]
    for batch in batches:
        assert projector.handle(batch).failed_message_ids == ()

    assert (projector.generations().active, projector.generations().building) == (2, None)
    # Generation 1's rows (the fixture's row, the test's, their positions) go away too.
    assert projector.collect_garbage() > 0
    assert model(owner) == {events[0].stream_id: fold(events)}


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
        "SELECT * FROM other.secrets",
        "INSERT INTO other.secrets VALUES ('x')",
        "CREATE TABLE public.sneaky (id int)",
        "CREATE TABLE transactions.sneaky (id int)",
        "ALTER TABLE transactions.transactions ADD COLUMN sneaky int",
        "ALTER TABLE transactions.transactions DROP CONSTRAINT ck_transactions_type",
        "DROP TABLE transactions.transactions",
        "TRUNCATE transactions.transactions",
        "CREATE INDEX sneaky ON transactions.transactions (reference)",
        "INSERT INTO transactions.schema_migrations VALUES ('projection', 99, 'x', now())",
        "CREATE SCHEMA sneaky",
    ],
)
def test_the_writer_cannot_touch_another_schema_or_change_the_schema(owner, statement):
    assert refused(owner, WRITER, statement)


def test_the_reader_may_read_the_model_its_positions_and_its_active_generation(owner):
    as_role(owner, QUERY_READER, "SELECT account_id, balance_after FROM transactions.transactions")
    as_role(owner, QUERY_READER, "SELECT stream_id, version FROM transactions.stream_positions")
    as_role(owner, QUERY_READER, "SELECT active FROM transactions.generations")


@pytest.mark.parametrize(
    "statement",
    [
        ROW.replace("'a', 2", "'b', 2"),
        "UPDATE transactions.generations SET active = 2",
        "SELECT active FROM transactions.generations FOR UPDATE",
        "UPDATE transactions.transactions SET amount = 1000000",
        "DELETE FROM transactions.transactions",
        "UPDATE transactions.stream_positions SET version = 0",
        "CREATE TABLE transactions.sneaky (id int)",
        "SELECT * FROM other.secrets",
    ],
)
def test_the_reader_cannot_write(owner, statement):
    assert refused(owner, QUERY_READER, statement)


def test_migrating_again_keeps_the_grants(owner):
    url = owner.url.render_as_string(hide_password=False)
    assert run(MigrationSettings(database=DatabaseConfig(url=url)), engine=owner).applied == ()
    as_role(owner, WRITER, "UPDATE transactions.transactions SET reference = 'y'")
    assert refused(owner, QUERY_READER, "DELETE FROM transactions.transactions")
