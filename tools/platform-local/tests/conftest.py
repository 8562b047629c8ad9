"""The local runner started as a user starts it: a real process on a free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

STARTUP_BUDGET_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Runner:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> None:
        self.log = self.data_dir.parent / f"runner-{self.port}-{time.monotonic_ns()}.log"
        started = time.monotonic()
        command = [sys.executable, "-m", "platform_local", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), *extra]
        with self.log.open("wb") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = started + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"platform-local exited early:\n{self.log.read_text()}")
            try:
                if self.request("GET", "/health").status == 200:
                    self.startup_seconds = time.monotonic() - started
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"platform-local did not become ready:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)

    def request(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> Answer:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, answer_headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            raw, status, answer_headers = error.read(), error.code, error.headers
        lowered = {k.lower(): v for k, v in answer_headers.items()}
        is_json = "json" in lowered.get("content-type", "")
        parsed: Any = json.loads(raw) if raw and is_json else raw.decode()
        return Answer(status, lowered, parsed)

    def wait_until(self, predicate: Any, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    instance = Runner(tmp_path / "data")
    yield instance
    if instance.process is not None and instance.process.poll() is None:
        instance.process.kill()
        instance.process.wait(10)
