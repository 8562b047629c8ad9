from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from platform_local.gateway import (
    FunctionRoute,
    Gateway,
    LocalResponse,
    function_response,
    json_response,
)

captured: list[dict[str, Any]] = []


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    captured.append(event)
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "Location": "/accounts/1"},
        "body": json.dumps({"ok": True}),
        "isBase64Encoded": False,
    }


@pytest.fixture
def server() -> Iterator[int]:
    captured.clear()
    gateway = Gateway(
        [FunctionRoute("commands", frozenset({"POST", "DELETE"}), "/accounts", echo)],
        [lambda m, p, q, b: json_response({"status": "ok"}) if p == "/health" else None],
    )
    httpd = gateway.server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        answer = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        connection.close()


def test_requests_become_http_api_v2_events(server: int) -> None:
    status, headers, body = request(
        server,
        "POST",
        "/accounts/42/deposits?x=1&x=2",
        b'{"amount": "1.00"}',
        {"Content-Type": "application/json", "Idempotency-Key": "k1"},
    )
    assert (status, json.loads(body), headers["location"]) == (201, {"ok": True}, "/accounts/1")
    (event,) = captured
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/accounts/42/deposits"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["headers"]["idempotency-key"] == "k1"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == '{"amount": "1.00"}'
    assert event["isBase64Encoded"] is False


def test_binary_bodies_are_base64_encoded(server: int) -> None:
    request(server, "POST", "/accounts", b"\xff\xfe", {"Content-Type": "application/octet-stream"})
    assert captured[0]["isBase64Encoded"] is True


def test_local_routes_and_unknown_routes(server: int) -> None:
    assert request(server, "GET", "/health")[0] == 200
    assert request(server, "GET", "/nowhere")[0] == 404
    assert request(server, "GET", "/accounts")[0] == 404  # GET is not routed to the commands


def test_a_malformed_function_response_is_a_502_like_api_gateway(server: int) -> None:
    def broken(event: dict[str, Any], context: Any) -> str:
        return "not a response"

    assert function_response(broken({}, None)).status == 502
    assert function_response({"statusCode": 204}) == LocalResponse(204, b"", "application/json", {})
    assert function_response({"statusCode": 204}) == LocalResponse(204, b"", "application/json", {})
