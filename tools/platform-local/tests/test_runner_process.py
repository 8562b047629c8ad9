"""platform-local as a user runs it: the contract's flows over HTTP, then kill -9 and restart."""

from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

STARTUP_BUDGET_SECONDS = 10


def balance_is(runner: Any, account_id: str, version: int) -> bool:
    answer = runner.request("GET", f"/accounts/{account_id}")
    return answer.status == 200 and answer.body["version"] == version


def test_the_contracts_flows_survive_kill_minus_nine(runner: Any) -> None:
    runner.start()
    assert runner.startup_seconds < STARTUP_BUDGET_SECONDS

    opened = runner.request("POST", "/accounts", {"owner": "Ada", "currency": "EUR"})
    assert opened.status == 201
    account = opened.body["account_id"]
    assert opened.headers["location"] == f"/accounts/{account}"

    deposit = runner.request(
        "POST", f"/accounts/{account}/deposits", {"amount": "100.50"}, {"Idempotency-Key": "d-1"}
    )
    assert deposit.status == 201
    again = runner.request(
        "POST", f"/accounts/{account}/deposits", {"amount": "100.50"}, {"Idempotency-Key": "d-1"}
    )
    assert (again.status, again.body) == (201, deposit.body)
    assert again.headers["idempotent-replayed"] == "true"
    assert (
        runner.request("POST", f"/accounts/{account}/withdrawals", {"amount": "30.25"}).status
        == 201
    )

    # Concurrent deposits: every accepted one counted once.
    def deposit_one(_: int) -> int:
        return runner.request("POST", f"/accounts/{account}/deposits", {"amount": "1.00"}).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(deposit_one, range(16)))
    accepted = statuses.count(201)
    assert set(statuses) <= {201, 409}
    assert accepted >= 1

    version = 3 + accepted
    expected = Decimal("70.25") + accepted
    runner.wait_until(lambda: balance_is(runner, account, version))
    assert runner.request("GET", f"/accounts/{account}").body["balance"] == f"{expected:.2f}"

    # Every error code of the contract's table, and no event for any of them.
    other = runner.request("POST", "/accounts", {"owner": "Bob", "currency": "EUR"}).body[
        "account_id"
    ]
    errors = [
        (
            runner.request("POST", "/accounts", b"{nope", {"Content-Type": "application/json"}),
            400,
            "invalid_json",
        ),
        (
            runner.request("POST", "/accounts", {"owner": "x" * 20_000, "currency": "EUR"}),
            413,
            "payload_too_large",
        ),
        (
            runner.request("POST", "/accounts", {"owner": "Ada", "currency": "euro"}),
            422,
            "validation_error",
        ),
        (
            runner.request("POST", f"/accounts/{uuid.uuid4()}/deposits", {"amount": "1"}),
            404,
            "account_not_found",
        ),
        (
            runner.request("POST", "/accounts/not-an-id/deposits", {"amount": "1"}),
            404,
            "account_not_found",
        ),
        (
            runner.request("POST", f"/accounts/{other}/withdrawals", {"amount": "5"}),
            409,
            "insufficient_funds",
        ),
        (runner.request("DELETE", f"/accounts/{account}"), 409, "account_not_empty"),
        (
            runner.request(
                "POST", f"/accounts/{account}/deposits", {"amount": "1"}, {"If-Match": '"1"'}
            ),
            412,
            "version_mismatch",
        ),
        (
            runner.request(
                "POST", f"/accounts/{account}/deposits", {"amount": "2"}, {"Idempotency-Key": "d-1"}
            ),
            422,
            "idempotency_key_reused",
        ),
    ]
    for answer, status, code in errors:
        assert (answer.status, answer.body["code"]) == (status, code)
        assert answer.headers["content-type"].startswith("application/problem+json")

    # Close the second account (zero balance), then it takes nothing.
    assert runner.request("DELETE", f"/accounts/{other}").status == 200
    closed = runner.request("POST", f"/accounts/{other}/deposits", {"amount": "1"})
    assert (closed.status, closed.body["code"]) == (409, "account_closed")
    runner.wait_until(lambda: balance_is(runner, other, 2))
    assert runner.request("GET", f"/accounts/{account}").body["version"] == version

    # One more acknowledged command, then SIGKILL before anything else can happen.
    last = runner.request("POST", f"/accounts/{account}/deposits", {"amount": "0.75"})
    assert last.status == 201
    runner.kill()

    runner.start()
    runner.wait_until(lambda: balance_is(runner, account, version + 1))
    after = runner.request("GET", f"/accounts/{account}").body
    assert after["balance"] == f"{expected + Decimal('0.75'):.2f}"
    assert runner.request("GET", f"/accounts/{other}").body["status"] == "closed"
    # The idempotency record survived too: the retry is answered, not re-applied.
    retry = runner.request(
        "POST", f"/accounts/{account}/deposits", {"amount": "100.50"}, {"Idempotency-Key": "d-1"}
    )
    assert (retry.status, retry.body) == (201, deposit.body)
    assert runner.terminate() == 0  # SIGTERM is a clean shutdown


