"""Blue/green: every route reads only the active generation of each read model, so a rebuild in
progress is invisible and its promotion shows the new model whole."""

from __future__ import annotations

import uuid

from sqlalchemy import text

BUILDING = 2


def promote(engine, schema: str) -> None:
    """What a rebuild's promote does to the control row (platform_projections.generations)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                f"UPDATE {schema}.generations SET active = :building, building = NULL"
                " WHERE projection = :schema"
            ),
            {"building": BUILDING, "schema": schema},
        )


def test_a_rebuild_in_progress_is_invisible_to_every_route(read_model, get):
    serving = read_model.put(balance="3.00", version=2)
    account = serving["account_id"]
    read_model.movements(account, "3.00")
    # The rebuild has the same account further along, and an account serving lacks.
    read_model.put(account, balance="5.00", version=3, generation=BUILDING)
    read_model.movements(account, "3.00", "2.00", generation=BUILDING)
    newcomer = read_model.put(generation=BUILDING)["account_id"]
    read_model.movements(newcomer, "1.00", generation=BUILDING)

    assert get(f"/accounts/{account}").json["balance"] == "3.00"
    assert [item["account_id"] for item in get("/accounts").json["items"]] == [account]
    assert [i["version"] for i in get(f"/accounts/{account}/transactions").json["items"]] == [2]
    assert get(f"/accounts/{newcomer}").status == 404
    assert get(f"/accounts/{newcomer}/transactions").problem["code"] == "account_not_found"


def test_after_the_promotion_the_routes_show_the_new_generation_whole(
    read_model, admin_engine, get
):
    account = read_model.put(balance="3.00", version=2)["account_id"]
    read_model.movements(account, "3.00")
    read_model.put(account, balance="5.00", version=3, generation=BUILDING)
    read_model.movements(account, "3.00", "2.00", generation=BUILDING)
    only_transactions = str(uuid.uuid4())
    read_model.movements(only_transactions, "4.00", generation=BUILDING)

    promote(admin_engine, "balances")
    promote(admin_engine, "transactions")

    assert get(f"/accounts/{account}").json["version"] == 3
    history = get(f"/accounts/{account}/transactions").json["items"]
    assert [(i["version"], i["balance_after"]) for i in history] == [(2, "3.00"), (3, "5.00")]
    assert get(f"/accounts/{only_transactions}/transactions").status == 200


def test_each_read_model_switches_on_its_own_control_row(read_model, admin_engine, get):
    account = read_model.put(balance="1.00", version=2)["account_id"]
    read_model.movements(account, "1.00")
    read_model.movements(account, "1.00", "1.00", generation=BUILDING)

    promote(admin_engine, "transactions")

    assert get(f"/accounts/{account}").json["balance"] == "1.00"
    assert len(get(f"/accounts/{account}/transactions").json["items"]) == 2
