"""An HTTP gateway on 127.0.0.1 that turns requests into API Gateway HTTP API events.

Requests become payload format 2.0 events (what API Gateway sends the command and query
functions); the functions' responses become HTTP responses. A few local routes (health, OpenAPI
documents, Swagger UI, status) are answered by the runner itself.

Nothing is signed locally, so no authorizer vouches for a caller: events carry no
``requestContext.authorizer`` (the command API keeps such callers' Idempotency-Keys in one
anonymous scope). For local use only, a request may name the IAM principal it stands for in
``X-Local-Caller`` (e.g. ``arn:aws:iam::123456789012:user/alice``): the gateway moves it out of the
headers into ``requestContext.authorizer.iam``, where API Gateway's IAM authorizer puts the
caller of a signed request, so that per-caller behaviour can be tried on one machine.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from platform_local.pollers import Handler, invoke

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES: Final = 10 * 1024 * 1024
"""API Gateway's own payload limit; the functions apply the contract's tighter limits."""
DRAIN_LIMIT_BYTES: Final = 4 * MAX_REQUEST_BYTES
"""A refused body up to this size is read and discarded, so that a client still sending it
reads the answer instead of a broken pipe; beyond it the connection is just closed."""
_CHUNK_BYTES: Final = 64 * 1024
_DIGITS: Final = re.compile(r"[0-9]+")
BAD_REQUEST_BODY: Final = b'{"message":"Bad Request"}'
TOO_LARGE_BODY: Final = b'{"message":"Request Entity Too Large"}'
LENGTH_REQUIRED_BODY: Final = b'{"message":"Length Required"}'
TEXT_TYPES: Final = ("application/json", "text/", "application/problem+json", "application/xml")
LOCAL_ACCOUNT_ID: Final = "123456789012"
LOCAL_CALLER_HEADER: Final = "X-Local-Caller"
"""Local use only: the IAM principal ARN a request stands for (see the module's docstring)."""
_ARN_ACCOUNT_FIELD: Final = 4


@dataclass(frozen=True, slots=True)
class LocalResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] | None = None


LocalRoute = Callable[[str, str, Mapping[str, str], bytes], LocalResponse | None]
"""(method, path, query parameters, body) -> a response, or None when the route does not apply."""


@dataclass(frozen=True, slots=True)
class FunctionRoute:
    """Requests whose method is in ``methods`` and path starts with ``prefix`` go to ``handler``.

    The handler runs one invocation at a time, as in a single Lambda container: handlers keep
    per-invocation state (powertools' metrics and log keys) that concurrent calls would mix.
    """

    function_name: str
    methods: frozenset[str]
    prefix: str
    handler: Handler
    container: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and (
            path == self.prefix or path.startswith(self.prefix + "/")
        )


def http_api_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) event for one request."""
    now = time.time()
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    caller = lowered.pop(LOCAL_CALLER_HEADER.lower(), None)
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = lowered.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in TEXT_TYPES) or not content_type
    text: str | None = None
    if is_text:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if caller:
        event["requestContext"]["authorizer"] = iam_authorizer(caller)
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    return event


def iam_authorizer(user_arn: str) -> dict[str, Any]:
    """``requestContext.authorizer`` as API Gateway's IAM authorizer writes it for a caller."""
    fields = user_arn.split(":")
    account = fields[_ARN_ACCOUNT_FIELD] if len(fields) > _ARN_ACCOUNT_FIELD else ""
    return {
        "iam": {
            "accessKey": None,
            "accountId": account or LOCAL_ACCOUNT_ID,
            "callerId": None,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user_arn,
            "userId": None,
        }
    }


