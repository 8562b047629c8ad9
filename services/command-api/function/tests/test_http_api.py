"""The handler end to end on moto: API Gateway HTTP API events in, responses and events out.

Every row of the contract's error table is here, each asserting that the refused command wrote
no event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from command_api.adapters.dynamodb_store import DynamoDBEventStore
from command_api.bootstrap import build
from command_api.http.requests import MAX_BODY_BYTES

from account_events import MoneyDeposited
from platform_events import default_registry
from platform_events.envelope import format_timestamp

UNKNOWN = "0b5e8c1a-7d2f-4e3a-9c1b-2a3d4e5f6a7b"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


@pytest.fixture
def unchanged(event_count: Callable[[], int]) -> Callable[[], Any]:
    """``with unchanged(): ...`` fails if the block wrote an event."""

    @contextmanager
    def check() -> Iterator[None]:
        before = event_count()
        yield
        assert event_count() == before, "a refused command wrote an event"

    return check


def assert_problem(answer: Any, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code), answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert set(answer.body) == PROBLEM_KEYS
    assert answer.body["status"] == status
    assert answer.body["type"].endswith(code)


# ====================================================================== accepted commands
def test_open_answers_201_with_location_and_records_account_opened(api, stream, clock) -> None:
    answer = api.open(owner="  Ada Lovelace ", currency="EUR")

    assert answer.status == 201
    account = answer.body["account_id"]
    assert answer.headers["Location"] == f"/accounts/{account}"
    assert answer.headers["ETag"] == '"1"'
    assert answer.headers["Content-Type"] == "application/json"
    [event] = stream(account)
    assert answer.body == {
        "account_id": account,
        "version": 1,
        "events": [{"event_id": str(event.event_id), "event_type": "AccountOpened", "version": 1}],
    }
    assert event.payload == {"owner": "Ada Lovelace", "currency": "EUR"}
    assert event.aggregate_type == "Account"
    assert format_timestamp(event.occurred_at) == format_timestamp(clock())


def test_events_carry_the_request_as_causation_and_correlation(api, stream) -> None:
    event = api.event("POST", "/accounts", {"owner": "Ada", "currency": "EUR"})
    answer = api.send(event)
    [recorded] = stream(answer.body["account_id"])
    request_id = event["requestContext"]["requestId"]
    assert recorded.causation_id == request_id
    assert recorded.correlation_id == request_id
    assert answer.headers["X-Correlation-Id"] == request_id


def test_a_correlation_id_header_is_recorded_and_echoed(api, stream) -> None:
    answer = api.open(headers={"X-Correlation-Id": "checkout-42"})
    [recorded] = stream(answer.body["account_id"])
    assert recorded.correlation_id == "checkout-42"
    assert recorded.causation_id != "checkout-42"
    assert answer.headers["X-Correlation-Id"] == "checkout-42"


def test_deposit_and_withdraw_answer_201_with_the_next_version(api, stream) -> None:
    account = api.open_id()

    deposited = api.deposit(account, "100.00", headers={"If-Match": '"1"'})
    withdrawn = api.withdraw(account, 30.25)

    assert (deposited.status, deposited.body["version"]) == (201, 2)
    assert (withdrawn.status, withdrawn.body["version"]) == (201, 3)
    assert withdrawn.headers["ETag"] == '"3"'
    assert "Location" not in withdrawn.headers
    events = stream(account)
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.event_type for e in events] == ["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]
    assert events[2].payload == {"amount": "30.25", "reference": None}
    assert withdrawn.body["events"] == [
        {"event_id": str(events[2].event_id), "event_type": "MoneyWithdrawn", "version": 3}
    ]


def test_a_json_number_is_money_exactly(api, stream) -> None:
    account = api.open_id()
    api.call("POST", f"/accounts/{account}/deposits", raw_body='{"amount": 0.1}')
    api.call("POST", f"/accounts/{account}/deposits", raw_body='{"amount": 0.2}')
    amounts = [default_registry.decode(e).amount for e in stream(account)[1:]]
    assert sum(amounts) == Decimal("0.30")


def test_a_reference_is_recorded(api, stream) -> None:
    account = api.open_id()
    api.call("POST", f"/accounts/{account}/deposits", {"amount": "5", "reference": "salary"})
    assert stream(account)[-1].payload == {"amount": "5.00", "reference": "salary"}


def test_a_base64_encoded_body_is_accepted(api) -> None:
    answer = api.call("POST", "/accounts", {"owner": "Ada", "currency": "EUR"}, base64_body=True)
    assert answer.status == 201


def test_delete_closes_an_empty_account_with_200_and_the_same_body(api, stream) -> None:
    account = api.open_id()
    api.deposit(account, "5.00")
    api.withdraw(account, "5.00")

    answer = api.close(account)

    assert answer.status == 200
    closed = stream(account)[-1]
    assert answer.body == {
        "account_id": account,
        "version": 4,
        "events": [{"event_id": str(closed.event_id), "event_type": "AccountClosed", "version": 4}],
    }


def test_if_match_star_accepts_any_version_of_an_existing_account(api) -> None:
    account = api.open_id()
    assert api.deposit(account, headers={"If-Match": "*"}).status == 201


def test_if_match_is_ignored_on_open_which_has_no_account_yet(api) -> None:
    assert api.open(headers={"If-Match": '"9"'}).status == 201


# ====================================================================== 400 invalid_json
@pytest.mark.parametrize("body", ["", "{", "owner=Ada", '{"amount": NaN}', "\u00ff", "[1,]"])
@pytest.mark.parametrize(
    "route", ["/accounts", "/accounts/{id}/deposits", "/accounts/{id}/withdrawals"]
)
def test_a_body_that_is_not_json_is_400(api, unchanged, route: str, body: str) -> None:
    account = api.open_id()
    with unchanged():
        answer = api.call("POST", route.format(id=account), raw_body=body)
    assert_problem(answer, 400, "invalid_json")


def test_a_missing_body_is_400(api, unchanged) -> None:
    with unchanged():
        answer = api.call("POST", "/accounts")
    assert_problem(answer, 400, "invalid_json")


# ====================================================================== 413 payload_too_large
@pytest.mark.parametrize("base64_body", [False, True])
@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("POST", "/accounts"),
        ("POST", "/accounts/{id}/deposits"),
        ("POST", "/accounts/{id}/withdrawals"),
        ("DELETE", "/accounts/{id}"),
    ],
)
def test_a_body_over_16_kib_is_413(api, unchanged, method, route, base64_body) -> None:
    account = api.open_id()
    # Valid JSON just over the limit: only its size can be the reason.
    body = json.dumps({"owner": "Ada", "currency": "EUR", "pad": ""})
    body = body.replace('""', '"' + "x" * (MAX_BODY_BYTES - len(body) + 1) + '"')
    assert len(body.encode()) == MAX_BODY_BYTES + 1
    with unchanged():
        answer = api.call(method, route.format(id=account), raw_body=body, base64_body=base64_body)
    assert_problem(answer, 413, "payload_too_large")


def test_a_body_of_exactly_16_kib_is_read(api, unchanged) -> None:
    body = json.dumps({"owner": "Ada", "currency": "EUR", "pad": ""})
    body = body.replace('""', '"' + "x" * (MAX_BODY_BYTES - len(body)) + '"')
    with unchanged():
        answer = api.call("POST", "/accounts", raw_body=body)
    assert_problem(answer, 422, "validation_error")  # read, and refused for the unknown field
    assert "pad" in answer.body["detail"]


# ====================================================================== 422 validation_error
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "EUR"}, "owner"),
        ({"owner": "Ada"}, "currency"),
        ({"owner": 42, "currency": "EUR"}, "owner"),
        ({"owner": "   ", "currency": "EUR"}, "owner"),
        ({"owner": "a" * 201, "currency": "EUR"}, "owner"),
        ({"owner": "Ada\u0000Lovelace", "currency": "EUR"}, "owner"),
        ({"owner": "Ada\u001b[31m", "currency": "EUR"}, "owner"),
        ({"owner": "Ada", "currency": "eur"}, "currency"),
        ({"owner": "Ada", "currency": ["EUR"]}, "currency"),
        ({"owner": "Ada", "currency": "EUR", "balance": "1000"}, "balance"),
        ([], "body"),
    ],
)
def test_open_with_a_bad_field_is_422_naming_it(api, unchanged, body, field) -> None:
    with unchanged():
        answer = api.call("POST", "/accounts", body)
    assert_problem(answer, 422, "validation_error")
    assert answer.body["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("raw_body", "field"),
    [
        ("{}", "amount"),
        ('{"amount": null}', "amount"),
        ('{"amount": "ten"}', "amount"),
        ('{"amount": true}', "amount"),
        ('{"amount": 0}', "amount"),
        ('{"amount": "-1.00"}', "amount"),
        ('{"amount": 1.001}', "amount"),
        ('{"amount": "0.001"}', "amount"),
        ('{"amount": 1000000000000.01}', "amount"),
        ('{"amount": 1e13}', "amount"),
        ('{"amount": "1", "reference": 7}', "reference"),
        ('{"amount": "1", "reference": "rent\\u0000"}', "reference"),
        ('{"amount": "1", "currency": "USD"}', "currency"),
    ],
)
@pytest.mark.parametrize("movement", ["deposits", "withdrawals"])
def test_a_movement_with_a_bad_field_is_422_naming_it(
    api, unchanged, movement, raw_body, field
) -> None:
    account = api.open_id()
    api.deposit(account, "100.00")
    with unchanged():
        answer = api.call("POST", f"/accounts/{account}/{movement}", raw_body=raw_body)
    assert_problem(answer, 422, "validation_error")
    assert answer.body["detail"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("header", "value"),
    [("Idempotency-Key", "k" * 256), ("If-Match", "3"), ("X-Correlation-Id", "c" * 256)],
)
def test_a_malformed_header_is_422_naming_it(api, unchanged, header, value) -> None:
    account = api.open_id()
    with unchanged():
        answer = api.deposit(account, headers={header: value})
    assert_problem(answer, 422, "validation_error")
    assert header in answer.body["detail"]


# ====================================================================== 404 account_not_found
@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("POST", "/accounts/{id}/deposits", {"amount": "1"}),
        ("POST", "/accounts/{id}/withdrawals", {"amount": "1"}),
        ("DELETE", "/accounts/{id}", None),
    ],
)
@pytest.mark.parametrize(
    "account",
    [UNKNOWN, "not-a-uuid", UNKNOWN.upper(), UNKNOWN.replace("-", ""), "%7B..%7D", "caf\u00e9"],
)
def test_an_unknown_or_malformed_account_id_is_404(api, unchanged, method, route, body, account):
    with unchanged():
        answer = api.call(method, route.format(id=account), body)
    assert_problem(answer, 404, "account_not_found")


@pytest.mark.parametrize(
    "path", ['/accounts/a"b/deposits', "/accounts/a\\b", "/accounts/a#b/withdrawals"]
)
def test_ids_the_router_cannot_even_match_are_404_account_not_found(api, unchanged, path) -> None:
    with unchanged():
        answer = api.call("POST", path, {"amount": "1"})
    assert_problem(answer, 404, "account_not_found")


def test_an_unknown_route_is_a_404_problem(api) -> None:
    assert_problem(api.call("GET", "/health"), 404, "not_found")


# ====================================================================== 409 state conflicts
def test_withdrawing_more_than_the_balance_is_409_insufficient_funds(api, unchanged) -> None:
    account = api.open_id()
    api.deposit(account, "10.00")
    with unchanged():
        answer = api.withdraw(account, "10.01")
    assert_problem(answer, 409, "insufficient_funds")


@pytest.mark.parametrize("command", ["deposit", "withdraw", "close"])
def test_a_closed_account_takes_nothing_409_account_closed(api, unchanged, command) -> None:
    account = api.open_id()
    api.close(account)
    with unchanged():
        answer = getattr(api, command)(account)
    assert_problem(answer, 409, "account_closed")


def test_closing_an_account_with_money_is_409_account_not_empty(api, unchanged) -> None:
    account = api.open_id()
    api.deposit(account, "0.01")
    with unchanged():
        answer = api.close(account)
    assert_problem(answer, 409, "account_not_empty")


class RivalStore(DynamoDBEventStore):
    """Another writer slips one deposit in before each of this writer's first ``wins`` appends."""

    def __init__(self, *args: Any, wins: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wins = wins
        self.rival_events: list[Any] = []

    def append(self, events, idempotency=None):
        if self.wins:
            self.wins -= 1
            first = events[0]
            rival = default_registry.envelope(
                MoneyDeposited(amount=Decimal("1.00"), reference="rival"),
                stream_id=first.stream_id,
                version=first.version,
                occurred_at=first.occurred_at,
                correlation_id="rival",
                event_id=uuid4(),
            )
            super().append([rival])
            self.rival_events.append(rival)
        super().append(events, idempotency)


@pytest.fixture
def rival_api(api, settings, dynamodb, table_name, clock, ids):
    def make(wins: int):
        store = RivalStore(dynamodb, table_name, clock, wins=wins)
        api.handler = build(settings, store=store, clock=clock, new_id=ids)
        return store

    return make


def test_a_command_that_loses_every_race_is_409_concurrency_conflict(
    api, rival_api, stream, settings
) -> None:
    account = api.open_id()
    api.deposit(account, "5.00")
    store = rival_api(wins=settings.max_append_attempts)

    answer = api.withdraw(account, "5.00")

    assert_problem(answer, 409, "concurrency_conflict")
    events = stream(account)
    assert [e.event_id for e in events[2:]] == [e.event_id for e in store.rival_events]
    assert all(e.event_type == "MoneyDeposited" for e in events[2:])


def test_a_lost_race_is_retried_on_the_new_state(api, rival_api, stream) -> None:
    account = api.open_id()
    rival_api(wins=2)

    answer = api.deposit(account, "2.00", headers={"X-Correlation-Id": "mine"})

    assert answer.status == 201
    assert answer.body["version"] == 4
    events = stream(account)
    assert [e.correlation_id for e in events[1:]] == ["rival", "rival", "mine"]
    assert answer.body["events"][0]["event_id"] == str(events[-1].event_id)


# ====================================================================== 412 version_mismatch
@pytest.mark.parametrize("if_match", ['"1"', '"3"', 'W/"2"', '"1", "3"', '"abc"'])
def test_an_if_match_that_differs_is_412(api, unchanged, if_match) -> None:
    account = api.open_id()
    api.deposit(account)
    with unchanged():
        answer = api.withdraw(account, headers={"If-Match": if_match})
    assert_problem(answer, 412, "version_mismatch")


def test_if_match_is_checked_again_after_a_lost_race(api, rival_api, unchanged) -> None:
    account = api.open_id()
    api.deposit(account)
    rival_api(wins=1)
    answer = api.deposit(account, headers={"If-Match": '"2"'})
    assert_problem(answer, 412, "version_mismatch")


def test_an_unknown_account_is_404_even_with_if_match(api) -> None:
    answer = api.deposit(UNKNOWN, headers={"If-Match": '"1"'})
    assert_problem(answer, 404, "account_not_found")


# ====================================================================== observability
def test_metrics_count_accepted_and_rejected_commands_by_code(api, capsys) -> None:
    account = api.open_id()
    api.withdraw(account, "1.00")
    metrics = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]
    accepted = [m for m in metrics if "CommandsAccepted" in m]
    rejected = [m for m in metrics if "CommandsRejected" in m]
    assert [m["command"] for m in accepted] == ["OpenAccount"]
    assert [(m["command"], m["code"]) for m in rejected] == [("Withdraw", "insufficient_funds")]
