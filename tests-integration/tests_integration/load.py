"""Sustained mixed load through a running platform-local, then an audit of what it left.

``uv run python -m tests_integration.load --commands 5000 --clients 16`` starts platform-local
(its embedded defaults, a temporary data dir; or ``--url`` for one already running), sends the
commands from concurrent clients over many accounts (about a fifth of them invalid or refused on
purpose: bad bodies, a stale ``If-Match``, overdrafts, unknown accounts, closes of non-empty
accounts, money for closed accounts, reused idempotency keys), records every request and answer,
lets the projections settle, and audits:

- every request was answered, none with a 5xx, each as the contract says (the clients keep an
  exact model of the accounts they own, so the expected answer of each command is known);
- a retry with the same ``Idempotency-Key`` and body got the first answer again, marked replayed;
- every event a 2xx answer reported is in the event store exactly once, with the request's
  amount; the store holds no event that no 2xx answer reported (so no 4xx recorded anything);
- the store's fold equals each client's model of its accounts;
- once settled, both read models, read page by page through the query API, equal the fold.

Each client owns its accounts (so its model is exact); all clients also deposit into a few shared
accounts, where the only acceptable refusal is ``concurrency_conflict``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from command_api.executor import IDEMPOTENT_REPLAYED
from command_api.http.preconditions import IF_MATCH
from command_api.http.problems import REPLAYABLE, ProblemCode
from command_api.http.requests import IDEMPOTENCY_KEY, MAX_BODY_BYTES

from platform_events import EventEnvelope
from tests_integration.local_runner import (
    ACCOUNTS_PATH,
    HttpClient,
    Response,
    percentile,
    projections_settled,
    runner_status,
    running_platform_local,
    store_events,
    wait_for,
)
from tests_integration.reference import account_balances, account_transactions

CURRENCY: Final = "EUR"
INVALID_SHARE: Final = 0.2
SHARED_ACCOUNTS: Final = 3
COMMANDS_PER_ACCOUNT: Final = 8
"""Each client aims at about this many commands per account it owns ("many accounts")."""
KEYED_SHARE: Final = 0.3
"""Valid commands sent with an Idempotency-Key (so that some can be retried)."""
SETTLE_TIMEOUT_SECONDS: Final = 300.0
READ_PAGE: Final = 100
READ_CLIENTS: Final = 8
FAILURES_SHOWN: Final = 20
CLOSED: Final = "closed"
OPEN: Final = "open"
REPLAYED_VALUE: Final = "true"


class Kind(StrEnum):
    """What a request was meant to exercise."""

    # accepted
    OPEN = "open"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    CLOSE = "close"
    DEPOSIT_IF_MATCH = "deposit with current If-Match"
    SHARED_DEPOSIT = "deposit to a shared account"
    RETRY_SAME_BODY = "retry: same key, same body"
    # invalid or refused
    BAD_JSON = "body not JSON"
    TOO_LARGE = "body over 16 KiB"
    INVALID_FIELD = "invalid field"
    UNKNOWN_ACCOUNT = "unknown account"
    MALFORMED_ID = "malformed account id"
    OVERDRAFT = "withdrawal beyond balance"
    STALE_VERSION = "stale If-Match"
    CLOSE_NOT_EMPTY = "close with money in it"
    MONEY_FOR_CLOSED = "money for a closed account"
    KEY_REUSED = "same key, other body"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}" if self.code else str(self.status)


CREATED: Final = Outcome(201)
CLOSED_OK: Final = Outcome(200)


def _problem(status: int, code: ProblemCode) -> Outcome:
    return Outcome(status, code.value)


@dataclass(slots=True)
class Exchange:
    """One request and what came back."""

    client: int
    sequence: int
    kind: Kind
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    expected: frozenset[Outcome]
    response: Response | None = None
    error: str | None = None
    """The transport error, when no answer came."""
    replay_of: Exchange | None = None
    """For a retry with the same key and body: the first attempt, whose answer it must get."""
    amount: Decimal | None = None

    @property
    def outcome(self) -> Outcome | None:
        if self.response is None:
            return None
        return Outcome(self.response.status, self.response.code)

    @property
    def accepted(self) -> bool:
        return self.response is not None and 200 <= self.response.status < 300

    @property
    def replayed(self) -> bool:
        return (
            self.response is not None
            and self.response.headers.get(IDEMPOTENT_REPLAYED.lower()) == REPLAYED_VALUE
        )

    def record(self) -> dict[str, Any]:
        """A JSON line for ``--record``."""
        answer = self.response
        return {
            "client": self.client,
            "sequence": self.sequence,
            "kind": self.kind.value,
            "request": {
                "method": self.method,
                "path": self.path,
                "headers": self.headers,
                "body": None if self.body is None else self.body.decode("utf-8", "replace"),
            },
            "expected": sorted(str(o) for o in self.expected),
            "response": None
            if answer is None
            else {
                "status": answer.status,
                "headers": dict(answer.headers),
                "body": answer.body,
                "seconds": round(answer.seconds, 6),
            },
            "error": self.error,
        }


@dataclass(slots=True)
class AccountModel:
    """An account as its owning client knows it (exact: nobody else writes it)."""

    account_id: str
    balance: Decimal = Decimal("0.00")
    version: int = 1
    closed: bool = False


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _amount(rng: random.Random, low: int = 1, high: int = 500) -> Decimal:
    return Decimal(f"{rng.randint(low, high)}.{rng.randint(0, 99):02d}")


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


INVALID_BODIES: Final[tuple[tuple[str, bytes], ...]] = (
    ("deposits", _json({"amount": "-5.00"})),
    ("deposits", _json({"amount": "0"})),
    ("deposits", _json({"amount": "1.001"})),
    ("deposits", _json({"amount": "1000000000000.01"})),
    ("deposits", _json({"amount": True})),
    ("deposits", _json({})),
    ("withdrawals", _json({"amount": "abc"})),
    ("withdrawals", _json({"amount": "5.00", "reference": 7})),
    ("", _json({"owner": "   ", "currency": CURRENCY})),
    ("", _json({"owner": "Ann", "currency": "euro"})),
    ("", _json({"currency": CURRENCY})),
)
"""(where: a movement route of an account, or "" for opening one, body): 422 validation_error."""
NOT_JSON: Final = (b"{nope", b'{"amount": "1.00"', b"\xff\xfe", b"[1, 2")
MALFORMED_IDS: Final = ("not-an-id", "12345", "..%2F..", "x" * 300)


class LoadClient:
    """One client: its own connection, accounts, models and random stream."""

    def __init__(
        self,
        index: int,
        url: str,
        commands: int,
        shared: Sequence[str],
        run_id: str,
        seed: int,
        invalid_share: float,
    ) -> None:
        self.index = index
        self.http = HttpClient(url)
        self.commands = commands
        self.shared = list(shared)
        self.run_id = run_id
        self.rng = random.Random(seed * 1_000_003 + index)
        self.invalid_share = invalid_share
        self.accounts: list[AccountModel] = []
        self.target_accounts = max(2, commands // COMMANDS_PER_ACCOUNT)
        self.exchanges: list[Exchange] = []
        self.replayable: list[Exchange] = []
        """Keyed requests whose answer the key keeps (2xx and REPLAYABLE refusals)."""

    # ---------------------------------------------------------------- driving
    def run(self) -> list[Exchange]:
        with self.http:
            while len(self.exchanges) < self.commands:
                if self.rng.random() < self.invalid_share:
                    self._invalid()
                else:
                    self._valid()
        return self.exchanges

    def send(
        self,
        kind: Kind,
        method: str,
        path: str,
        body: bytes | None,
        expected: Iterable[Outcome],
        headers: Mapping[str, str] | None = None,
        replay_of: Exchange | None = None,
        amount: Decimal | None = None,
    ) -> Exchange:
        sent = dict(headers or {})
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        exchange = Exchange(
            client=self.index,
            sequence=len(self.exchanges),
            kind=kind,
            method=method,
            path=path,
            headers=sent,
            body=body,
            expected=frozenset(expected),
            replay_of=replay_of,
            amount=amount,
        )
        self.exchanges.append(exchange)
        try:
            exchange.response = self.http.request(method, path, body, sent)
        except OSError as error:
            exchange.error = f"{type(error).__name__}: {error}"
            self.http.close()
        keyed = IDEMPOTENCY_KEY in sent and replay_of is None
        if keyed and exchange.response is not None and self._key_keeps(exchange.response):
            self.replayable.append(exchange)
        return exchange

    @staticmethod
    def _key_keeps(response: Response) -> bool:
        return 200 <= response.status < 300 or response.code in REPLAYABLE

    def _key(self) -> dict[str, str]:
        if self.rng.random() < KEYED_SHARE:
            return {IDEMPOTENCY_KEY: f"load-{self.run_id}-{self.index}-{len(self.exchanges)}"}
        return {}

    def _open_accounts(self) -> list[AccountModel]:
        return [a for a in self.accounts if not a.closed]

    # ---------------------------------------------------------------- valid commands
    def _valid(self) -> None:
        live = self._open_accounts()
        emptied = [a for a in live if a.balance == 0 and a.version > 1]
        roll = self.rng.random()
        if len(self.accounts) < self.target_accounts and (not live or roll < 0.25):
            self._open()
        elif emptied and roll < 0.5:  # emptied on purpose (see below): close it
            self._close(self.rng.choice(emptied))
        elif roll < 0.05 and self.shared:
            self._shared_deposit()
        elif roll < 0.12 and self.replayable:
            self._retry_same_body()
        elif roll < 0.17 and live:
            self._deposit(self.rng.choice(live), if_match=True)
        elif roll < 0.2 and any(a.balance == 0 for a in live):
            self._close(self.rng.choice([a for a in live if a.balance == 0]))
        elif roll < 0.45 and any(a.balance > 0 for a in live):
            account = self.rng.choice([a for a in live if a.balance > 0])
            everything = self.rng.random() < 0.25  # empties it, so that it can be closed
            self._withdraw(account, account.balance if everything else None)
        elif live:
            self._deposit(self.rng.choice(live))
        else:
            self._open()

    def _open(self) -> None:
        body = _json({"owner": f"load {self.run_id} c{self.index}", "currency": CURRENCY})
        exchange = self.send(Kind.OPEN, "POST", ACCOUNTS_PATH, body, [CREATED], self._key())
        if exchange.outcome == CREATED:
            assert exchange.response is not None
            self.accounts.append(AccountModel(exchange.response.body["account_id"]))

    def _deposit(self, account: AccountModel, *, if_match: bool = False) -> None:
        amount = _amount(self.rng)
        headers = self._key()
        kind = Kind.DEPOSIT
        if if_match:
            headers[IF_MATCH] = f'"{account.version}"'
            kind = Kind.DEPOSIT_IF_MATCH
        exchange = self.send(
            kind,
            "POST",
            f"{ACCOUNTS_PATH}/{account.account_id}/deposits",
            _json({"amount": _money(amount), "reference": f"d{len(self.exchanges)}"}),
            [CREATED],
            headers,
            amount=amount,
        )
        if exchange.outcome == CREATED:
            account.balance += amount
            account.version += 1

    def _withdraw(self, account: AccountModel, amount: Decimal | None) -> None:
        amount = (
            amount if amount is not None else _amount(self.rng, 1, max(1, int(account.balance)))
        )
        amount = min(amount, account.balance)
        exchange = self.send(
            Kind.WITHDRAW,
            "POST",
            f"{ACCOUNTS_PATH}/{account.account_id}/withdrawals",
            _json({"amount": _money(amount)}),
            [CREATED],
            self._key(),
            amount=amount,
        )
        if exchange.outcome == CREATED:
            account.balance -= amount
            account.version += 1

    def _close(self, account: AccountModel) -> None:
        exchange = self.send(
            Kind.CLOSE,
            "DELETE",
            f"{ACCOUNTS_PATH}/{account.account_id}",
            None,
            [CLOSED_OK],
            self._key(),
        )
        if exchange.outcome == CLOSED_OK:
            account.closed = True
            account.version += 1

    def _shared_deposit(self) -> None:
        amount = _amount(self.rng, 1, 50)
        self.send(
            Kind.SHARED_DEPOSIT,
            "POST",
            f"{ACCOUNTS_PATH}/{self.rng.choice(self.shared)}/deposits",
            _json({"amount": _money(amount)}),
            [CREATED, _problem(409, ProblemCode.CONCURRENCY_CONFLICT)],
            amount=amount,
        )

    def _retry_same_body(self) -> None:
        first = self.rng.choice(self.replayable)
        assert first.response is not None
        self.send(
            Kind.RETRY_SAME_BODY,
            first.method,
            first.path,
            first.body,
            [Outcome(first.response.status, first.response.code)],
            first.headers,  # If-Match too: the key's record is consulted before it
            replay_of=first,
            amount=first.amount,
        )

    # ---------------------------------------------------------------- invalid commands
    def _invalid(self) -> None:
        choices: list[Callable[[], None]] = [
            self._bad_json,
            self._too_large,
            self._invalid_field,
            self._unknown_account,
            self._malformed_id,
        ]
        # The refusals that depend on an account's state count twice: they are the conflicts.
        live = self._open_accounts()
        if live:
            choices += [self._overdraft, self._stale_version] * 2
        if any(a.balance > 0 for a in live):
            choices += [self._close_not_empty] * 2
        if any(a.closed for a in self.accounts):
            choices += [self._money_for_closed] * 2
        if self.replayable:
            choices += [self._key_reused] * 2
        self.rng.choice(choices)()

    def _some_account_path(self) -> str:
        if self.accounts:
            return f"{ACCOUNTS_PATH}/{self.rng.choice(self.accounts).account_id}/deposits"
        return ACCOUNTS_PATH

    def _bad_json(self) -> None:
        self.send(
            Kind.BAD_JSON,
            "POST",
            self._some_account_path(),
            self.rng.choice(NOT_JSON),
            [_problem(400, ProblemCode.INVALID_JSON)],
            self._key(),
        )

    def _too_large(self) -> None:
        body = _json({"owner": "x" * (MAX_BODY_BYTES + 1), "currency": CURRENCY})
        self.send(
            Kind.TOO_LARGE,
            "POST",
            ACCOUNTS_PATH,
            body,
            [_problem(413, ProblemCode.PAYLOAD_TOO_LARGE)],
        )

    def _invalid_field(self) -> None:
        where, body = self.rng.choice(INVALID_BODIES)
        if where and self.accounts:
            path = f"{ACCOUNTS_PATH}/{self.rng.choice(self.accounts).account_id}/{where}"
        else:
            path, body = ACCOUNTS_PATH, self.rng.choice([b for w, b in INVALID_BODIES if not w])
        self.send(
            Kind.INVALID_FIELD,
            "POST",
            path,
            body,
            [_problem(422, ProblemCode.VALIDATION_ERROR)],
            self._key(),
        )

    def _unknown_account(self) -> None:
        route = self.rng.choice(["deposits", "withdrawals", ""])
        path = f"{ACCOUNTS_PATH}/{uuid.uuid4()}" + (f"/{route}" if route else "")
        body = _json({"amount": "1.00"}) if route else None
        self.send(
            Kind.UNKNOWN_ACCOUNT,
            "POST" if route else "DELETE",
            path,
            body,
            [_problem(404, ProblemCode.ACCOUNT_NOT_FOUND)],
        )

    def _malformed_id(self) -> None:
        self.send(
            Kind.MALFORMED_ID,
            "POST",
            f"{ACCOUNTS_PATH}/{self.rng.choice(MALFORMED_IDS)}/deposits",
            _json({"amount": "1.00"}),
            [_problem(404, ProblemCode.ACCOUNT_NOT_FOUND)],
        )

    def _overdraft(self) -> None:
        account = self.rng.choice(self._open_accounts())
        amount = account.balance + _amount(self.rng, 1, 100)
        self.send(
            Kind.OVERDRAFT,
            "POST",
            f"{ACCOUNTS_PATH}/{account.account_id}/withdrawals",
            _json({"amount": _money(amount)}),
            [_problem(409, ProblemCode.INSUFFICIENT_FUNDS)],
            self._key(),
            amount=amount,
        )

    def _stale_version(self) -> None:
        account = self.rng.choice(self._open_accounts())
        stale = self.rng.choice([account.version - 1, account.version + 1, account.version + 50])
        self.send(
            Kind.STALE_VERSION,
            "POST",
            f"{ACCOUNTS_PATH}/{account.account_id}/deposits",
            _json({"amount": "1.00"}),
            [_problem(412, ProblemCode.VERSION_MISMATCH)],
            {IF_MATCH: f'"{max(stale, 0)}"'},
        )

    def _close_not_empty(self) -> None:
        account = self.rng.choice([a for a in self._open_accounts() if a.balance > 0])
        self.send(
            Kind.CLOSE_NOT_EMPTY,
            "DELETE",
            f"{ACCOUNTS_PATH}/{account.account_id}",
            None,
            [_problem(409, ProblemCode.ACCOUNT_NOT_EMPTY)],
            self._key(),
        )

    def _money_for_closed(self) -> None:
        account = self.rng.choice([a for a in self.accounts if a.closed])
        route = self.rng.choice(["deposits", "withdrawals"])
        self.send(
            Kind.MONEY_FOR_CLOSED,
            "POST",
            f"{ACCOUNTS_PATH}/{account.account_id}/{route}",
            _json({"amount": "1.00"}),
            [_problem(409, ProblemCode.ACCOUNT_CLOSED)],
            self._key(),
        )

    def _key_reused(self) -> None:
        first = self.rng.choice(self.replayable)
        other = (
            _json({"owner": "someone else", "currency": CURRENCY})
            if first.path == ACCOUNTS_PATH
            else _json({"amount": "0.01"})
        )
        # A close has no body to vary: the same key on another route of its account.
        path = f"{first.path}/deposits" if first.method == "DELETE" else first.path
        self.send(
            Kind.KEY_REUSED,
            "POST",
            path,
            other,
            [_problem(422, ProblemCode.IDEMPOTENCY_KEY_REUSED)],
            {IDEMPOTENCY_KEY: first.headers[IDEMPOTENCY_KEY]},
        )


# -------------------------------------------------------------------- the run
@dataclass
class LoadRun:
    url: str
    commands: int
    clients: int
    seed: int
    exchanges: list[Exchange]
    setup: list[Exchange]
    """The shared accounts' openings (not counted as load)."""
    shared: list[str]
    models: list[AccountModel]
    baseline: set[str]
    """Event ids in the store before the run (a server that was already in use)."""
    seconds: float


