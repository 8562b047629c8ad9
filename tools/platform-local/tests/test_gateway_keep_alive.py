"""Answers on a keep-alive connection come back at once: the gateway writes an answer's head and
body separately, and with Nagle's algorithm on, the body waited for the client's delayed ACK
(40 ms or more on Linux) on every request after the first."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections.abc import Iterator

import pytest
from platform_local.gateway import Gateway, json_response

REQUESTS = 20
DELAYED_ACK_SECONDS = 0.040
"""Linux's minimum delayed ACK: what every answer cost while the gateway kept Nagle on."""


@pytest.fixture
def port() -> Iterator[int]:
    gateway = Gateway([], [lambda m, p, q, b: json_response({"status": "ok"})])
    httpd = gateway.server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_keep_alive_answers_do_not_wait_for_a_delayed_ack(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    seconds = []
    try:
        for _ in range(REQUESTS):
            started = time.perf_counter()
            connection.request("GET", "/health")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read()
            seconds.append(time.perf_counter() - started)
    finally:
        connection.close()
    assert statistics.median(seconds) < DELAYED_ACK_SECONDS * 0.75, seconds
