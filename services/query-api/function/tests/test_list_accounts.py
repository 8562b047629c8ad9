"""GET /accounts: filters, keyset pagination with signed cursors, ETags."""

from __future__ import annotations

import uuid

import pytest


def ids(items):
    return [item["account_id"] for item in items]


def test_accounts_are_listed_in_account_id_order_with_the_contract_documents(read_model, get):
    rows = read_model.put_many(5)

    answer = get("/accounts")

    assert answer.status == 200
    assert answer.json["next_cursor"] is None
    assert ids(answer.json["items"]) == sorted(row["account_id"] for row in rows)
    assert answer.json["items"][0] == get(f"/accounts/{answer.json['items'][0]['account_id']}").json


def test_an_empty_read_model_answers_an_empty_page(read_model, get):
    answer = get("/accounts")

    assert answer.status == 200
    assert answer.json == {"items": [], "next_cursor": None}


def test_the_default_page_holds_fifty_accounts(read_model, get):
    read_model.put_many(51)

    answer = get("/accounts")

    assert len(answer.json["items"]) == 50
    assert answer.json["next_cursor"] is not None


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_limit_sets_the_page_size(read_model, get, limit):
    read_model.put_many(101)

    assert len(get("/accounts", {"limit": str(limit)}).json["items"]) == limit


def test_a_page_that_ends_the_list_has_no_next_cursor(read_model, get):
    read_model.put_many(10)

    assert get("/accounts", {"limit": "10"}).json["next_cursor"] is None
    assert get("/accounts", {"limit": "9"}).json["next_cursor"] is not None


def test_owner_filters_by_exact_owner(read_model, get):
    ada = read_model.put_many(3, owner="Ada")
    read_model.put_many(2, owner="Grace")
    read_model.put(owner="ada")
    read_model.put(owner="Ada ")

    answer = get("/accounts", {"owner": "Ada"})

    assert ids(answer.json["items"]) == sorted(row["account_id"] for row in ada)


def test_status_filters_open_or_closed(read_model, get):
    open_rows = read_model.put_many(3, status="open")
    closed_rows = read_model.put_many(2, status="closed")

    assert ids(get("/accounts", {"status": "open"}).json["items"]) == sorted(
        row["account_id"] for row in open_rows
    )
    assert ids(get("/accounts", {"status": "closed"}).json["items"]) == sorted(
        row["account_id"] for row in closed_rows
    )


def test_owner_and_status_filter_together(read_model, get):
    wanted = read_model.put_many(2, owner="Ada", status="closed")
    read_model.put_many(2, owner="Ada", status="open")
    read_model.put_many(2, owner="Grace", status="closed")

    answer = get("/accounts", {"owner": "Ada", "status": "closed"})

    assert ids(answer.json["items"]) == sorted(row["account_id"] for row in wanted)


def test_owners_with_sql_and_unicode_characters_are_plain_values(read_model, get):
    tricky = [
        "O'Brien",
        "100% _real_",
        "Zoë 🙂",
        "a\\b",
        "Robert'); DROP TABLE balances.accounts;--",
    ]
    for owner in tricky:
        read_model.put(owner=owner)

    for owner in tricky:
        items = get("/accounts", {"owner": owner}).json["items"]
        assert [item["owner"] for item in items] == [owner]
    assert len(get("/accounts").json["items"]) == len(tricky)


@pytest.mark.parametrize(
    "filters", [{}, {"owner": "Ada"}, {"status": "open"}, {"owner": "Ada", "status": "open"}]
)
def test_following_cursors_visits_every_matching_account_once(read_model, walk, filters):
    rows = (
        read_model.put_many(23, owner="Ada", status="open")
        + read_model.put_many(6, owner="Grace", status="open")
        + read_model.put_many(7, owner="Ada", status="closed")
    )
    expected = sorted(
        row["account_id"]
        for row in rows
        if all(row[name] == value for name, value in filters.items())
    )

    pages = walk(limit=5, **filters)

    seen = [account_id for page in pages for account_id in ids(page)]
    assert seen == expected
    assert [len(page) for page in pages[:-1]] == [5] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 5


