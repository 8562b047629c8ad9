"""SQLite specifics of the local runner: ``balances`` is an ATTACHed file, money is exact text,
and the query engine cannot write. (Every route test also runs on SQLite, see ``backend``.)"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError


@pytest.fixture
def backend():
    return "sqlite"


def test_balances_is_an_attached_database_file(database_config, read_model, engine):
    with engine.connect() as connection:
        databases = {row.name: row.file for row in connection.execute(text("PRAGMA database_list"))}

    assert databases["balances"] == database_config.attach["balances"]


def test_money_is_stored_as_exact_text_and_read_back_exactly(read_model, engine, get):
    row = read_model.put(balance="999999999999999999.99")

    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT typeof(balance), balance FROM balances.accounts")
        ).one()

    assert tuple(stored) == ("text", "999999999999999999.99")
    assert get(f"/accounts/{row['account_id']}").json["balance"] == "999999999999999999.99"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO balances.accounts"
        " VALUES (1, 'x', 'Eve', 'EUR', '1.00', 'open', 1, '2024-01-01')",
        "UPDATE balances.accounts SET balance = '1000000.00'",
        "DELETE FROM balances.accounts",
        "CREATE TABLE balances.stolen (x int)",
        "DROP TABLE balances.accounts",
    ],
)
def test_the_query_engine_cannot_write(read_model, engine, statement):
    read_model.put()

    with engine.connect() as connection, pytest.raises(OperationalError, match="readonly"):
        connection.execute(text(statement))

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM balances.accounts")).scalar_one() == 1
