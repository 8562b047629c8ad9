from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from platform_sql import DatabaseConfig, Money, UtcDateTime, create_database_engine
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError

metadata = MetaData()
amounts = Table(
    "amounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Money),
    Column("at", UtcDateTime),
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


@pytest.mark.parametrize(
    "amount", ["0.00", "0.01", "12.50", "-3.10", "999999999999999999.99", "1E+2"]
)
def test_money_comes_back_exactly(engine, amount):
    with engine.begin() as connection:
        connection.execute(insert(amounts).values(id=1, amount=Decimal(amount)))
        stored = connection.scalar(select(amounts.c.amount))
    assert stored == Decimal(amount)
    assert str(stored) == f"{Decimal(amount).quantize(Decimal('0.01')):f}"


def test_money_is_text_on_sqlite_never_real():
    engine = create_database_engine(DatabaseConfig(url="sqlite://"))
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(amounts).values(id=1, amount=Decimal("0.10")))
        raw = connection.execute(text("SELECT typeof(amount), amount FROM amounts")).one()
    assert tuple(raw) == ("text", "0.10")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.1, "Decimal"),
        (Decimal("0.001"), "at most 2 decimal places"),
        (Decimal("NaN"), "decimal places"),
    ],
)
def test_money_refuses_inexact_values(engine, value, problem):
    with engine.begin() as connection, pytest.raises(StatementError, match=problem):
        connection.execute(insert(amounts).values(id=1, amount=value))


def test_times_come_back_as_the_same_instant_in_utc(engine):
    paris = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=paris)
    with engine.begin() as connection:
        connection.execute(insert(amounts).values(id=1, at=moment))
        stored = connection.scalar(select(amounts.c.at))
    assert stored == moment
    assert stored.tzinfo == UTC


def test_naive_times_are_refused(engine):
    with engine.begin() as connection, pytest.raises(StatementError, match="naive"):
        connection.execute(insert(amounts).values(id=1, at=datetime(2024, 5, 1)))


def test_nulls_pass_through(engine):
    with engine.begin() as connection:
        connection.execute(insert(amounts).values(id=1))
        assert connection.execute(select(amounts.c.amount, amounts.c.at)).one() == (None, None)
