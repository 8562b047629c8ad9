"""The same projection code on SQLite, the way the local runner uses it: ``transactions`` is an
ATTACHed database file, money is exact text, migrations come from the same entry point."""

from __future__ import annotations

from decimal import Decimal

from platform_projections import Projector
from platform_sql import DatabaseConfig, create_database_engine
from projection_transactions.migrate import main
from projection_transactions.projection import PROJECTION
from sqlalchemy import text


def test_the_projection_runs_on_sqlite_files_and_survives_a_restart(
    tmp_path, store, account, record, model, fold, capsys
):
    main_db, transactions_db = tmp_path / "main.db", tmp_path / "transactions.db"
    arguments = [
        "--database-url",
        f"sqlite:///{main_db}",
        "--attach",
        f"transactions={transactions_db}",
    ]
    assert main(arguments) == 0
    assert main(arguments) == 0
    assert capsys.readouterr().out.splitlines() == [
        "transactions: applied runtime:1 stream positions",
        "transactions: applied runtime:2 generations",
        "transactions: applied projection:1 transactions",
        "transactions: applied projection:2 transactions by generation",
        "transactions: up to date",
    ]
    config = DatabaseConfig(
        url=f"sqlite:///{main_db}", attach={"transactions": str(transactions_db)}
    )
    engine = create_database_engine(config)
    first = account("d1234567890.12", "w0.02")
    second = account("d5", "w5", "c")
    projector = Projector(PROJECTION, engine, store)

    result = projector.handle(
        [record(first[2]), record(first[1], sns=True), record(second[2]), record(second[2])]
    )

    assert result.failed_message_ids == ()
    assert (result.applied, result.skipped, result.repaired) == (4, 1, 3)
    engine.dispose()

    reopened = create_database_engine(config)
    assert model(reopened) == {events[0].stream_id: fold(events) for events in (first, second)}
    with reopened.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT typeof(amount), amount, typeof(balance_after), balance_after"
                " FROM transactions.transactions WHERE version = 3 AND type = 'withdrawal'"
                " AND amount = '0.02'"
            )
        ).one()
    assert tuple(stored) == ("text", "0.02", "text", "1234567890.10")
    assert model(reopened)[first[0].stream_id][-1]["balance_after"] == Decimal("1234567890.10")
    reopened.dispose()
