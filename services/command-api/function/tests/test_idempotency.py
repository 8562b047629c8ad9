"""Idempotency-Key: the first answer is kept with the events, atomically, and answered again."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from command_api.adapters.dynamodb_store import DynamoDBEventStore
from command_api.bootstrap import build

from platform_events import NotAnEvent
from platform_events.dynamodb import decode_stream_record
from platform_events.layout import Attr, idempotency_stream_id

KEY = {"Idempotency-Key": "c0ffee-7"}
# The template event's caller (an assumed role's session) in its canonical form: pinned here, as
# changing it would orphan every stored record.
TEMPLATE_CALLER = '["iam","arn:aws:sts::123456789012:assumed-role/teller"]'


def replayed(answer: Any) -> bool:
    return answer.headers.get("Idempotent-Replayed") == "true"


def test_the_same_key_and_body_answer_the_first_answer_and_record_nothing(api, event_count) -> None:
    account = api.open_id()
    first = api.deposit(account, "12.50", headers=KEY)
    events = event_count()

    again = api.deposit(account, "12.50", headers=KEY)

    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers["ETag"] == first.headers["ETag"]
    assert replayed(again)
    assert not replayed(first)
    assert event_count() == events


def test_the_same_amount_spelled_differently_is_the_same_request(api, event_count) -> None:
    account = api.open_id()
    first = api.deposit(account, "12.50", headers=KEY)
    again = api.call(
        "POST", f"/accounts/{account}/deposits", raw_body='{"amount": 12.5}', headers=KEY
    )
    assert replayed(again)
    assert again.body == first.body


def test_opening_twice_with_one_key_opens_one_account(api, stream) -> None:
    first = api.open(headers=KEY)
    again = api.open(headers=KEY)
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert len(stream(first.body["account_id"])) == 1


@pytest.mark.parametrize(
    "second",
    [
        lambda api, account: api.deposit(account, "12.51", headers=KEY),
        lambda api, account: api.withdraw(account, "12.50", headers=KEY),
        lambda api, account: api.close(account, headers=KEY),
        lambda api, account: api.open(headers=KEY),
    ],
    ids=["other-amount", "other-route", "other-method", "other-command"],
)
def test_the_same_key_with_another_request_is_422_idempotency_key_reused(
    api, event_count, second
) -> None:
    account = api.open_id()
    api.deposit(account, "12.50", headers=KEY)
    events = event_count()

    answer = second(api, account)

    assert (answer.status, answer.code) == (422, "idempotency_key_reused")
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert event_count() == events


def test_a_refusal_of_the_account_is_kept_like_a_success(api, event_count) -> None:
    account = api.open_id()
    refused = api.withdraw(account, "5.00", headers=KEY)
    api.deposit(account, "50.00")
    events = event_count()

    again = api.withdraw(account, "5.00", headers=KEY)

    assert (refused.status, refused.code) == (409, "insufficient_funds")
    assert (again.status, again.body) == (refused.status, refused.body)
    assert replayed(again)
    assert event_count() == events


@pytest.mark.parametrize(
    ("first_headers", "expected"),
    [
        ({"If-Match": '"7"'}, (412, "version_mismatch")),
        ({"If-Match": "7"}, (422, "validation_error")),
    ],
)
def test_a_refusal_that_ran_nothing_is_not_kept(api, first_headers, expected) -> None:
    account = api.open_id()
    refused = api.deposit(account, headers={**KEY, **first_headers})
    retried = api.deposit(account, headers=KEY)
    assert (refused.status, refused.code) == expected
    assert retried.status == 201
    assert not replayed(retried)


def test_an_unknown_account_is_not_kept_either(api) -> None:
    answer = api.deposit("0b5e8c1a-7d2f-4e3a-9c1b-2a3d4e5f6a7b", headers=KEY)
    assert answer.status == 404
    account = api.open_id()
    assert api.deposit(account, headers=KEY).status == 201


def test_an_expired_key_runs_the_command_again(api, clock, settings, event_count) -> None:
    account = api.open_id()
    first = api.deposit(account, headers=KEY)
    clock.advance(timedelta(seconds=settings.idempotency_ttl_seconds))

    again = api.deposit(account, headers=KEY)

    assert again.status == 201
    assert not replayed(again)
    assert again.body["version"] == first.body["version"] + 1
    assert replayed(api.deposit(account, headers=KEY))


def test_the_record_is_not_an_event_and_expires(api, dynamodb, table_name, clock, settings):
    account = api.open_id()
    api.deposit(account, headers=KEY)
    digest = hashlib.sha256(KEY["Idempotency-Key"].encode()).hexdigest()
    caller = hashlib.sha256(TEMPLATE_CALLER.encode()).hexdigest()

    item = dynamodb.get_item(
        TableName=table_name,
        Key={
            Attr.STREAM_ID.value: {"S": idempotency_stream_id(caller, digest)},
            Attr.VERSION.value: {"N": "0"},
        },
        ConsistentRead=True,
    )["Item"]

    assert item[Attr.ITEM_KIND.value] == {"S": "idempotency"}
    assert Attr.REPLAY_SHARD.value not in item  # never replayed as an event
    expected_expiry = int(clock().timestamp()) + settings.idempotency_ttl_seconds
    assert item[Attr.EXPIRES_AT.value] == {"N": str(expected_expiry)}
    with pytest.raises(NotAnEvent):
        decode_stream_record({"eventName": "INSERT", "dynamodb": {"NewImage": item}})


# ---------------------------------------------------------------------- races and crashes
class CrashAfterCommit(DynamoDBEventStore):
    """The process dies right after DynamoDB committed, before anyone hears the answer."""

    def __init__(self, *args: Any, crashes: int = 1) -> None:
        super().__init__(*args)
        self.crashes = crashes

    def append(self, events, idempotency=None):
        super().append(events, idempotency)
        if self.crashes:
            self.crashes -= 1
            msg = "connection lost after the commit"
            raise ConnectionResetError(msg)


@pytest.mark.parametrize("command", ["open", "deposit"])
def test_a_retry_after_a_crash_after_commit_gets_the_answer_and_no_second_write(
    api, settings, dynamodb, table_name, clock, ids, stream, command
) -> None:
    account = api.open_id()
    api.handler = build(
        settings, store=CrashAfterCommit(dynamodb, table_name, clock), clock=clock, new_id=ids
    )

    def send() -> Any:
        if command == "open":
            return api.open(owner="Grace", headers=KEY)
        return api.deposit(account, "7.00", headers=KEY)

    crashed = send()
    retried = send()
    again = send()

    assert (crashed.status, crashed.code) == (500, "internal_error")
    assert retried.status == 201
    assert replayed(retried)
    assert (again.status, again.body) == (retried.status, retried.body)
    written = stream(retried.body["account_id"])
    new = [e for e in written if e.version > (0 if command == "open" else 1)]
    assert retried.body["events"] == [
        {
            "event_id": str(new[0].event_id),
            "event_type": new[0].event_type,
            "version": new[0].version,
        }
    ]


class StaleLookup(DynamoDBEventStore):
    """The key lookup runs before a concurrent request with the same key commits."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.stale_lookups = 1

    def idempotency_record(self, key):
        if self.stale_lookups:
            self.stale_lookups -= 1
            return None
        return super().idempotency_record(key)


@pytest.mark.parametrize(
    ("amount", "expected"), [("3.00", (201, None)), ("4.00", (422, "idempotency_key_reused"))]
)
def test_losing_the_key_inside_the_transaction_answers_the_winner(
    api, settings, dynamodb, table_name, clock, ids, stream, amount, expected
) -> None:
    account = api.open_id()
    winner = api.deposit(account, "3.00", headers=KEY)
    api.handler = build(
        settings, store=StaleLookup(dynamodb, table_name, clock), clock=clock, new_id=ids
    )

    loser = api.deposit(account, amount, headers=KEY)

    assert (loser.status, loser.code) == expected
    if loser.status == 201:
        assert loser.body == winner.body
        assert replayed(loser)
    assert len(stream(account)) == 2  # the loser's event was in the cancelled transaction
