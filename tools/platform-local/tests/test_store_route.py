"""``GET /_local/events``: the event store, read-only, page by page (what audits compare with)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]


def test_the_store_route_pages_through_every_event_and_nothing_else(runner: Any) -> None:
    runner.start()
    opened = runner.request("POST", "/accounts", {"owner": "Ada", "currency": "EUR"})
    account = opened.body["account_id"]
    key = {"Idempotency-Key": "k-1"}
    deposit = runner.request("POST", f"/accounts/{account}/deposits", {"amount": "12.50"}, key)
    assert (
        runner.request("POST", f"/accounts/{account}/deposits", {"amount": "12.50"}, key).status
        == 201
    )
    refused = runner.request("POST", f"/accounts/{account}/withdrawals", {"amount": "99"})
    assert refused.status == 409

    events: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = runner.request("GET", f"/_local/events?{query}").body
        events += page["items"]
        cursor = page["next_cursor"]
        pages += 1
        if cursor is None:
            break

    # one item per page: the idempotency record took a page of its own and is not an event
    assert pages >= 3
    by_version = sorted(events, key=lambda e: e["version"])
    assert [(e["stream_id"], e["version"], e["event_type"]) for e in by_version] == [
        (account, 1, "AccountOpened"),
        (account, 2, "MoneyDeposited"),
    ]
    assert by_version[0]["event_id"] == opened.body["events"][0]["event_id"]
    assert by_version[1]["event_id"] == deposit.body["events"][0]["event_id"]
    assert by_version[1]["payload"]["amount"] == "12.50"


def forged(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


BAD_PAGE_REQUESTS = [
    "limit=0",
    "limit=1001",
    "limit=x",
    "cursor=not-base64!",
    "cursor=" + forged({"a": 1}),
    "cursor=" + forged([1]),
    "cursor=" + forged({"stream_id": {"S": "x"}, "version": {"S": "1"}}),
    "cursor=" + forged({"stream_id": {"S": "x"}, "version": {"N": "-1"}}),
]


def test_a_bad_page_request_is_a_400(runner: Any) -> None:
    runner.start()
    for query in BAD_PAGE_REQUESTS:
        answer = runner.request("GET", f"/_local/events?{query}")
        assert (answer.status, "error" in answer.body) == (400, True), query
