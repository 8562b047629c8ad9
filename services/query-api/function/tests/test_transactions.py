"""GET /accounts/{id}/transactions: an account's history oldest first, keyset pages with signed
cursors, ETags; which accounts are known; a transactions model that is not deployed yet."""

from __future__ import annotations

import json
import uuid

import pytest
from query_api.api import build_app
from query_api.database import query_engine
from sqlalchemy import event, text


def path(account_id: str) -> str:
    return f"/accounts/{account_id}/transactions"


def versions(answer) -> list[int]:
    return [item["version"] for item in answer.json["items"]]


@pytest.fixture
def pages(get):
    """``pages(account_id, limit)``: follow next_cursor to the last page; ``between(pages)``
    runs after each page but the last, to change the data meanwhile."""

    def follow(account_id, limit, between=None):
        found, cursor = [], None
        while True:
            query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
            answer = get(path(account_id), query)
            assert answer.status == 200, answer
            found.append(answer.json["items"])
            cursor = answer.json["next_cursor"]
            if cursor is None:
                return found
            assert len(found) < 1000, "pagination does not end"
            if between is not None:
                between(found)

    return follow


# ------------------------------------------------------------------------------ documents
def test_transactions_are_listed_oldest_first_with_the_balance_after_each(read_model, get):
    account = read_model.put(balance="7.25", version=5)["account_id"]
    rows = read_model.movements(account, "10.00", "-2.50", "0.01", "-0.26")

    answer = get(path(account))

    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.json["next_cursor"] is None
    assert answer.json["items"] == [
        {
            "event_id": row["event_id"],
            "type": row["type"],
            "amount": f"{row['amount']:.2f}",
            "balance_after": f"{row['balance_after']:.2f}",
            "reference": row["reference"],
            "occurred_at": row["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "version": row["version"],
        }
        for row in rows
    ]
    assert [item["type"] for item in answer.json["items"]] == [
        "deposit",
        "withdrawal",
        "deposit",
        "withdrawal",
    ]
    assert [item["balance_after"] for item in answer.json["items"]] == [
        "10.00",
        "7.50",
        "7.51",
        "7.25",
    ]
    assert answer.json["items"][-1]["balance_after"] == get(f"/accounts/{account}").json["balance"]


def test_one_accounts_history_holds_only_its_own_transactions(read_model, get):
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    read_model.movements(mine, "1.00", "2.00")
    read_model.movements(other, "5.00")

    assert versions(get(path(mine))) == [2, 3]
    assert versions(get(path(other))) == [2]


def test_money_is_exact_at_the_largest_amounts(read_model, get):
    account = str(uuid.uuid4())
    read_model.movements(account, "1000000000000.00", "999999999999.99", "-0.01")

    items = get(path(account)).json["items"]

    assert [item["balance_after"] for item in items] == [
        "1000000000000.00",
        "1999999999999.99",
        "1999999999999.98",
    ]


def test_references_come_back_as_they_were_written(read_model, get, admin_engine):
    account = str(uuid.uuid4())
    read_model.movements(account, "1.00", "1.00", "1.00")
    tricky = ["O'Brien; DROP TABLE transactions.transactions;--", "Zoë 🙂", "\ufffd"]
    with admin_engine.begin() as connection:
        for version, reference in enumerate(tricky, start=2):
            connection.execute(
                text(
                    "UPDATE transactions.transactions SET reference = :reference"
                    " WHERE account_id = :account AND version = :version"
                ),
                {"reference": reference, "account": account, "version": version},
            )

    assert [item["reference"] for item in get(path(account)).json["items"]] == tricky


def test_an_upper_case_id_finds_the_same_history(read_model, get):
    account = str(uuid.uuid4())
    read_model.movements(account, "3.00")

    assert versions(get(path(account.upper()))) == [2]


# ------------------------------------------------------------------------------ known accounts
def test_an_account_without_movements_has_an_empty_history(read_model, get):
    account = read_model.put()["account_id"]

    answer = get(path(account))

    assert answer.status == 200
    assert answer.json == {"items": [], "next_cursor": None}


def test_an_account_balances_has_not_seen_yet_is_known_by_its_transactions(read_model, get):
    # The projections catch up independently: transactions may be ahead of balances.
    account = str(uuid.uuid4())
    read_model.movements(account, "4.00")

    assert get(f"/accounts/{account}").status == 404
    assert versions(get(path(account))) == [2]


def test_an_account_neither_read_model_has_is_account_not_found(read_model, get):
    read_model.movements(read_model.put()["account_id"], "1.00")
    unknown = str(uuid.uuid4())

    answer = get(path(unknown))

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"
    assert unknown in answer.problem["detail"]


@pytest.mark.parametrize(
    "malformed", ["12345", "not-a-uuid", "2f1c2b8e8d7c4f5e9a517f3c1c0e4d2a", "' OR '1'='1"]
)
def test_a_malformed_account_id_is_account_not_found(read_model, get, malformed):
    answer = get(path(malformed))

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"
    assert malformed not in answer.problem["detail"]


# ------------------------------------------------------------------------------ pages
def test_the_default_page_holds_fifty_transactions(read_model, get):
    account = str(uuid.uuid4())
    read_model.movements(account, *["1.00"] * 51)

    answer = get(path(account))

    assert versions(answer) == list(range(2, 52))
    assert answer.json["next_cursor"] is not None


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_limit_sets_the_page_size(read_model, get, limit):
    account = str(uuid.uuid4())
    read_model.movements(account, *["1.00"] * 101)

    assert len(get(path(account), {"limit": str(limit)}).json["items"]) == limit


def test_a_page_that_ends_the_history_has_no_next_cursor(read_model, get):
    account = str(uuid.uuid4())
    read_model.movements(account, *["1.00"] * 10)

    assert get(path(account), {"limit": "10"}).json["next_cursor"] is None
    assert get(path(account), {"limit": "9"}).json["next_cursor"] is not None


@pytest.mark.parametrize("limit", [1, 3, 25])
def test_following_cursors_visits_every_transaction_once_in_order(read_model, pages, limit):
    account = str(uuid.uuid4())
    read_model.movements(account, *[f"{n}.00" for n in range(1, 26)])

    walked = [item["version"] for page in pages(account, limit) for item in page]

    assert walked == list(range(2, 27))


def test_transactions_recorded_while_paging_show_up_at_the_end(read_model, pages):
    account = str(uuid.uuid4())
    read_model.movements(account, *["1.00"] * 5)
    added = []

    def meanwhile(found):
        if not added:
            added.extend(read_model.movements(account, "2.00", "3.00", first_version=7))

    walked = [item["version"] for page in pages(account, 2, between=meanwhile) for item in page]

    assert walked == list(range(2, 9))


def test_an_empty_page_after_the_last_transaction_still_knows_the_account(read_model, get, cursors):
    # A cursor positioned at the end (e.g. issued just before the last page was re-read).
    account = str(uuid.uuid4())
    read_model.movements(account, "1.00")
    at_end = cursors.issue("transactions", {"account_id": account}, "2")

    answer = get(path(account), {"cursor": at_end})

    assert answer.status == 200
    assert answer.json == {"items": [], "next_cursor": None}


# ------------------------------------------------------------------------------ cursors
@pytest.fixture
def issued(read_model, get):
    """A real next_cursor of an account's history, and the account."""
    account = str(uuid.uuid4())
    read_model.movements(account, "1.00", "2.00", "3.00")
    cursor = get(path(account), {"limit": "1"}).json["next_cursor"]
    assert cursor
    return account, cursor


def test_a_cursor_continues_only_the_history_it_was_issued_for(read_model, get, issued):
    account, cursor = issued
    other = str(uuid.uuid4())
    read_model.movements(other, "9.00", "9.00", "9.00")

    assert versions(get(path(account), {"cursor": cursor})) == [3, 4]
    answer = get(path(other), {"cursor": cursor})
    assert answer.status == 422
    assert answer.problem["code"] == "validation_error"
    assert "'cursor'" in answer.problem["detail"]


def test_the_accounts_lists_cursor_is_not_a_transactions_cursor(read_model, get, issued):
    account, _ = issued
    read_model.put_many(3)
    accounts_cursor = get("/accounts", {"limit": "1"}).json["next_cursor"]

    answer = get(path(account), {"cursor": accounts_cursor})

    assert answer.status == 422
    assert "another list" in answer.problem["detail"]
    assert get("/accounts", {"cursor": issued[1]}).status == 422


@pytest.mark.parametrize(
    "garbage", ["x", ".", "abc.def", "eyJ2IjoxfQ.", "' OR '1'='1", "c" * 513, ""]
)
def test_a_cursor_we_did_not_issue_is_a_422(get, issued, garbage):
    account, _ = issued

    answer = get(path(account), {"cursor": garbage})

    assert answer.status == 422
    assert "'cursor'" in answer.problem["detail"]


def test_a_cursor_whose_position_is_not_a_version_is_a_422(get, issued, cursors):
    account, _ = issued
    odd = cursors.issue("transactions", {"account_id": account}, "two")

    answer = get(path(account), {"cursor": odd})

    assert answer.status == 422
    assert "'cursor'" in answer.problem["detail"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
def test_an_invalid_limit_is_a_422_naming_it(get, issued, limit):
    account, _ = issued

    answer = get(path(account), {"limit": limit})

    assert answer.status == 422
    assert "'limit'" in answer.problem["detail"]


# ------------------------------------------------------------------------------ ETags
def test_a_page_has_a_weak_etag_and_a_match_is_a_304(read_model, get):
    account = str(uuid.uuid4())
    read_model.movements(account, "1.00", "2.00")
    first = get(path(account))

    assert first.headers["ETag"].startswith('W/"')
    assert first.headers["Cache-Control"] == "no-cache"
    again = get(path(account), headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status, again.body, again.headers["ETag"]) == (304, "", first.headers["ETag"])


def test_a_new_transaction_changes_the_etag(read_model, get):
    account = str(uuid.uuid4())
    read_model.movements(account, "1.00")
    before = get(path(account)).headers["ETag"]
    read_model.movements(account, "2.00", first_version=3)

    answer = get(path(account), headers={"If-None-Match": before})

    assert answer.status == 200
    assert answer.headers["ETag"] != before
    assert versions(answer) == [2, 3]


# ------------------------------------------------------------------------------ deployment
@pytest.mark.parametrize("backend", ["postgres"])
def test_before_the_transactions_model_is_deployed_a_known_account_says_so(
    read_model, get, admin_engine, backend
):
    known = read_model.put()["account_id"]
    with admin_engine.begin() as connection:
        connection.execute(text("DROP SCHEMA transactions CASCADE"))

    answer = get(path(known))
    unknown = get(path(str(uuid.uuid4())))

    assert answer.status == 404
    assert answer.problem["code"] == "transactions_not_available"
    assert f"/accounts/{known}" in answer.problem["detail"]
    assert unknown.problem["code"] == "account_not_found"


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_query_reader_role_the_migrations_grant_can_serve_the_route(
    read_model, database_config, cursors, make_event, lambda_context, backend
):
    account = read_model.put()["account_id"]
    read_model.movements(account, "5.00", "-1.00")
    engine = query_engine(database_config)

    @event.listens_for(engine, "connect")
    def become_query_reader(dbapi_connection, _record):
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET ROLE query_reader")
        dbapi_connection.autocommit = False

    try:
        app = build_app(engine, cursors)
        found = app.resolve(make_event(path(account)), lambda_context)
        empty = app.resolve(make_event(path(read_model.put()["account_id"])), lambda_context)
        with engine.connect() as connection:
            role = connection.execute(text("SELECT current_user")).scalar_one()
    finally:
        engine.dispose()

    assert role == "query_reader"
    assert (found["statusCode"], empty["statusCode"]) == (200, 200)
    assert json.loads(found["body"])["items"][-1]["balance_after"] == "4.00"
