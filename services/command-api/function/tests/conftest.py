"""Fixtures for command-api: a moto event store, a controllable clock, ids, and an HTTP API
client that turns calls into realistic API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import boto3
import pytest
from command_api.bootstrap import build
from command_api.settings import Settings
from moto import mock_aws

import account_events  # noqa: F401 - registers the account event types
from platform_events import EventEnvelope
from platform_events.dynamodb import from_dynamodb_json
from platform_events.layout import Attr, ItemKind, event_store_key_schema
from platform_testing.lambda_events import LambdaContext

EVENTS = Path(__file__).parent / "events"
TABLE = "event-store-test"
TEMPLATE_AUTHORIZER: Any = object()
"""Keep the template's authorizer (an IAM role session); ``None`` removes it (no authorizer)."""


class FakeClock:
    """Time that only moves when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class SequentialIds:
    """UUIDs 00000000-...-000000000001, ...002, ...: canonical, predictable, thread-safe."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self) -> UUID:
        with self._lock:
            return UUID(int=next(self._counter))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any]

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


class HttpApi:
    """Calls the Lambda handler the way API Gateway HTTP API would."""

    def __init__(self, handler: Callable[..., dict[str, Any]]) -> None:
        self.handler = handler
        self.template = json.loads((EVENTS / "http_api_v2.json").read_text())
        self._request_ids = itertools.count(1)

    def event(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        raw_body: str | None = None,
        base64_body: bool = False,
        route_key: str | None = None,
        path_parameters: Mapping[str, str] | None = None,
        authorizer: Any = TEMPLATE_AUTHORIZER,
    ) -> dict[str, Any]:
        event = copy.deepcopy(self.template)
        text = raw_body if raw_body is not None else None if body is None else json.dumps(body)
        event_headers = {k: v for k, v in event["headers"].items() if k != "content-length"}
        if text is not None:
            encoded = text.encode("utf-8", "surrogatepass")
            event_headers["content-length"] = str(len(encoded))
            event["body"] = base64.b64encode(encoded).decode() if base64_body else text
            event["isBase64Encoded"] = base64_body
        else:
            event.pop("body")
            event["isBase64Encoded"] = False
        event_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        event["headers"] = event_headers
        event["rawPath"] = path
        event["routeKey"] = route_key or _route_key(method, path)
        event["requestContext"]["routeKey"] = event["routeKey"]
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        event["requestContext"]["requestId"] = f"req-{next(self._request_ids):06d}="
        if authorizer is None:
            event["requestContext"].pop("authorizer")
        elif authorizer is not TEMPLATE_AUTHORIZER:
            event["requestContext"]["authorizer"] = authorizer
        if path_parameters is None:
            event.pop("pathParameters")
        else:
            event["pathParameters"] = dict(path_parameters)
        return event

    def send(self, event: Mapping[str, Any]) -> Answer:
        raw = self.handler(event, LambdaContext("command-api", memory_limit_in_mb=512))
        headers = raw.get("headers") or {}
        body = raw.get("body") or ""
        return Answer(raw["statusCode"], headers, json.loads(body) if body else None, raw)

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Answer:
        account = path.split("/")[2] if path.count("/") >= 2 else None
        if account is not None and "path_parameters" not in options:
            options["path_parameters"] = {"account_id": account}
        return self.send(self.event(method, path, body, **options))

    # ---------------------------------------------------------------- the four commands
    def open(self, owner: str = "Ada Lovelace", currency: str = "EUR", **options: Any) -> Answer:
        return self.call("POST", "/accounts", {"owner": owner, "currency": currency}, **options)

    def open_id(self, **options: Any) -> str:
        answer = self.open(**options)
        assert answer.status == 201, answer.body
        return str(answer.body["account_id"])

    def deposit(self, account: str, amount: Any = "10.00", **options: Any) -> Answer:
        return self.call("POST", f"/accounts/{account}/deposits", {"amount": amount}, **options)

    def withdraw(self, account: str, amount: Any = "10.00", **options: Any) -> Answer:
        return self.call("POST", f"/accounts/{account}/withdrawals", {"amount": amount}, **options)

    def close(self, account: str, **options: Any) -> Answer:
        return self.call("DELETE", f"/accounts/{account}", **options)


def _route_key(method: str, path: str) -> str:
    """The route API Gateway would have matched (its template, not the concrete path)."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["accounts"] and len(parts) in (1, 2, 3):
        template = "/".join(["", "accounts", "{account_id}", *parts[2:]][: len(parts) + 1])
        return f"{method} {template}"
    return "$default"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table_name() -> str:
    return TABLE


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    client.create_table(TableName=TABLE, **event_store_key_schema())
    return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 10, 12, 0, 0, 123456, tzinfo=UTC))


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()


@pytest.fixture
def settings() -> Settings:
    return Settings(event_store_table=TABLE, max_append_attempts=5, idempotency_ttl_seconds=3600)


@pytest.fixture
def handler(settings: Settings, dynamodb: Any, clock: FakeClock, ids: SequentialIds) -> Any:
    return build(settings, dynamodb=dynamodb, clock=clock, new_id=ids)


@pytest.fixture
def api(handler: Any) -> HttpApi:
    return HttpApi(handler)


@pytest.fixture
def stream(dynamodb: Any) -> Callable[[str], list[EventEnvelope]]:
    """The events stored for a stream, read straight from the table."""

    def read(stream_id: str) -> list[EventEnvelope]:
        items = dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": Attr.STREAM_ID.value},
            ExpressionAttributeValues={":s": {"S": stream_id}},
            ConsistentRead=True,
        )["Items"]
        return [from_dynamodb_json(item) for item in items]

    return read


@pytest.fixture
def event_count(dynamodb: Any) -> Callable[[], int]:
    """How many events the whole table holds (idempotency records are not events)."""

    def count() -> int:
        answer = dynamodb.scan(
            TableName=TABLE,
            Select="COUNT",
            FilterExpression="#kind = :event",
            ExpressionAttributeNames={"#kind": Attr.ITEM_KIND.value},
            ExpressionAttributeValues={":event": {"S": ItemKind.EVENT.value}},
        )
        return int(answer["Count"])

    return count


@pytest.fixture
def balance_of(stream: Callable[[str], list[EventEnvelope]]) -> Callable[[str], Decimal]:
    def balance(account: str) -> Decimal:
        total = Decimal(0)
        for event in stream(account):
            if event.event_type == "MoneyDeposited":
                total += Decimal(str(event.payload["amount"]))
            elif event.event_type == "MoneyWithdrawn":
                total -= Decimal(str(event.payload["amount"]))
        return total

    return balance
