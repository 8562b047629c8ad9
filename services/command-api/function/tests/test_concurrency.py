"""Many writers, one account: versions stay 1..N with no gap or duplicate, and every accepted
deposit is in the stream exactly once (and no refused one is)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from command_api.adapters.dynamodb_store import DynamoDBEventStore
from command_api.adapters.event_store import IdempotencyKey
from command_api.clock import new_uuid, utc_now
from command_api.domain import Deposit, OpenAccount, fold
from command_api.executor import ACCEPTED, CommandContext, CommandExecutor, Idempotency

from platform_events import default_registry

THREADS = 8
DEPOSITS_EACH = 3


class OneRequestAtATime:
    """Real DynamoDB applies each request atomically; moto does not under threads (a cancelled
    transaction restores a copy of the whole table, undoing commits made meanwhile). This proxy
    runs one request at a time, so threads still interleave between requests, which is where
    load-decide-append races."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@pytest.fixture
def store(dynamodb, table_name) -> DynamoDBEventStore:
    return DynamoDBEventStore(OneRequestAtATime(dynamodb), table_name, utc_now)


def executor(store: DynamoDBEventStore, max_attempts: int) -> CommandExecutor:
    return CommandExecutor(
        store,
        clock=utc_now,
        new_id=new_uuid,
        max_attempts=max_attempts,
        idempotency_ttl=timedelta(hours=1),
    )


def context(name: str, idempotency: Idempotency | None = None) -> CommandContext:
    return CommandContext(correlation_id=name, causation_id=name, idempotency=idempotency)


def run_concurrently(work: Any, count: int) -> list[Any]:
    start = threading.Barrier(count)

    def worker(index: int) -> Any:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


@pytest.mark.parametrize("max_attempts", [2, 200])
def test_racing_deposits_keep_the_stream_gapless_and_count_each_accepted_once(
    store, max_attempts
) -> None:
    commands = executor(store, max_attempts)
    account = str(new_uuid())
    assert commands.execute(OpenAccount(account, "Ada", "EUR"), context("open")).outcome == ACCEPTED

    def deposits(thread: int) -> list[tuple[str, Decimal, Any]]:
        results = []
        for number in range(DEPOSITS_EACH):
            reference = f"t{thread}-d{number}"
            amount = Decimal(thread * 100 + number + 1) / 100
            answer = commands.execute(Deposit(account, amount, reference), context(reference))
            results.append((reference, amount, answer))
        return results

    results = [result for batch in run_concurrently(deposits, THREADS) for result in batch]

    events = store.load(account)  # strongly consistent, and checks versions are 1..N itself
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert len({e.event_id for e in events}) == len(events)
    recorded = Counter(e.payload["reference"] for e in events[1:])
    accepted = {ref: amount for ref, amount, answer in results if answer.outcome == ACCEPTED}
    refused = {ref for ref, _, answer in results if answer.outcome != ACCEPTED}
    assert recorded == Counter(accepted.keys())  # each accepted deposit once, nothing else
    assert refused.isdisjoint(recorded)
    assert {answer.outcome for _, _, answer in results} <= {ACCEPTED, "concurrency_conflict"}
    balance = fold(account, [default_registry.decode(e) for e in events]).balance
    assert balance == sum(accepted.values())
    assert any(answer.attempts > 1 for _, _, answer in results), "no race happened"
    if max_attempts == 200:
        assert len(accepted) == THREADS * DEPOSITS_EACH


def test_racing_requests_with_one_idempotency_key_write_once_and_agree(store) -> None:
    commands = executor(store, max_attempts=200)
    account = str(new_uuid())
    commands.execute(OpenAccount(account, "Ada", "EUR"), context("open"))
    key = Idempotency(IdempotencyKey("c" * 64, "d" * 64), request_hash="h" * 64)

    answers = run_concurrently(
        lambda n: commands.execute(Deposit(account, Decimal("5.00")), context(f"r{n}", key)),
        THREADS,
    )

    assert len(store.load(account)) == 2
    assert {(a.reply.status, a.reply.body) for a in answers} == {(201, answers[0].reply.body)}
    assert Counter(a.outcome for a in answers) == Counter({ACCEPTED: 1, "replayed": THREADS - 1})
