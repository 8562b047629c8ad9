"""GET /accounts/{id}: the contract's account document, its ETag, and 404s."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest


def test_an_account_is_answered_as_the_contract_document(read_model, get):
    row = read_model.put(
        owner="Ada Lovelace",
        balance=Decimal("70.25"),
        version=4,
        updated_at=datetime(2024, 5, 1, 12, 30, 5, 123456, tzinfo=UTC),
    )

    answer = get(f"/accounts/{row['account_id']}")

    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.json == {
        "account_id": row["account_id"],
        "owner": "Ada Lovelace",
        "currency": "EUR",
        "balance": "70.25",
        "status": "open",
        "version": 4,
        "updated_at": "2024-05-01T12:30:05.123456Z",
    }


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("0", "0.00"),
        ("70.2", "70.20"),
        ("0.01", "0.01"),
        ("1000000000000.00", "1000000000000.00"),
        ("999999999999999999.99", "999999999999999999.99"),
    ],
)
def test_balances_are_exact_two_decimal_strings(read_model, get, stored, shown):
    row = read_model.put(balance=Decimal(stored))

    assert get(f"/accounts/{row['account_id']}").json["balance"] == shown


def test_a_closed_account_says_so(read_model, get):
    row = read_model.put(status="closed", version=7)

    assert get(f"/accounts/{row['account_id']}").json["status"] == "closed"


def test_updated_at_is_rfc3339_utc_whatever_zone_it_was_written_in(read_model, get):
    tokyo = timezone(timedelta(hours=9))
    row = read_model.put(updated_at=datetime(2024, 5, 2, 9, 0, tzinfo=tokyo))

    assert get(f"/accounts/{row['account_id']}").json["updated_at"] == (
        "2024-05-02T00:00:00.000000Z"
    )


def test_an_upper_case_id_finds_the_same_account(read_model, get):
    row = read_model.put()

    answer = get(f"/accounts/{row['account_id'].upper()}")

    assert answer.status == 200
    assert answer.json["account_id"] == row["account_id"]


def test_an_unknown_account_is_a_404_account_not_found(read_model, get):
    read_model.put()
    unknown = str(uuid.uuid4())

    answer = get(f"/accounts/{unknown}")

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"
    assert unknown in answer.problem["detail"]


@pytest.mark.parametrize(
    "malformed",
    [
        "42",
        "not-a-uuid",
        "2f1c2b8e8d7c4f5e9a517f3c1c0e4d2a",  # a UUID without its hyphens is not the canonical id
        "{2f1c2b8e-8d7c-4f5e-9a51-7f3c1c0e4d2a}",
        "urn:uuid:2f1c2b8e-8d7c-4f5e-9a51-7f3c1c0e4d2a",
        "2f1c2b8e-8d7c-4f5e-9a51-7f3c1c0e4d2a0",
        "2f1c2b8e-8d7c-4f5e-9a51-7f3c1c0e4d2g",
        "' OR '1'='1",
        "%27%3B%20DROP%20TABLE%20balances.accounts%3B--",
        'a"b',
        "a\\b",
        "ünïcødé",
    ],
)
def test_a_malformed_id_is_a_404_account_not_found(read_model, get, malformed):
    read_model.put()

    answer = get(f"/accounts/{malformed}")

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"
    assert malformed not in answer.problem["detail"]


def test_the_etag_is_the_version_the_command_api_takes_in_if_match(read_model, get):
    row = read_model.put(version=3)

    answer = get(f"/accounts/{row['account_id']}")

    assert answer.headers["ETag"] == '"3"'
    assert answer.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("if_none_match", ['"3"', 'W/"3"', '"1", "3"', "*"])
def test_a_matching_if_none_match_is_a_304_without_body(read_model, get, if_none_match):
    row = read_model.put(version=3)

    answer = get(f"/accounts/{row['account_id']}", headers={"If-None-Match": if_none_match})

    assert answer.status == 304
    assert answer.body == ""
    assert answer.headers["ETag"] == '"3"'


def test_a_stale_if_none_match_gets_the_new_version(read_model, get):
    row = read_model.put(version=3)
    read_model.put(row["account_id"], balance=Decimal("5.00"), version=4)

    answer = get(f"/accounts/{row['account_id']}", headers={"If-None-Match": '"3"'})

    assert answer.status == 200
    assert answer.headers["ETag"] == '"4"'
    assert answer.json["version"] == 4
    assert answer.json["balance"] == "5.00"


def test_if_none_match_on_an_unknown_account_is_still_a_404(get, read_model):
    answer = get(f"/accounts/{uuid.uuid4()}", headers={"If-None-Match": "*"})

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"