def test_rows_inserted_and_updated_between_pages_cause_no_duplicates_and_no_skips(read_model, walk):
    original = sorted(row["account_id"] for row in read_model.put_many(30))
    inserted_ahead: list[str] = []
    inserted_behind: list[str] = []

    def meanwhile(pages):
        position = pages[-1][-1]["account_id"]  # where the next page starts
        ahead = read_model.put(an_id(lambda candidate: candidate > position))["account_id"]
        behind = read_model.put(an_id(lambda candidate: candidate < position))["account_id"]
        inserted_ahead.append(ahead)
        inserted_behind.append(behind)
        # Updates move nothing: the order is by id, and a version bump only changes the row.
        for account_id in (original[0], original[-1]):
            read_model.put(account_id, balance="1.00", version=len(pages) + 1)

    pages = walk(limit=4, between=meanwhile)

    seen = [account_id for page in pages for account_id in ids(page)]
    assert len(seen) == len(set(seen)), "an account was served twice"
    assert seen == sorted(seen)
    assert set(original) <= set(seen), "an account that existed all along was skipped"
    assert set(inserted_ahead) <= set(seen), "an account inserted ahead of the cursor was skipped"
    # Keyset pages never go back: accounts opened behind the position are for the next walk.
    assert not set(inserted_behind) & set(seen)


def an_id(wanted):
    for _ in range(100_000):
        candidate = str(uuid.uuid4())
        if wanted(candidate):
            return candidate
    raise AssertionError("no random UUID on that side of the position")


def test_a_cursor_keeps_its_place_when_the_page_size_changes(read_model, get):
    rows = sorted(row["account_id"] for row in read_model.put_many(10))

    first = get("/accounts", {"limit": "3"}).json
    second = get("/accounts", {"limit": "5", "cursor": first["next_cursor"]}).json

    assert ids(second["items"]) == rows[3:8]


def test_a_list_carries_each_accounts_version_and_a_weak_etag(read_model, get):
    read_model.put_many(3, version=2)

    answer = get("/accounts")

    assert [item["version"] for item in answer.json["items"]] == [2, 2, 2]
    assert answer.headers["ETag"].startswith('W/"')
    assert answer.headers["Cache-Control"] == "no-cache"


def test_the_list_etag_changes_when_an_account_on_the_page_changes(read_model, get):
    rows = read_model.put_many(3)
    before = get("/accounts").headers["ETag"]

    assert get("/accounts").headers["ETag"] == before
    read_model.put(rows[1]["account_id"], balance="9.00", version=2)

    assert get("/accounts").headers["ETag"] != before


def test_the_list_etag_changes_when_a_next_page_appears(read_model, get):
    read_model.put_many(3)
    before = get("/accounts", {"limit": "3"}).headers["ETag"]

    read_model.put("f" * 8 + "-ffff-4fff-bfff-" + "f" * 12)

    assert get("/accounts", {"limit": "3"}).headers["ETag"] != before


def test_a_list_answers_304_to_its_own_etag(read_model, get):
    read_model.put_many(3)
    etag = get("/accounts", {"status": "open"}).headers["ETag"]

    answer = get("/accounts", {"status": "open"}, headers={"If-None-Match": etag})

    assert answer.status == 304
    assert answer.body == ""
    assert answer.headers["ETag"] == etag


def test_the_same_cursor_from_the_same_key_is_reproducible(read_model, get):
    read_model.put_many(4)

    assert get("/accounts", {"limit": "2"}).json == get("/accounts", {"limit": "2"}).json


@pytest.mark.parametrize("account_id", [str(uuid.uuid4())])
def test_a_single_account_page_is_the_same_document_as_the_account(read_model, get, account_id):
    read_model.put(account_id, balance="12.50", version=2)

    assert get("/accounts").json["items"] == [get(f"/accounts/{account_id}").json]
