"""platform-local as a client meets it: the real process on a free port, spoken to over HTTP.

``LocalProcess`` starts ``python -m platform_local`` (its own data directory, SQLite read models),
waits for ``/health``, and offers two ways to talk to it: ``request`` (http.client, for requests
a well-behaved client sends) and ``send_raw`` (a socket, for bytes no client library would let
through: bare CRs, duplicate framing headers, invalid UTF-8 in a path). What the system holds is
read back through the runner's own status route (events in the store, projection lag) and the
query API, so a test can assert that a refused request changed nothing.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

STARTUP_TIMEOUT_SECONDS: Final = 60.0
SETTLE_TIMEOUT_SECONDS: Final = 30.0
STATUS_PATH: Final = "/_local/status"
HEALTH_PATH: Final = "/health"
PROBLEM_JSON: Final = "application/problem+json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Lower-cased names."""
    raw: bytes

    @property
    def body(self) -> Any:
        """The JSON document (None for an empty or non-JSON body)."""
        if not self.raw or "json" not in self.headers.get("content-type", ""):
            return None
        return json.loads(self.raw)

    @property
    def code(self) -> str | None:
        """The problem's ``code``, when the answer is a problem."""
        body = self.body
        return body.get("code") if isinstance(body, dict) else None

    @property
    def is_problem(self) -> bool:
        return self.headers.get("content-type", "").startswith(PROBLEM_JSON)


class LocalProcess:
    """One running ``platform-local serve``; stopped by :func:`running_platform_local`."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "platform_local", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir)]
        with self.log.open("wb") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"platform-local exited early:\n{self.log.read_text()}"
                raise RuntimeError(msg)
            try:
                if self.request("GET", HEALTH_PATH).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        msg = f"platform-local did not become ready:\n{self.log.read_text()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    # ------------------------------------------------------------------ talking to it
    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """``body``: bytes as they are, anything else as JSON."""
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=dict(headers or {}))
            response = connection.getresponse()
            raw = response.read()
            lowered = {name.lower(): value for name, value in response.getheaders()}
            return Answer(response.status, lowered, raw)
        finally:
            connection.close()

    def send_raw(self, request: bytes) -> Answer:
        """Sends ``request`` byte for byte and parses the one answer (the connection is closed
        by the server or after it)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as connection:
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        return parse_answer(received)

    # ------------------------------------------------------------------ what it holds
    def status(self) -> dict[str, Any]:
        answer = self.request("GET", STATUS_PATH)
        document: dict[str, Any] = json.loads(answer.raw)
        return document

    def events_in_store(self) -> int:
        return int(self.status()["events_in_store"])

    def settle(self, timeout: float = SETTLE_TIMEOUT_SECONDS) -> None:
        """Waits until every projection has applied every event in the store."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p["lag_events"] == 0 for p in self.status()["projections"]):
                return
            time.sleep(0.1)
        msg = f"the projections did not catch up within {timeout} s: {self.status()}"
        raise TimeoutError(msg)

    def every_account(self) -> list[dict[str, Any]]:
        """The balances read model, every page, through the query API."""
        accounts: list[dict[str, Any]] = []
        path = "/accounts?limit=100"
        while True:
            page = self.request("GET", path).body
            accounts.extend(page["items"])
            if page["next_cursor"] is None:
                return accounts
            path = f"/accounts?limit=100&cursor={page['next_cursor']}"

    def open_account(self, owner: str = "Ada", currency: str = "EUR") -> str:
        answer = self.request("POST", "/accounts", {"owner": owner, "currency": currency})
        if answer.status != 201:
            msg = f"opening an account answered {answer.status}: {answer.raw!r}"
            raise AssertionError(msg)
        return str(answer.body["account_id"])

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        msg = f"condition not met within {timeout} s"
        raise TimeoutError(msg)


def parse_answer(received: bytes) -> Answer:
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines or not lines[0].startswith(b"HTTP/"):
        msg = f"not an HTTP answer: {received[:200]!r}"
        raise ValueError(msg)
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return Answer(status, headers, rest[:length])


@contextmanager
def running_platform_local(folder: Path) -> Iterator[LocalProcess]:
    """platform-local serving on a free port with its state in ``folder``, for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = LocalProcess(folder / "data", port, folder / f"platform-local-{port}.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()