def run_load(
    url: str,
    commands: int,
    clients: int,
    seed: int = 1,
    invalid_share: float = INVALID_SHARE,
) -> LoadRun:
    """Send ``commands`` commands from ``clients`` concurrent clients; record every exchange."""
    if commands < clients or clients < 1:
        raise ValueError("need at least one client and one command per client")
    run_id = uuid.uuid4().hex[:8]
    with HttpClient(url) as http:
        baseline = {e["event_id"] for e in store_events(http)}
    opener = LoadClient(clients, url, 0, [], run_id, seed, 0.0)
    with opener.http:
        for _ in range(SHARED_ACCOUNTS):
            opener._open()
    shared = [a.account_id for a in opener.accounts]
    if len(shared) != SHARED_ACCOUNTS:
        raise RuntimeError(f"could not open the shared accounts: {opener.exchanges}")
    shares = [commands // clients + (1 if i < commands % clients else 0) for i in range(clients)]
    workers = [
        LoadClient(i, url, share, shared, run_id, seed, invalid_share)
        for i, share in enumerate(shares)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients, thread_name_prefix="load") as pool:
        results = list(pool.map(LoadClient.run, workers))
    seconds = time.perf_counter() - started
    return LoadRun(
        url=url,
        commands=commands,
        clients=clients,
        seed=seed,
        exchanges=[e for result in results for e in result],
        setup=opener.exchanges,
        shared=shared,
        models=[model for worker in workers for model in worker.accounts],
        baseline=baseline,
        seconds=seconds,
    )


# -------------------------------------------------------------------- the audit
@dataclass
class Audit:
    failures: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    """What was verified, one line each (the summary's body)."""
    events_in_store: int = 0
    events_from_run: int = 0
    settle_seconds: float = 0.0
    audit_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def check(self, what: str, problems: Sequence[str]) -> None:
        self.checks.append(f"{'ok  ' if not problems else 'FAIL'} {what}")
        for problem in problems[:FAILURES_SHOWN]:
            self.failures.append(f"{what}: {problem}")
        if len(problems) > FAILURES_SHOWN:
            self.failures.append(f"{what}: ... and {len(problems) - FAILURES_SHOWN} more")


def _describe(exchange: Exchange) -> str:
    got = exchange.error or (
        f"{exchange.outcome} {exchange.response.body!r:.200}" if exchange.response else "?"
    )
    expected = " or ".join(sorted(str(o) for o in exchange.expected))
    return (
        f"client {exchange.client} #{exchange.sequence} {exchange.kind.value}: "
        f"{exchange.method} {exchange.path:.80} expected {expected}, got {got}"
    )


def audit(run: LoadRun, settle_timeout: float = SETTLE_TIMEOUT_SECONDS) -> Audit:
    result = Audit()
    started = time.perf_counter()
    everything = run.setup + run.exchanges
    result.check("every request answered", [_describe(e) for e in everything if e.response is None])
    answered = [e for e in everything if e.response is not None]
    result.check(
        "no 5xx", [_describe(e) for e in answered if e.response and e.response.status >= 500]
    )
    result.check(
        "each answer as the contract says",
        [_describe(e) for e in answered if e.outcome not in e.expected],
    )
    result.check("idempotent retries got the first answer", replay_problems(answered))

    with HttpClient(run.url) as http:
        stored = [e for e in store_events(http) if e["event_id"] not in run.baseline]
        envelopes = [EventEnvelope.from_dict(e) for e in stored]
        result.events_in_store = len(stored) + len(run.baseline)
        result.events_from_run = len(stored)
        result.check(
            "2xx events in the store exactly once, none without a 2xx",
            store_problems(answered, envelopes),
        )
        result.check("clients' models equal the fold", model_problems(run.models, envelopes))
        try:
            result.settle_seconds = wait_for(
                lambda: projections_settled(http), "the projections settle", settle_timeout
            )
            settled: list[str] = []
        except RuntimeError as error:
            settled = [str(error)]
        result.check("projections settled, dead-letter queues empty", settled + _dlq(http))
    every = [EventEnvelope.from_dict(e) for e in _all_events(run.url)]
    result.check("read models equal the fold", read_model_problems(run.url, every))
    result.audit_seconds = time.perf_counter() - started
    return result


def _all_events(url: str) -> list[dict[str, Any]]:
    with HttpClient(url) as http:
        return store_events(http)


def _dlq(http: HttpClient) -> list[str]:
    problems = []
    for projection in runner_status(http)["projections"]:
        for queue, depth in projection["queues"].items():
            if queue.endswith("dlq") and (depth["visible"] or depth["in_flight"]):
                problems.append(f"{projection['name']} {queue}: {depth}")
    return problems


def replay_problems(answered: Sequence[Exchange]) -> list[str]:
    """Retries with the same key and body that did not get the first answer, marked replayed."""
    problems = []
    for exchange in answered:
        first = exchange.replay_of
        if first is None:
            continue
        assert exchange.response is not None
        assert first.response is not None
        if not exchange.replayed:
            problems.append(f"{_describe(exchange)}: not marked {IDEMPOTENT_REPLAYED}")
        if exchange.response.body != first.response.body:
            problems.append(
                f"{_describe(exchange)}: body {exchange.response.body!r:.200} differs from the "
                f"first answer {first.response.body!r:.200}"
            )
    for exchange in answered:
        if exchange.replay_of is None and exchange.replayed:
            problems.append(f"{_describe(exchange)}: a first attempt marked replayed")
    return problems


def store_problems(answered: Sequence[Exchange], stored: Sequence[EventEnvelope]) -> list[str]:
    """Events of 2xx answers missing, doubled or different in the store (stream, version, type,
    amount); stored events no 2xx answer reported."""
    problems = []
    by_id: dict[str, list[EventEnvelope]] = {}
    for envelope in stored:
        by_id.setdefault(str(envelope.event_id), []).append(envelope)
    problems += [f"event {i} stored {len(e)} times" for i, e in by_id.items() if len(e) > 1]
    reported: set[str] = set()
    for exchange in answered:
        if not exchange.accepted:
            continue
        assert exchange.response is not None
        body = exchange.response.body
        for event in body["events"]:
            reported.add(event["event_id"])
            found = by_id.get(event["event_id"], [])
            if len(found) != 1:
                problems.append(f"{_describe(exchange)}: event {event['event_id']} not stored")
                continue
            envelope = found[0]
            if (envelope.stream_id, envelope.version, envelope.event_type) != (
                body["account_id"],
                event["version"],
                event["event_type"],
            ):
                problems.append(f"{_describe(exchange)}: stored as {envelope.to_dict()}")
            stored_amount = envelope.payload.get("amount")
            if exchange.amount is not None and Decimal(str(stored_amount)) != exchange.amount:
                problems.append(f"{_describe(exchange)}: stored amount {stored_amount}")
    orphans = [e for i, found in by_id.items() if i not in reported for e in found]
    problems += [f"event {e.to_dict()} was reported by no 2xx answer" for e in orphans]
    return problems


def model_problems(models: Sequence[AccountModel], stored: Sequence[EventEnvelope]) -> list[str]:
    """Accounts whose fold of the store differs from their owner's model."""
    folded = account_balances(stored)
    problems = []
    for model in models:
        fold = folded.get(model.account_id)
        expected = (model.balance, model.version, CLOSED if model.closed else OPEN)
        actual = None if fold is None else (fold.balance, fold.version, fold.status)
        if actual != expected:
            problems.append(f"account {model.account_id}: model {expected}, store {actual}")
    return problems


def read_model_problems(url: str, stored: Sequence[EventEnvelope]) -> list[str]:
    """Differences between the query API's answers (every page) and the folds of ``stored``."""
    balances = account_balances(stored)
    history = account_transactions(stored)
    problems = []
    with HttpClient(url) as http:
        listed = _every_page(http, ACCOUNTS_PATH)
    expected = [balances[account].document() for account in sorted(balances)]
    if listed != expected:
        listed_by_id = {str(d.get("account_id")): d for d in listed}
        for document in expected:
            got = listed_by_id.pop(document["account_id"], None)
            if got != document:
                problems.append(f"GET /accounts: {got} instead of {document}")
        problems += [f"GET /accounts lists {d}, not in the store" for d in listed_by_id.values()]
        if not problems:
            problems.append("GET /accounts lists the right accounts in the wrong order")

    local = threading.local()
    clients: list[HttpClient] = []

    def transactions(account: str) -> list[str]:
        if not hasattr(local, "http"):
            local.http = HttpClient(url)
            clients.append(local.http)
        items = _every_page(local.http, f"{ACCOUNTS_PATH}/{account}/transactions")
        if items != history[account]:
            return [f"transactions of {account}: {items} instead of {history[account]}"]
        return []

    try:
        with ThreadPoolExecutor(READ_CLIENTS, thread_name_prefix="audit") as pool:
            for found in pool.map(transactions, sorted(history)):
                problems += found
    finally:
        for client in clients:
            client.close()
    return problems


def _every_page(http: HttpClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": str(READ_PAGE)}
        if cursor is not None:
            query["cursor"] = cursor
        answer = http.request("GET", path, query=query)
        if answer.status != 200:
            raise AssertionError(f"GET {path} answered {answer.status}: {answer.body}")
        items.extend(answer.body["items"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return items


# -------------------------------------------------------------------- the summary
def summary(run: LoadRun, result: Audit, database: str) -> str:
    exchanges = run.exchanges
    statuses = Counter(e.outcome.status if e.outcome else "no answer" for e in exchanges)
    codes = Counter(e.outcome.code for e in exchanges if e.outcome and e.outcome.code)
    kinds = Counter(e.kind.value for e in exchanges)
    seconds = [e.response.seconds for e in exchanges if e.response is not None]
    accepted = sum(1 for e in exchanges if e.accepted)
    lines = [
        f"sustained load on {run.url} (read models: {database})",
        f"{len(exchanges)} commands from {run.clients} clients in {run.seconds:.1f} s "
        f"({len(exchanges) / run.seconds:.1f} commands/s), seed {run.seed}, "
        f"{len(run.models) + len(run.shared)} accounts ({len(run.shared)} shared)",
        f"latency p50 {_pct(seconds, 50)} ms, p99 {_pct(seconds, 99)} ms, "
        f"max {_pct(seconds, 100)} ms",
        "by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)),
        "by problem code: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())),
        f"accepted {accepted}, refused {len(exchanges) - accepted} "
        f"({(len(exchanges) - accepted) / len(exchanges):.0%})",
        "by kind: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())),
        f"events: {result.events_from_run} from this run, {result.events_in_store} in the store; "
        f"settled {result.settle_seconds:.1f} s after the load, audit took "
        f"{result.audit_seconds:.1f} s",
        "audit:",
        *(f"  {line}" for line in result.checks),
        "AUDIT PASSED" if result.passed else "AUDIT FAILED",
        *(f"  {failure}" for failure in result.failures),
    ]
    return "\n".join(lines)


def _pct(seconds: Sequence[float], percent: float) -> str:
    return "-" if not seconds else f"{percentile(seconds, percent) * 1000:.0f}"


# -------------------------------------------------------------------- the script
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests_integration.load",
        description="Sustained mixed load through platform-local, then an audit of the event "
        "store and the read models. Exits 1 when the audit fails.",
    )
    parser.add_argument("--commands", type=int, default=5000, help="(%(default)s)")
    parser.add_argument("--clients", type=int, default=16, help="(%(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="(%(default)s)")
    parser.add_argument(
        "--invalid-share",
        type=float,
        default=INVALID_SHARE,
        help="share of invalid or refused commands (%(default)s)",
    )
    parser.add_argument(
        "--url", help="a running platform-local (default: start one with its embedded defaults)"
    )
    parser.add_argument(
        "--database-url", help="when starting platform-local: its --database-url (Postgres)"
    )
    parser.add_argument(
        "--settle-timeout", type=float, default=SETTLE_TIMEOUT_SECONDS, help="(%(default)s s)"
    )
    parser.add_argument("--record", type=Path, help="write every exchange to this JSON-lines file")
    options = parser.parse_args(argv)

    with ExitStack() as stack:
        if options.url:
            url, database = options.url.rstrip("/"), "whatever the running server uses"
        else:
            runner = stack.enter_context(running_platform_local(database_url=options.database_url))
            url, database = runner.url, runner.database
            print(f"platform-local ready in {runner.startup_seconds:.1f} s at {url}", flush=True)
        run = run_load(url, options.commands, options.clients, options.seed, options.invalid_share)
        result = audit(run, options.settle_timeout)
        if options.record:
            with options.record.open("w") as out:
                for exchange in run.setup + run.exchanges:
                    out.write(json.dumps(exchange.record()) + "\n")
        print(summary(run, result, database), flush=True)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
