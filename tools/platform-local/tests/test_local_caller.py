"""X-Local-Caller: a local request names the IAM principal it stands for, and the command API
scopes its Idempotency-Keys to that caller as it would behind API Gateway's IAM authorizer."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from command_api.bootstrap import build
from command_api.settings import Settings
from moto import mock_aws
from platform_local.gateway import (
    LOCAL_ACCOUNT_ID,
    LOCAL_CALLER_HEADER,
    FunctionRoute,
    Gateway,
    http_api_event,
)

from platform_events.layout import event_store_key_schema

TABLE = "events"
ALICE = "arn:aws:iam::210987654321:user/alice"
BOB = "arn:aws:iam::210987654321:user/bob"
KEY = "open-once"


def event(headers: dict[str, str]) -> dict[str, Any]:
    return http_api_event(
        method="POST",
        raw_path="/accounts",
        raw_query="",
        headers=headers,
        body=b"{}",
        source_ip="127.0.0.1",
    )


def test_the_caller_moves_from_the_headers_into_the_iam_authorizer() -> None:
    sent = event({LOCAL_CALLER_HEADER: ALICE, "Idempotency-Key": KEY})
    iam = sent["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"]) == (ALICE, "210987654321")
    assert LOCAL_CALLER_HEADER.lower() not in sent["headers"]
    assert sent["headers"]["idempotency-key"] == KEY


def test_a_caller_that_is_not_an_arn_is_in_the_local_account() -> None:
    iam = event({LOCAL_CALLER_HEADER: "alice"})["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"]) == ("alice", LOCAL_ACCOUNT_ID)


@pytest.mark.parametrize("headers", [{}, {LOCAL_CALLER_HEADER: ""}])
def test_without_a_caller_no_authorizer_ran(headers: dict[str, str]) -> None:
    assert "authorizer" not in event(headers)["requestContext"]


@pytest.fixture
def commands() -> Iterator[int]:
    """The real command handler on moto behind the real gateway, on a free port."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(TableName=TABLE, **event_store_key_schema())
        handler = build(Settings(event_store_table=TABLE), dynamodb=client)
        gateway = Gateway(
            [FunctionRoute("commands", frozenset({"POST"}), "/accounts", handler)], []
        )
        httpd = gateway.server("127.0.0.1", 0)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield httpd.server_address[1]
        httpd.shutdown()
        httpd.server_close()


def open_account(port: int, caller: str | None) -> tuple[int, str | None, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Idempotency-Key": KEY}
    if caller is not None:
        headers[LOCAL_CALLER_HEADER] = caller
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"owner": "Ada", "currency": "EUR"})
        connection.request("POST", "/accounts", body=body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        return response.status, response.getheader("Idempotent-Replayed"), answer
    finally:
        connection.close()


def test_one_key_of_two_local_callers_opens_two_accounts(commands: int) -> None:
    alice = open_account(commands, ALICE)
    bob = open_account(commands, BOB)
    anonymous = open_account(commands, None)

    assert [answer[:2] for answer in (alice, bob, anonymous)] == [(201, None)] * 3
    assert len({answer[2]["account_id"] for answer in (alice, bob, anonymous)}) == 3
    assert open_account(commands, ALICE) == (201, "true", alice[2])
    assert open_account(commands, None) == (201, "true", anonymous[2])
