"""Clients of the two HTTP APIs that call their Lambda handlers the way API Gateway does.

Requests become HTTP API payload 2.0 events (platform-local's gateway builds them), with the route
key and path parameters API Gateway sets when a request matches one of the routes the stacks
create from the functions' own route declarations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from command_api.http.routes import OPERATIONS
from platform_local.gateway import http_api_event
from platform_local.pollers import LambdaContext
from query_api.routes import ROUTES

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

COMMAND_ROUTES: Final = tuple((operation.method, operation.path) for operation in OPERATIONS)
QUERY_ROUTES: Final = tuple((route.method, route.path) for route in ROUTES)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    """The JSON document, or None for an empty body."""

    @property
    def code(self) -> str | None:
        """The problem's ``code`` (None when the answer is not a problem)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return str(self.body["code"])
        return None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


class HttpApi:
    """One API's client: ``call(method, path, body, headers, query)`` -> :class:`Answer`."""

    def __init__(
        self, handler: Handler, routes: Sequence[tuple[str, str]], function_name: str
    ) -> None:
        self._handler = handler
        self._function_name = function_name
        self._routes = [(method, template, _matcher(template)) for method, template in routes]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Answer:
        data = b"" if body is None else json.dumps(body).encode()
        request_headers = {"content-type": "application/json"} if body is not None else {}
        request_headers.update(headers or {})
        event = http_api_event(
            method=method,
            raw_path=path,
            raw_query=urlencode(dict(query or {})),
            headers=request_headers,
            body=data,
            source_ip="192.0.2.10",
        )
        for route_method, template, matcher in self._routes:
            matched = matcher.fullmatch(path)
            if route_method == method and matched is not None:
                route_key = f"{method} {template}"
                event["routeKey"] = route_key
                event["requestContext"]["routeKey"] = route_key
                if matched.groupdict():
                    event["pathParameters"] = matched.groupdict()
                break
        response = self._handler(event, LambdaContext(function_name=self._function_name))
        text = response.get("body") or ""
        headers_out = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        return Answer(int(response["statusCode"]), headers_out, json.loads(text) if text else None)


def _matcher(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(pattern)


class CommandApi(HttpApi):
    """The command API's four commands (shared/CONTRACT.md)."""

    def open(self, owner: str, currency: str = "EUR", **options: Any) -> Answer:
        return self.call("POST", "/accounts", {"owner": owner, "currency": currency}, **options)

    def deposit(self, account: str, amount: str, **options: Any) -> Answer:
        return self.call("POST", f"/accounts/{account}/deposits", {"amount": amount}, **options)

    def withdraw(self, account: str, amount: str, **options: Any) -> Answer:
        return self.call("POST", f"/accounts/{account}/withdrawals", {"amount": amount}, **options)

    def close(self, account: str, **options: Any) -> Answer:
        return self.call("DELETE", f"/accounts/{account}", **options)


class QueryApi(HttpApi):
    """The query API's reads."""

    def account(self, account: str) -> Answer:
        return self.call("GET", f"/accounts/{account}")

    def accounts(self, **query: str) -> Answer:
        return self.call("GET", "/accounts", query=query)

    def every_account(self, limit: int = 100, **filters: str) -> list[dict[str, Any]]:
        """Every page of ``GET /accounts`` with these filters, following ``next_cursor``."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**filters, "limit": str(limit)}
            if cursor is not None:
                query["cursor"] = cursor
            answer = self.accounts(**query)
            if answer.status != 200:
                msg = f"GET /accounts answered {answer.status}: {answer.body}"
                raise AssertionError(msg)
            items.extend(answer.body["items"])
            cursor = answer.body["next_cursor"]
            if cursor is None:
                return items

    def transactions(self, account: str, **query: str) -> Answer:
        return self.call("GET", f"/accounts/{account}/transactions", query=query)

    def every_transaction(self, account: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every page of an account's transactions, oldest first, following ``next_cursor``."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {"limit": str(limit)}
            if cursor is not None:
                query["cursor"] = cursor
            answer = self.transactions(account, **query)
            if answer.status != 200:
                msg = (
                    f"GET /accounts/{account}/transactions answered {answer.status}: {answer.body}"
                )
                raise AssertionError(msg)
            items.extend(answer.body["items"])
            cursor = answer.body["next_cursor"]
            if cursor is None:
                return items
