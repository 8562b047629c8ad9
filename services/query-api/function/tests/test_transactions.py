"""GET /accounts/{id}/transactions: 404 until the transactions projection exists (issue 8)."""

from __future__ import annotations

import uuid


def test_an_existing_account_has_no_history_to_show_yet(read_model, get):
    row = read_model.put()

    answer = get(f"/accounts/{row['account_id']}/transactions")

    assert answer.status == 404
    problem = answer.problem
    assert problem["code"] == "transactions_not_available"
    assert f"/accounts/{row['account_id']}" in problem["detail"]


def test_an_unknown_account_is_account_not_found(read_model, get):
    answer = get(f"/accounts/{uuid.uuid4()}/transactions")

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"


def test_a_malformed_account_id_is_account_not_found(read_model, get):
    answer = get("/accounts/12345/transactions")

    assert answer.status == 404
    assert answer.problem["code"] == "account_not_found"
