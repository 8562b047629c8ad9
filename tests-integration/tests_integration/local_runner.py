"""platform-local as a user runs it (a real process on a free port) and an HTTP client for it.

Shared by the sustained load audit (:mod:`tests_integration.load`) and the latency benchmark:
both drive the real process over HTTP, one keep-alive connection per client, and time each
request on the client's side.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

HEALTH_PATH: Final = "/health"
STATUS_PATH: Final = "/_local/status"
EVENTS_PATH: Final = "/_local/events"
EVENTS_PAGE: Final = 1000
STARTUP_TIMEOUT_SECONDS: Final = 60.0
REQUEST_TIMEOUT_SECONDS: Final = 60.0
STOP_TIMEOUT_SECONDS: Final = 30.0
JSON_CONTENT_TYPE: Final = "application/json"
SQLITE_DEFAULT: Final = "SQLite files under the data dir (the runner's embedded default)"


class RunnerError(RuntimeError):
    """platform-local did not start, or stopped answering."""


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer as a client saw it."""

    status: int
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: Any
    """The JSON document; the raw text when the answer is not JSON; None when empty."""
    seconds: float
    """From sending the request to reading the whole answer."""

    @property
    def code(self) -> str | None:
        """The problem's ``code`` (None when the answer is not a problem document)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return str(self.body["code"])
        return None


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
            seconds = time.perf_counter() - started
            answer_headers = {k.lower(): v for k, v in answer.getheaders()}
            if answer_headers.get("connection", "").lower() == "close":
                self.close()
            return Response(answer.status, answer_headers, _parse(raw, answer_headers), seconds)
        raise AssertionError("unreachable")

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self._host, self._port, timeout=self._timeout
            )
        return self._connection


def _parse(raw: bytes, headers: Mapping[str, str]) -> Any:
    if not raw:
        return None
    if "json" in headers.get("content-type", ""):
        return json.loads(raw)
    return raw.decode("utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalRunner:
    """A platform-local process, started as ``python -m platform_local`` on a free port."""

    data_dir: Path
    database_url: str | None = None
    """None: the embedded default (SQLite under ``data_dir``); else ``--database-url``."""
    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> str:
        """Where this runner keeps its read models, for reports."""
        if self.database_url is None:
            return SQLITE_DEFAULT
        return "Postgres at " + self.database_url.rsplit("@", 1)[-1]

    def start(self) -> None:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"platform-local-{self.port}.log"
        command = [sys.executable, "-m", "platform_local", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), "--log-level", "WARNING"]
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
        with HttpClient(self.url, timeout=5) as client:
            while time.monotonic() - started < STARTUP_TIMEOUT_SECONDS:
                if self.process.poll() is not None:
                    raise RunnerError(f"platform-local exited early:\n{self.log()}")
                try:
                    if client.request("GET", HEALTH_PATH).status == 200:
                        self.startup_seconds = time.monotonic() - started
                        return
                except OSError:
                    client.close()
                time.sleep(0.1)
        self.stop()
        raise RunnerError(f"platform-local did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not end in time; its exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(STOP_TIMEOUT_SECONDS)


@contextmanager
def running_platform_local(
    database_url: str | None = None, data_dir: Path | None = None
) -> Iterator[LocalRunner]:
    """A fresh platform-local (its own data dir, a temporary one by default) for the block."""
    with tempfile.TemporaryDirectory(prefix="platform-local-") as scratch:
        runner = LocalRunner(data_dir or Path(scratch) / "data", database_url)
        runner.start()
        try:
            yield runner
        finally:
            runner.stop()


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
        time.sleep(0.1)
    return time.monotonic() - started


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile (``percent`` 100 is the maximum); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(len(ordered) * percent / 100)
    return ordered[min(len(ordered), max(rank, 1)) - 1]
