"""The same projection code on SQLite, the way the local runner uses it: ``balances`` is an
ATTACHed database file, money is exact text, migrations come from the same entry point."""

from __future__ import annotations

from decimal import Decimal

from platform_projections import Projector
from platform_sql import DatabaseConfig, create_database_engine
from projection_balances.migrate import main
from projection_balances.projection import PROJECTION
from sqlalchemy import text


def test_the_projection_runs_on_sqlite_files_and_survives_a_restart(
    tmp_path, store, account, record, model, fold, capsys
):
    main_db, balances_db = tmp_path / "main.db", tmp_path / "balances.db"
    arguments = ["--database-url", f"sqlite:///{main_db}", "--attach", f"balances={balances_db}"]
    assert main(arguments) == 0
    assert main(arguments) == 0
    assert capsys.readouterr().out.splitlines() == [
        "balances: applied runtime:1 stream positions",
        "balances: applied runtime:2 generations",
        "balances: applied projection:1 accounts",
        "balances: applied projection:2 accounts by generation",
        "balances: up to date",
    ]
    config = DatabaseConfig(url=f"sqlite:///{main_db}", attach={"balances": str(balances_db)})
    engine = create_database_engine(config)
    first = account("d1234567890.12", "w0.02", owner="zoë")
    second = account("d5", "w5", "c", owner="bob")
    projector = Projector(PROJECTION, engine, store)

    result = projector.handle(
        [record(first[2]), record(first[0], sns=True), record(second[3]), record(second[3])]
    )

    assert result.failed_message_ids == ()
    assert (result.applied, result.skipped, result.repaired) == (7, 1, 4)
    engine.dispose()

    reopened = create_database_engine(config)
    assert model(reopened) == {events[0].stream_id: fold(events) for events in (first, second)}
    with reopened.connect() as connection:
        stored = connection.execute(
            text("SELECT typeof(balance), balance FROM balances.accounts WHERE owner = 'zoë'")
        ).one()
    assert tuple(stored) == ("text", "1234567890.10")
    assert model(reopened)[first[0].stream_id]["balance"] == Decimal("1234567890.10")
    reopened.dispose()
