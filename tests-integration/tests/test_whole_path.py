"""The whole path: command API -> event store -> stream -> relay -> SNS FIFO -> SQS FIFO ->
projection -> Postgres -> query API, every hop the real code, AWS emulated by moto.

What the command API answered is what the query API answers once the pipes are idle, and the
read model equals the fold of the event store, computed here from the stored items alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from tests_integration.invariants import assert_exact
from tests_integration.system import System


class Expected:
    """What the command API's answers say each account is now (balance, version, status)."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}

    def opened(self, answer: Any, owner: str) -> str:
        assert answer.status == 201, answer.body
        account = str(answer.body["account_id"])
        assert answer.header("Location") == f"/accounts/{account}"
        self.accounts[account] = {
            "owner": owner,
            "balance": Decimal("0.00"),
            "status": "open",
            "version": answer.body["version"],
        }
        return account

    def moved(self, account: str, answer: Any, amount: str) -> None:
        assert answer.status == 201, answer.body
        self.accounts[account]["balance"] += Decimal(amount)
        self._versioned(account, answer)

    def closed(self, account: str, answer: Any) -> None:
        assert answer.status == 200, answer.body
        self.accounts[account]["status"] = "closed"
        self._versioned(account, answer)

    def _versioned(self, account: str, answer: Any) -> None:
        version = answer.body["version"]
        assert version == self.accounts[account]["version"] + 1
        assert answer.header("ETag") == f'"{version}"'
        self.accounts[account]["version"] = version


def test_what_the_commands_answered_is_what_the_queries_answer(system: System) -> None:
    commands, expected = system.commands, Expected()
    ann = expected.opened(commands.open("Ann"), "Ann")
    bob = expected.opened(commands.open("Bob"), "Bob")
    cy = expected.opened(commands.open("Cy", "CHF"), "Cy")
    for account, kind, amount in [
        (ann, "deposit", "100.00"),
        (ann, "withdraw", "30.25"),
        (ann, "deposit", "0.50"),
        (bob, "deposit", "10.00"),
        (bob, "withdraw", "10.00"),
    ]:
        if kind == "deposit":
            expected.moved(account, commands.deposit(account, amount), amount)
        else:
            expected.moved(account, commands.withdraw(account, amount), f"-{amount}")
    expected.closed(bob, commands.close(bob))

    # An idempotent retry answers the first answer again and records nothing.
    key = {"Idempotency-Key": "cy-first-deposit"}
    first = commands.deposit(cy, "5.00", headers=key)
    expected.moved(cy, first, "5.00")
    stored = len(system.stored_events())
    again = commands.deposit(cy, "5.00", headers=key)
    assert (again.status, again.body) == (first.status, first.body)
    assert again.header("Idempotent-Replayed") == "true"

    # Rejected commands answer a problem and record nothing.
    rejected = {
        "insufficient_funds": commands.withdraw(ann, "70.26"),
        "account_closed": commands.deposit(bob, "1.00"),
        "account_not_empty": commands.close(ann),
        "version_mismatch": commands.deposit(ann, "1.00", headers={"If-Match": '"2"'}),
        "idempotency_key_reused": commands.deposit(cy, "6.00", headers=key),
        "validation_error": commands.deposit(ann, "0.001"),
        "account_not_found": commands.deposit("5f0c1d9e-0000-4000-8000-000000000000", "1.00"),
    }
    assert {code: answer.code for code, answer in rejected.items()} == {c: c for c in rejected}
    assert len(system.stored_events()) == stored

    system.settle()

    for account, state in expected.accounts.items():
        answer = system.queries.account(account)
        assert answer.status == 200, answer.body
        assert Decimal(answer.body["balance"]) == state["balance"]
        assert (answer.body["version"], answer.body["status"]) == (
            state["version"],
            state["status"],
        )
        assert answer.header("ETag") == f'"{state["version"]}"'
    assert [a["account_id"] for a in system.queries.every_account(owner="Ann")] == [ann]
    assert [a["account_id"] for a in system.queries.every_account(status="closed")] == [bob]
    events = assert_exact(system)
    assert len(events) == sum(state["version"] for state in expected.accounts.values())


@pytest.mark.slow
def test_concurrent_commands_keep_every_stream_gapless_and_the_read_model_exact(
    system: System,
) -> None:
    hot = system.commands.open("Hot").body["account_id"]
    calm = system.commands.open("Calm").body["account_id"]
    containers = [system.command_api() for _ in range(6)]
    start = threading.Barrier(len(containers))

    def client(index: int) -> list[tuple[str, str, Any]]:
        api = containers[index]
        start.wait()
        answers = []
        for step in range(4):
            # Distinct amounts, so every stored deposit names the request it came from.
            amount = f"{index + 1}.{step + 1:02d}"
            account = calm if index == 0 else hot
            answers.append((account, amount, api.deposit(account, amount)))
        return answers

    # The pollers run on their own threads meanwhile, as the mappings would.
    with system.running(), ThreadPoolExecutor(len(containers)) as pool:
        answers = [a for batch in pool.map(client, range(len(containers))) for a in batch]
    system.settle()

    accepted = [(account, amount, a) for account, amount, a in answers if a.status == 201]
    refused = [a for _, _, a in answers if a.status != 201]
    assert {a.code for a in refused} <= {"concurrency_conflict"}
    assert len(accepted) >= len(containers)
    events = system.stored_events()
    deposits = Counter(
        (e.stream_id, str(Decimal(e.payload["amount"]).quantize(Decimal("0.01"))))
        for e in events
        if e.event_type == "MoneyDeposited"
    )
    # Each accepted deposit is stored exactly once; no refused one is.
    assert deposits == Counter((account, amount) for account, amount, _ in accepted)
    versions = Counter((account, a.body["version"]) for account, _, a in accepted)
    assert max(versions.values()) == 1
    for account in (hot, calm):
        mine = [a.body["version"] for acc, _, a in accepted if acc == account]
        answer = system.queries.account(account)
        assert answer.body["version"] == max(mine) == 1 + len(mine)
        assert Decimal(answer.body["balance"]) == sum(
            (Decimal(amount) for acc, amount, _ in accepted if acc == account), Decimal(0)
        )
    assert_exact(system)


@pytest.mark.slow
def test_concurrent_retries_of_one_request_record_it_once(system: System) -> None:
    # A client that timed out and retried, several times at once: one Idempotency-Key, one body.
    containers = [system.command_api() for _ in range(4)]
    start = threading.Barrier(len(containers))
    key = {"Idempotency-Key": "open-dora-once"}

    def retry(index: int) -> Any:
        start.wait()
        return containers[index].open("Dora", headers=key)

    with system.running(), ThreadPoolExecutor(len(containers)) as pool:
        answers = list(pool.map(retry, range(len(containers))))
    system.settle()

    assert {a.status for a in answers} == {201}
    assert len({a.body["account_id"] for a in answers}) == 1
    # The losers of the race were answered with the winner's answer.
    assert sum(a.header("Idempotent-Replayed") == "true" for a in answers) == len(answers) - 1
    events = assert_exact(system)
    assert [e.stream_id for e in events] == [answers[0].body["account_id"]]
