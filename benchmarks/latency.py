"""Command and query latency through platform-local, per route, as a client measures it.

platform-local is started as a user starts it (``python -m platform_local`` on a free port, its
embedded defaults: moto in-process, read models in SQLite under a temporary data dir) and driven
over HTTP by concurrent clients, each on its own keep-alive connection
(``tests_integration.local_runner``, the client the sustained load audit uses too). Each route
runs on its own, one after the other, so each row measures one kind of request:

open account -> deposit (with an Idempotency-Key) -> the same deposit again (answered from the
key's record) -> withdraw everything -> [the projections settle, untimed] -> get account ->
list accounts (following cursors) -> list transactions -> close account.

Writes to one account always come from the same client, so no command meets a concurrency
conflict. Every answer's status is checked; the row counts the unexpected ones.

Reported, not budgeted (issue 10): moto is not DynamoDB, SQLite is not RDS, and the runner runs
each function as one container (one invocation at a time), so throughput here is about one over
the service time, not what API Gateway and Lambda would scale to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from command_api.http.requests import IDEMPOTENCY_KEY
from tests_integration.local_runner import (
    HttpClient,
    LocalRunner,
    percentile,
    projections_settled,
    running_platform_local,
    wait_for,
)

from benchmarks.report import Table

REQUESTS: Final = 2000
CLIENTS: Final = 8
SMOKE_REQUESTS: Final = 5
SMOKE_CLIENTS: Final = 2
DEPOSIT: Final = "100.00"
PAGE: Final = 50
SETTLE_TIMEOUT_SECONDS: Final = 600.0
PERCENTILES: Final = (50, 95, 99, 100)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    expected: int = 200


@dataclass
class Measured:
    route: str
    seconds: list[float]
    wall: float
    unexpected: int
    bodies: list[Any]
    """The answers' documents, in request order."""


@dataclass
class Run:
    rows: list[Measured] = field(default_factory=list)
    settle_seconds: float = 0.0


def run(smoke: bool) -> Iterable[Table]:
    requests, clients = (SMOKE_REQUESTS, SMOKE_CLIENTS) if smoke else (REQUESTS, CLIENTS)
    with running_platform_local() as runner:
        measured = _measure(runner.url, requests, clients)
    yield _table(runner, measured, requests, clients)
    # After the table, so a run that went wrong still shows what it measured.
    wrong = {row.route: row.unexpected for row in measured.rows if row.unexpected}
    if wrong:
        raise RuntimeError(f"unexpected answers (status other than the contract's): {wrong}")


def _measure(url: str, requests: int, clients: int) -> Run:
    result = Run()
    opened = _phase(
        url,
        "POST /accounts (open)",
        clients,
        [
            Request("POST", "/accounts", {"owner": f"bench {n}", "currency": "EUR"}, expected=201)
            for n in range(requests)
        ],
    )
    result.rows.append(opened)
    accounts = [body["account_id"] for body in opened.bodies if isinstance(body, dict)]
    deposits = [
        Request(
            "POST",
            f"/accounts/{account}/deposits",
            {"amount": DEPOSIT},
            {IDEMPOTENCY_KEY: f"bench-{account}"},
            expected=201,
        )
        for account in accounts
    ]
    result.rows.append(_phase(url, "POST /accounts/{id}/deposits", clients, deposits))
    result.rows.append(_phase(url, "  the same again (key replayed)", clients, deposits))
    withdrawals = [
        Request("POST", f"/accounts/{a}/withdrawals", {"amount": DEPOSIT}, expected=201)
        for a in accounts
    ]
    result.rows.append(_phase(url, "POST /accounts/{id}/withdrawals", clients, withdrawals))
    with HttpClient(url) as http:
        result.settle_seconds = wait_for(
            lambda: projections_settled(http), "the projections settle", SETTLE_TIMEOUT_SECONDS
        )
    reads = [Request("GET", f"/accounts/{a}") for a in accounts]
    result.rows.append(_phase(url, "GET /accounts/{id}", clients, reads))
    result.rows.append(_listing(url, requests, clients))
    history = [Request("GET", f"/accounts/{a}/transactions") for a in accounts]
    result.rows.append(_phase(url, "GET /accounts/{id}/transactions", clients, history))
    closes = [Request("DELETE", f"/accounts/{a}") for a in accounts]
    result.rows.append(_phase(url, "DELETE /accounts/{id} (close)", clients, closes))
    return result


Outcome = tuple[int, float, bool, Any]
"""(request number, seconds, answered as expected, the answer's document)"""


def _phase(url: str, route: str, clients: int, requests: Sequence[Request]) -> Measured:
    """``requests`` split over ``clients`` (request n to client n % clients), all at once."""

    def client(index: int) -> list[Outcome]:
        outcomes = []
        with HttpClient(url) as http:
            for number in range(index, len(requests), clients):
                request = requests[number]
                answer = http.request(request.method, request.path, request.body, request.headers)
                ok = answer.status == request.expected
                outcomes.append((number, answer.seconds, ok, answer.body))
        return outcomes

    return _concurrently(route, clients, client)


def _listing(url: str, requests: int, clients: int) -> Measured:
    """``GET /accounts`` page after page, each client following its own cursors."""

    def client(index: int) -> list[Outcome]:
        outcomes = []
        cursor: str | None = None
        with HttpClient(url) as http:
            for number in range(index, requests, clients):
                query = {"limit": str(PAGE)} | ({"cursor": cursor} if cursor else {})
                answer = http.request("GET", "/accounts", query=query)
                ok = answer.status == 200
                cursor = answer.body.get("next_cursor") if ok else None
                outcomes.append((number, answer.seconds, ok, None))
        return outcomes

    return _concurrently(f"GET /accounts?limit={PAGE} (pages)", clients, client)


def _concurrently(route: str, clients: int, client: Callable[[int], list[Outcome]]) -> Measured:
    start = threading.Barrier(clients)

    def started(index: int) -> list[Outcome]:
        start.wait()
        return client(index)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients, thread_name_prefix="latency") as pool:
        outcomes = sorted(o for part in pool.map(started, range(clients)) for o in part)
    wall = time.perf_counter() - began
    return Measured(
        route,
        [o[1] for o in outcomes],
        wall,
        sum(1 for o in outcomes if not o[2]),
        [o[3] for o in outcomes],
    )


def _table(runner: LocalRunner, measured: Run, requests: int, clients: int) -> Table:
    table = Table(
        f"Latency through platform-local ({requests:,} requests per route, {clients} clients)",
        ["route", "requests", "unexpected", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s"],
    )
    for row in measured.rows:
        table.add(
            row.route,
            len(row.seconds),
            row.unexpected,
            *(percentile(row.seconds, p) * 1000 for p in PERCENTILES),
            len(row.seconds) / row.wall,
        )
    table.notes += [
        f"platform-local on its embedded defaults: AWS in moto (in-process), read models in "
        f"{runner.database}; ready in {runner.startup_seconds:.1f} s",
        "latency is the client's: request sent to answer read, over a keep-alive connection",
        "the runner serves each function as one container (one invocation at a time): req/s is "
        "about 1 / service time, not what Lambda would scale to; moto is not DynamoDB",
        f"projections settled {measured.settle_seconds:.1f} s after the last withdrawal, before "
        "the queries; an unexpected status counts in 'unexpected'",
    ]
    return table
