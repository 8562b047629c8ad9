"""Traffic for the scenarios: a written history, commands from another thread, readers that
record every answer they get."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tests_integration.apis import Answer, CommandApi, QueryApi
from tests_integration.system import System


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            msg = f"timed out waiting until {what}"
            raise AssertionError(msg)
        time.sleep(0.05)


def write_history(system: System, accounts: int, movements: int, seed: int = 1) -> list[str]:
    """``accounts`` accounts and ``movements`` deposits (every fourth followed by a withdrawal),
    through the command API; returns the account ids."""
    rng = random.Random(seed)
    ids = [system.commands.open(f"early {n}").body["account_id"] for n in range(accounts)]
    for step in range(movements):
        account = ids[step % accounts]
        answer = system.commands.deposit(account, f"{rng.randint(10, 900)}.{step % 100:02d}")
        if answer.status != 201:
            msg = f"deposit refused: {answer.body}"
            raise AssertionError(msg)
        if step % 4 == 3:
            answer = system.commands.withdraw(account, "1.25")
            if answer.status != 201:
                msg = f"withdrawal refused: {answer.body}"
                raise AssertionError(msg)
    return ids


class Worker(threading.Thread):
    """A loop on its own thread until :meth:`stop`; its first error is raised by :meth:`stop`."""

    def __init__(self, name: str, pause: float) -> None:
        super().__init__(daemon=True, name=name)
        self.errors: list[BaseException] = []
        self._pause = pause
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self.step()
                self._stopping.wait(self._pause)
        except BaseException as error:
            self.errors.append(error)

    def step(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)
        if self.is_alive():
            msg = f"{self.name} did not stop"
            raise AssertionError(msg)
        if self.errors:
            raise self.errors[0]


class Writer(Worker):
    """Commands from elsewhere: deposits and withdrawals on known accounts (some refused for
    insufficient funds), now and then a new account."""

    def __init__(self, api: CommandApi, accounts: list[str], seed: int) -> None:
        super().__init__("writer", pause=0.01)
        self.api = api
        self.accounts = list(accounts)
        self.answers: list[Answer] = []
        self._random = random.Random(seed)

    @property
    def accepted(self) -> int:
        return sum(1 for answer in list(self.answers) if answer.status in (200, 201))

    def step(self) -> None:
        rng = self._random
        if rng.random() < 0.1:
            answer = self.api.open(f"late {len(self.accounts)}")
            if answer.status == 201:
                self.accounts.append(answer.body["account_id"])
        else:
            account = rng.choice(self.accounts)
            amount = f"{rng.randint(1, 300)}.{rng.randint(0, 99):02d}"
            if rng.random() < 0.3:
                answer = self.api.withdraw(account, amount)
            else:
                answer = self.api.deposit(account, amount)
        if answer.status >= 500:
            msg = f"the command API answered {answer.status}: {answer.body}"
            raise AssertionError(msg)
        self.answers.append(answer)


@dataclass(frozen=True)
class Seen:
    """One account as one query answered it."""

    account_id: str
    version: int
    balance: Decimal
    status: str
    at: float


class Reader(Worker):
    """Queries in a loop, as a client would: each account by id, then the whole list page by
    page; every account in every answer is recorded, in the order seen."""

    def __init__(self, api: QueryApi, accounts: list[str], name: str) -> None:
        super().__init__(name, pause=0.0)
        self.api = api
        self.accounts = list(accounts)
        self.seen: list[Seen] = []

    def step(self) -> None:
        for account in self.accounts:
            answer = self.api.account(account)
            if answer.status != 200:
                msg = f"GET /accounts/{account} answered {answer.status}: {answer.body}"
                raise AssertionError(msg)
            self._record(answer.body)
        for document in self.api.every_account(limit=7):
            self._record(document)

    def _record(self, document: dict[str, object]) -> None:
        self.seen.append(
            Seen(
                account_id=str(document["account_id"]),
                version=int(str(document["version"])),
                balance=Decimal(str(document["balance"])),
                status=str(document["status"]),
                at=time.monotonic(),
            )
        )