class Gateway:
    """Routes requests to local routes first, then to the functions."""

    def __init__(self, functions: list[FunctionRoute], local_routes: list[LocalRoute]) -> None:
        self.functions = functions
        self.local_routes = local_routes

    def server(self, host: str, port: int) -> ThreadingHTTPServer:
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            server_version = "platform-local"
            protocol_version = "HTTP/1.1"
            # The head and the body go out in two writes; with Nagle's algorithm the body waits
            # for the client's delayed ACK of the head, about 40 ms on every keep-alive answer.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return  # one line per request is logged by ``_handle`` instead

            def parse_request(self) -> bool:
                # http.server's header parser (the email package) ends a line at a bare CR,
                # so "Idempotency-Key: a\rIf-Match: *" would arrive as two headers. RFC 9112
                # says such a field is invalid: refuse it as the message it is.
                original = self.rfile
                recorder = _LineRecorder(original)
                self.rfile = recorder  # type: ignore[assignment]
                try:
                    parsed = super().parse_request()
                finally:
                    self.rfile = original
                if parsed and recorder.has_bare_cr():
                    self.close_connection = True
                    gateway.refuse(self, HTTPStatus.BAD_REQUEST, BAD_REQUEST_BODY)
                    return False
                return parsed

            def __getattr__(self, name: str) -> Any:
                # http.server looks up do_<METHOD>; every method goes through the gateway.
                if name.startswith("do_"):
                    return lambda: gateway.handle(self)
                raise AttributeError(name)

        server = ThreadingHTTPServer((host, port), RequestHandler)
        server.daemon_threads = True
        return server

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        method = request.command
        split = urlsplit(request.path)
        if request.headers.get("Transfer-Encoding") is not None:
            # Bodies are framed by Content-Length only; reading a chunked one as empty would
            # leave its chunks on the connection to be parsed as the next request.
            self.refuse(request, HTTPStatus.LENGTH_REQUIRED, LENGTH_REQUIRED_BODY)
            return
        length = content_length(request.headers.get_all("Content-Length") or [])
        if length is None:
            self.refuse(request, HTTPStatus.BAD_REQUEST, BAD_REQUEST_BODY)
            return
        if length > MAX_REQUEST_BYTES:
            if length <= DRAIN_LIMIT_BYTES:
                _discard(request, length)
            self.refuse(request, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE_BODY)
            return
        body = request.rfile.read(length) if length else b""
        try:
            response = self._dispatch(request, method, split.path, split.query, body)
        except Exception:
            log.exception("%s %s failed in the gateway", method, split.path)
            response = LocalResponse(HTTPStatus.BAD_GATEWAY, b'{"message":"Internal Server Error"}')
        self._send(request, response)
        log.info(
            "%s %s -> %d (%.0f ms)",
            method,
            request.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    def _dispatch(
        self, request: BaseHTTPRequestHandler, method: str, path: str, query: str, body: bytes
    ) -> LocalResponse:
        params = dict(parse_qsl(query, keep_blank_values=True))
        for route in self.local_routes:
            answer = route(method, path, params, body)
            if answer is not None:
                return answer
        for function in self.functions:
            if function.matches(method, path):
                event = http_api_event(
                    method=method,
                    raw_path=path,
                    raw_query=query,
                    headers=dict(request.headers.items()),
                    body=body,
                    source_ip=request.client_address[0],
                )
                with function.container:
                    result = invoke(function.handler, event, function.function_name)
                return function_response(result)
        return LocalResponse(HTTPStatus.NOT_FOUND, b'{"message":"Not Found"}')

    def refuse(self, request: BaseHTTPRequestHandler, status: HTTPStatus, body: bytes) -> None:
        """API Gateway's own answer to a request it cannot frame; the connection is closed, as
        whatever follows on it cannot be trusted to start a request."""
        request.close_connection = True
        self._send(request, LocalResponse(status, body, headers={"Connection": "close"}))
        log.info("%s %s -> %d (refused by the gateway)", request.command, request.path, status)

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, response: LocalResponse) -> None:
        request.send_response(response.status)
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        headers.setdefault("content-type", response.content_type)
        headers["content-length"] = str(len(response.body))
        for name, value in headers.items():
            request.send_header(name, value)
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(response.body)


def content_length(values: list[str]) -> int | None:
    """The body's length from every Content-Length field, or None when they do not give one
    (not a decimal number, or copies that disagree: RFC 9112 makes both an error)."""
    if not values:
        return 0
    lengths = {value.strip() for value in values}
    if len(lengths) != 1:
        return None
    (length,) = lengths
    return int(length) if _DIGITS.fullmatch(length) else None


class _LineRecorder:
    """Stands in for a request's input while http.server reads the header block, keeping the
    raw lines so that the gateway can judge what the parser glossed over."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._stream.readline(limit)
        self.lines.append(line)
        return line

    def has_bare_cr(self) -> bool:
        return any(b"\r" in line.removesuffix(b"\r\n") for line in self.lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _discard(request: BaseHTTPRequestHandler, length: int) -> None:
    remaining = length
    while remaining > 0:
        chunk = request.rfile.read(min(remaining, _CHUNK_BYTES))
        if not chunk:
            return
        remaining -= len(chunk)


def function_response(result: object) -> LocalResponse:
    """A function's HTTP API response (payload 2.0) -> what the gateway sends back."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        # API Gateway's own answer to a malformed integration response.
        return LocalResponse(HTTPStatus.BAD_GATEWAY, b'{"message":"Internal Server Error"}')
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ",".join(str(v) for v in values)
    if result.get("cookies"):
        headers["set-cookie"] = ",".join(result["cookies"])
    content_type = headers.pop("Content-Type", headers.pop("content-type", "application/json"))
    return LocalResponse(int(result["statusCode"]), raw, content_type, headers)


def json_response(document: object, status: int = HTTPStatus.OK) -> LocalResponse:
    return LocalResponse(status, json.dumps(document, indent=2).encode())
