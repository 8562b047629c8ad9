"""Requests the gateway cannot frame are refused by the gateway itself, with a 4xx and a closed
connection, before any function sees them: what API Gateway does, and what keeps one request's
leftovers from being read as the next (request smuggling)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from platform_local.gateway import (
    DRAIN_LIMIT_BYTES,
    MAX_REQUEST_BYTES,
    FunctionRoute,
    Gateway,
    content_length,
)

invocations: list[dict[str, Any]] = []


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    invocations.append(event)
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@pytest.fixture
def port() -> Iterator[int]:
    invocations.clear()
    gateway = Gateway([FunctionRoute("commands", frozenset({"POST"}), "/accounts", record)], [])
    httpd = gateway.server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def exchange(port: int, raw: bytes) -> bytes:
    """Sends raw bytes and reads until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(raw)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def post(headers: bytes, body: bytes = b"{}") -> bytes:
    return b"POST /accounts HTTP/1.1\r\nHost: local\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"abc", "not a number"), (b"-2", "negative"), (b"2, 2x", "a list with garbage")],
)
def test_a_content_length_that_is_not_a_length_is_a_400(
    port: int, value: bytes, reason: str
) -> None:
    answer = exchange(port, post(b"Content-Length: " + value + b"\r\n"))
    assert status_of(answer) == 400, reason
    assert answer.endswith(b'{"message":"Bad Request"}')
    assert invocations == []


def test_conflicting_content_lengths_are_a_400_and_nothing_is_smuggled(port: int) -> None:
    smuggled = post(b"Content-Length: 0\r\n", b"{}")
    headers = b"Content-Length: 2\r\nContent-Length: %d\r\n" % (2 + len(smuggled))
    answer = exchange(port, post(headers, b"{}" + smuggled))
    assert status_of(answer) == 400
    assert answer.count(b"HTTP/1.1") == 1  # the connection closed: no second request was read
    assert invocations == []


def test_repeated_equal_content_lengths_are_one_length() -> None:
    assert content_length(["5", " 5"]) == 5
    assert content_length([]) == 0


def test_a_chunked_body_is_refused_rather_than_read_as_the_next_request(port: int) -> None:
    body = b"2\r\n{}\r\n0\r\n\r\n"
    answer = exchange(port, post(b"Transfer-Encoding: chunked\r\n", body))
    assert status_of(answer) == 411
    assert invocations == []


def test_a_bare_cr_cannot_split_one_header_into_two(port: int) -> None:
    headers = b"Content-Length: 2\r\nIdempotency-Key: a\rIf-Match: *\r\n"
    answer = exchange(port, post(headers))
    assert status_of(answer) == 400
    assert invocations == []


def test_crlf_line_endings_and_bare_lf_are_still_accepted(port: int) -> None:
    answer = exchange(port, post(b"Connection: close\nContent-Length: 2\r\n"))
    assert status_of(answer) == 201
    assert invocations[0]["headers"]["connection"] == "close"


def test_an_oversized_body_is_read_to_its_end_and_answered_413(port: int) -> None:
    size = MAX_REQUEST_BYTES + 1
    assert size <= DRAIN_LIMIT_BYTES
    # The whole body is sent before the answer is read, as simple clients do: the gateway reads
    # and discards it, so the client gets the 413 rather than a broken pipe.
    answer = exchange(port, post(b"Content-Length: %d\r\n" % size, b"x" * size))
    assert status_of(answer) == 413
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"message": "Request Entity Too Large"}
    assert invocations == []


def test_a_length_beyond_what_is_worth_reading_is_refused_at_once(port: int) -> None:
    answer = exchange(port, post(b"Content-Length: 99999999999999999999\r\n"))
    assert status_of(answer) == 413
    assert invocations == []
