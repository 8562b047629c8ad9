"""platform-local as a user runs it (a real process on a free port) and a client for it over HTTP.

``LocalRunner`` starts ``python -m platform_local`` (its own data directory; read models in SQLite
under it, or in Postgres with ``database_url``), waits for ``/health`` and stops it with SIGTERM.
Two ways to talk to it: :class:`HttpClient`, one keep-alive HTTP/1.1 connection that times each
request on the client's side (the runner holds one, :attr:`LocalRunner.client`; give each
concurrent client its own), and :meth:`LocalRunner.send_raw`, a socket for bytes no client
library would let through (bare CRs, duplicate framing headers, invalid UTF-8 in a path). Both
give a :class:`Response`.

What the system holds is read back through the runner's own routes: the event store
(:func:`store_events`) and the projections' lag and queues (:func:`projections_settled`), so a
test can assert that a refused request changed nothing and an audit can compare the store with
the read models.

Used by the hostile input and OpenAPI conformance tests, the sustained load audit
(:mod:`tests_integration.load`) and the latency benchmark.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

HOST: Final = "127.0.0.1"
HEALTH_PATH: Final = "/health"
STATUS_PATH: Final = "/_local/status"
EVENTS_PATH: Final = "/_local/events"
ACCOUNTS_PATH: Final = "/accounts"
EVENTS_PAGE: Final = 1000
LOG_LEVEL: Final = "WARNING"
STARTUP_TIMEOUT_SECONDS: Final = 60.0
HEALTH_TIMEOUT_SECONDS: Final = 5.0
REQUEST_TIMEOUT_SECONDS: Final = 60.0
STOP_TIMEOUT_SECONDS: Final = 30.0
SETTLE_TIMEOUT_SECONDS: Final = 30.0
POLL_SECONDS: Final = 0.1
JSON_CONTENT_TYPE: Final = "application/json"
PROBLEM_JSON: Final = "application/problem+json"
SQLITE_DEFAULT: Final = "SQLite files under the data dir (the runner's embedded default)"


class RunnerError(RuntimeError):
    """platform-local did not start, stopped answering, or did not settle in time."""


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer as a client saw it."""

    status: int
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: Any
    """The JSON document; the raw text when the answer is not JSON; None when empty."""
    seconds: float = 0.0
    """From sending the request to reading the whole answer."""
    raw: bytes = b""
    """The body as it came (empty for a response made by hand)."""

    @classmethod
    def read(
        cls, status: int, headers: Iterable[tuple[str, str]], raw: bytes, seconds: float
    ) -> Response:
        lowered = {name.lower(): value for name, value in headers}
        return cls(status, lowered, _parse(raw, lowered), seconds, raw)

    @property
    def code(self) -> str | None:
        """The problem's ``code`` (None when the answer is not a problem document)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return str(self.body["code"])
        return None

    @property
    def is_problem(self) -> bool:
        return self.headers.get("content-type", "").startswith(PROBLEM_JSON)


def _parse(raw: bytes, headers: Mapping[str, str]) -> Any:
    if not raw:
        return None
    if "json" in headers.get("content-type", ""):
        return json.loads(raw)
    return raw.decode("utf-8", errors="replace")


class HttpClient:
    """One client: a persistent HTTP/1.1 connection to ``base_url`` (not thread-safe; give each
    concurrent client its own). A dropped connection is reopened once per request."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not an http:// URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Response:
        """``body``: bytes are sent as they are (malformed input), anything else as JSON."""
        data: bytes | None = None
        sent = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", JSON_CONTENT_TYPE)
        target = f"{path}?{urlencode(dict(query))}" if query else path
        for attempt in (1, 2):
            connection = self._connect()
            started = time.perf_counter()
            try:
                connection.request(method, target, body=data, headers=sent)
                answer = connection.getresponse()
                raw = answer.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                # A keep-alive connection the server closed between requests: only a request
                # that was never read is retried (the server answers each request it reads).
                self.close()
                if attempt == 2:
                    raise
                continue
            response = Response.read(
                answer.status, answer.getheaders(), raw, time.perf_counter() - started
            )
            if response.headers.get("connection", "").lower() == "close":
                self.close()
            return response
        raise AssertionError("unreachable")

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self._host, self._port, timeout=self._timeout
            )
        return self._connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalRunner:
    """A platform-local process, started as ``python -m platform_local``; stopped by
    :meth:`stop` (or by :func:`running_platform_local` at the end of its block)."""

    data_dir: Path
    database_url: str | None = None
    """None: the embedded default (SQLite under ``data_dir``); else ``--database-url``."""
    port: int = 0
    """0: a free port, chosen by :meth:`start`."""
    log_path: Path | None = None
    """The process's output; None: ``platform-local-<port>.log`` beside ``data_dir``."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    startup_seconds: float = field(default=0.0, init=False)
    _client: HttpClient | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def database(self) -> str:
        """Where this runner keeps its read models, for reports."""
        if self.database_url is None:
            return SQLITE_DEFAULT
        return "Postgres at " + self.database_url.rsplit("@", 1)[-1]

    def start(self) -> None:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.log_path is None:
            self.log_path = self.data_dir.parent / f"platform-local-{self.port}.log"
        command = [sys.executable, "-m", "platform_local", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), "--log-level", LOG_LEVEL]
        if self.database_url is not None:
            command += ["--database-url", self.database_url]
        started = time.monotonic()
        with self.log_path.open("wb") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        with HttpClient(self.url, timeout=HEALTH_TIMEOUT_SECONDS) as client:
            while time.monotonic() - started < STARTUP_TIMEOUT_SECONDS:
                if self.process.poll() is not None:
                    raise RunnerError(f"platform-local exited early:\n{self.log()}")
                try:
                    if client.request("GET", HEALTH_PATH).status == 200:
                        self.startup_seconds = time.monotonic() - started
                        return
                except OSError:
                    client.close()
                time.sleep(POLL_SECONDS)
        self.stop()
        raise RunnerError(f"platform-local did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not end in time; its exit code."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(STOP_TIMEOUT_SECONDS)

    # ------------------------------------------------------------------ talking to it
    @property
    def client(self) -> HttpClient:
        """The runner's own keep-alive client (for one thread: the test's)."""
        if self._client is None:
            self._client = HttpClient(self.url)
        return self._client

    def send_raw(self, request: bytes) -> Response:
        """Sends ``request`` byte for byte on a connection of its own and parses the one answer
        (the server closes the connection after it, or sees the end of the request)."""
        started = time.perf_counter()
        with socket.create_connection((HOST, self.port), timeout=REQUEST_TIMEOUT_SECONDS) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        return parse_response(received, time.perf_counter() - started)

    # ------------------------------------------------------------------ what it holds
    def events_in_store(self) -> int:
        return int(runner_status(self.client)["events_in_store"])

    def settle(self, timeout: float = SETTLE_TIMEOUT_SECONDS) -> float:
        """Waits until the projections have applied every stored event; the seconds it took."""
        return wait_for(lambda: projections_settled(self.client), "the projections settle", timeout)

    def open_account(self, owner: str = "Ada", currency: str = "EUR") -> str:
        answer = self.client.request("POST", ACCOUNTS_PATH, {"owner": owner, "currency": currency})
        if answer.status != 201:
            raise AssertionError(f"opening an account answered {answer.status}: {answer.raw!r}")
        return str(answer.body["account_id"])


def parse_response(received: bytes, seconds: float = 0.0) -> Response:
    """One HTTP/1.1 answer as bytes off the wire (its body framed by Content-Length, or by the
    end of what was received)."""
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP answer: {received[:200]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return Response.read(int(lines[0].split(b" ", 2)[1]), headers.items(), rest[:length], seconds)


@contextmanager
def running_platform_local(
    folder: Path | None = None, *, database_url: str | None = None
) -> Iterator[LocalRunner]:
    """A fresh platform-local on a free port for the block, its data dir and log in ``folder``
    (a temporary directory, removed afterwards, by default)."""
    with ExitStack() as scratch:
        if folder is None:
            folder = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="platform-")))
        runner = LocalRunner(folder / "data", database_url)
        runner.start()
        try:
            yield runner
        finally:
            runner.stop()


def runner_status(client: HttpClient) -> dict[str, Any]:
    """The runner's status document: events in the store, each projection's lag and queues."""
    answer = client.request("GET", STATUS_PATH)
    if answer.status != 200:
        raise RunnerError(f"GET {STATUS_PATH} answered {answer.status}: {answer.body}")
    document: dict[str, Any] = answer.body
    return document


def store_events(client: HttpClient) -> list[dict[str, Any]]:
    """Every event in the runner's event store (contract envelopes as JSON), page by page."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": str(EVENTS_PAGE)}
        if cursor is not None:
            query["cursor"] = cursor
        answer = client.request("GET", EVENTS_PATH, query=query)
        if answer.status != 200:
            raise RunnerError(f"GET {EVENTS_PATH} answered {answer.status}: {answer.body}")
        events.extend(answer.body["items"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return events


def projections_settled(client: HttpClient) -> bool:
    """Every projection has applied every stored event it handles and its queues are empty."""
    answer = client.request("GET", STATUS_PATH)
    if answer.status != 200:
        return False
    for projection in answer.body["projections"]:
        if projection["lag_events"] != 0:
            return False
        for depth in projection["queues"].values():
            if depth["visible"] or depth["in_flight"]:
                return False
    return True


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll until ``condition``; the seconds it took. :class:`RunnerError` after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RunnerError(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile (``percent`` 100 is the maximum); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(len(ordered) * percent / 100)
    return ordered[min(len(ordered), max(rank, 1)) - 1]
