"""Answers on a keep-alive connection come back at once: the gateway writes an answer's head and
body separately, and with Nagle's algorithm on, the body waited for the client's delayed ACK
(40 ms or more on Linux) on every request after the first. The connection's socket option is
checked, not the time: a timed test would be a benchmark that fails on a busy machine."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest
from platform_local.gateway import Gateway, json_response


@pytest.fixture
def served() -> Iterator[tuple[int, list[int]]]:
    """The gateway's port, and TCP_NODELAY as read on each connection the server accepted."""
    gateway = Gateway([], [lambda m, p, q, b: json_response({"status": "ok"})])
    httpd = gateway.server("127.0.0.1", 0)
    handler = httpd.RequestHandlerClass
    seen: list[int] = []

    class Observed(handler):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            super().setup()
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    httpd.RequestHandlerClass = Observed
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()


def test_keep_alive_answers_are_not_held_back_by_nagle(served: tuple[int, list[int]]) -> None:
    port, seen = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for _ in range(3):  # one connection, kept alive across requests
            connection.request("GET", "/health")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read()
    finally:
        connection.close()
    assert len(seen) == 1, "the three requests should share one kept-alive connection"
    assert seen[0] != 0, "Nagle's algorithm is on: each answer's body waits for a delayed ACK"