def test_status_replay_and_docs(runner: Any) -> None:
    runner.start()
    account = runner.request("POST", "/accounts", {"owner": "Cy", "currency": "USD"}).body[
        "account_id"
    ]
    runner.request("POST", f"/accounts/{account}/deposits", {"amount": "5"})
    runner.wait_until(lambda: balance_is(runner, account, 2))

    def history_ready() -> bool:
        answer = runner.request("GET", f"/accounts/{account}/transactions")
        return answer.status == 200 and len(answer.body["items"]) == 1

    runner.wait_until(history_ready)
    (entry,) = runner.request("GET", f"/accounts/{account}/transactions").body["items"]
    assert (entry["type"], entry["amount"], entry["balance_after"]) == ("deposit", "5.00", "5.00")

    status = runner.request("GET", "/_local/status").body
    by_name = {p["name"]: p for p in status["projections"]}
    assert status["events_in_store"] == 2
    assert (by_name["balances"]["position"], by_name["balances"]["lag_events"]) == (2, 0)
    assert by_name["transactions"]["lag_events"] == 0

    table = subprocess.run(
        [sys.executable, "-m", "platform_local", "status", "--url", runner.url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "balances" in table
    assert "position" in table

    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "platform_local",
            "replay",
            "balances",
            "--url",
            runner.url,
            "--interval",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    assert "rebuilt from 2 events, live" in replay.stdout
    assert runner.request("GET", f"/accounts/{account}").body["balance"] == "5.00"
    rebuilt = {p["name"]: p for p in runner.request("GET", "/_local/status").body["projections"]}
    # blue/green: a new generation was built and promoted, the other projection was untouched
    assert rebuilt["balances"]["generation"] == by_name["balances"]["generation"] + 1
    assert rebuilt["transactions"]["generation"] == by_name["transactions"]["generation"]
    assert (rebuilt["balances"]["position"], rebuilt["balances"]["lag_events"]) == (2, 0)

    unknown = subprocess.run(
        [sys.executable, "-m", "platform_local", "replay", "nope", "--url", runner.url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 2

    docs = runner.request("GET", "/docs")
    assert docs.status == 200
    assert "/docs/swagger-ui-bundle.min.js" in docs.body  # served here, no CDN
    assert runner.request("GET", "/docs/swagger-ui-bundle.min.js").status == 200
    for path in ("/command-api/openapi.json", "/query-api/openapi.json"):
        document = runner.request("GET", path).body
        assert document["openapi"].startswith("3.")
        assert "/accounts" in document["paths"]


@pytest.mark.parametrize("command", [["--help"], ["status", "--help"], ["replay", "--help"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "platform_local", *command],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: platform-local" in result.stdout


@pytest.mark.postgres
def test_read_models_in_postgres_with_database_url(runner: Any, database_url: Any) -> None:
    runner.start("--database-url", database_url.render_as_string(hide_password=False))
    account = runner.request("POST", "/accounts", {"owner": "Pg", "currency": "EUR"}).body[
        "account_id"
    ]
    assert runner.request("POST", f"/accounts/{account}/deposits", {"amount": "9.99"}).status == 201
    runner.wait_until(lambda: balance_is(runner, account, 2))
    assert runner.request("GET", f"/accounts/{account}").body["balance"] == "9.99"
    assert runner.terminate() == 0

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT balance FROM balances.accounts WHERE account_id = :id"),
                {"id": account},
            ).scalar_one()
    finally:
        engine.dispose()
    assert str(stored) == "9.99"
