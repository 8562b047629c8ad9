"""Whatever a client sends, the answer is never a 500: a catch-all, property-based test."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from command_api.http.problems import ProblemCode
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
WEIRD_NUMBERS = st.sampled_from(
    ["1e400", "-0", "0.1", "1E-400", "123456789012345678901234567890.123", "NaN", "-Infinity"]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | ANY_TEXT
    | st.decimals(allow_nan=False, allow_infinity=False).map(str),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
AMOUNTS = st.one_of(JSON_VALUES, st.decimals(places=3, allow_nan=False, allow_infinity=False))


def _json(document: Any) -> str:
    return json.dumps(document, default=str)


BODIES = st.one_of(
    st.none(),
    ANY_TEXT,
    JSON_VALUES.map(_json),
    st.fixed_dictionaries({"owner": JSON_VALUES, "currency": JSON_VALUES}).map(_json),
    st.fixed_dictionaries(
        {"owner": ANY_TEXT, "currency": st.sampled_from(["EUR", "usd", "E"])}
    ).map(_json),
    st.fixed_dictionaries(
        {"amount": AMOUNTS}, optional={"reference": JSON_VALUES, "extra": JSON_VALUES}
    ).map(_json),
    WEIRD_NUMBERS.map(lambda number: '{"amount": ' + number + "}"),
    st.just("[" * 5000 + "]" * 5000),
    st.integers(16 * 1024 - 16, 16 * 1024 + 16).map(lambda n: '{"owner": "' + "x" * n + '"}'),
)
HEADERS = st.dictionaries(
    st.sampled_from(["Idempotency-Key", "If-Match", "X-Correlation-Id", "Content-Type"]),
    st.one_of(ANY_TEXT, st.sampled_from(['"1"', "*", 'W/"2"', '"2", "3"', "", "k" * 300])),
    max_size=4,
)


ROUTES = [
    ("POST", "/accounts"),
    ("POST", "/accounts/{}/deposits"),
    ("POST", "/accounts/{}/withdrawals"),
    ("DELETE", "/accounts/{}"),
]


PLAUSIBLE_BODIES = st.one_of(
    st.fixed_dictionaries(
        {"amount": st.sampled_from(["1.00", "25", 3, "0.01", "60.00", 1.5])},
        optional={"reference": st.sampled_from(["rent", None, ""])},
    ),
    st.fixed_dictionaries(
        {"owner": st.sampled_from(["Ada", " Grace ", ""]), "currency": st.just("EUR")}
    ),
).map(_json)
PLAUSIBLE_HEADERS = st.dictionaries(
    st.sampled_from(["Idempotency-Key", "If-Match", "X-Correlation-Id"]),
    st.sampled_from(['"1"', '"2"', '"3"', "*", "key-1", "key-2"]),
    max_size=2,
)


@st.composite
def requests(draw: st.DrawFn, account: str) -> dict[str, Any]:
    base64_body = draw(st.booleans())
    if draw(st.booleans()):  # a plausible command, so that some are accepted or refused
        method, template = draw(st.sampled_from(ROUTES))
        segment = account
        path = template.replace("{}", segment)
        body = draw(st.none() | PLAUSIBLE_BODIES)
        headers = draw(PLAUSIBLE_HEADERS)
    else:  # anything at all
        segment = draw(st.uuids().map(str) | ANY_TEXT)
        method, template = draw(
            st.sampled_from(ROUTES)
            | st.tuples(
                st.sampled_from(["GET", "PUT", "OPTIONS"]), ANY_TEXT.map(lambda text: "/" + text)
            )
        )
        path = template.replace("{}", segment)
        body = draw(BODIES)
        headers = draw(HEADERS)
    return {
        "method": method,
        "path": path,
        "raw_body": body,
        "headers": headers,
        "base64_body": base64_body,
        "segment": segment,
    }


@pytest.fixture
def account(api) -> str:
    opened = api.open_id()
    assert api.deposit(opened, "50.00").status == 201
    return opened


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_is_answered_with_a_500(api, account, data) -> None:
    request = data.draw(requests(account))
    segment = request.pop("segment")
    answer = api.send(api.event(**request, path_parameters={"account_id": segment}))

    event(f"{answer.status} {answer.code}")  # --hypothesis-show-statistics shows the spread
    assert answer.status < 500, answer.body
    if answer.status >= 400:
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.body["status"] == answer.status
        assert ProblemCode(answer.body["code"]) is not ProblemCode.INTERNAL_ERROR
    else:
        assert answer.body["version"] >= 1


def test_the_catch_all_answers_a_problem_when_the_server_fails(api, dynamodb, table_name):
    account = api.open_id()
    dynamodb.delete_table(TableName=table_name)  # the server's fault, not the client's

    answer = api.deposit(account, "1.00")

    assert (answer.status, answer.code) == (500, "internal_error")
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_a_number_too_precise_for_a_float_is_still_exact(api, stream, account) -> None:
    body = '{"amount": 999999999999.99}'  # as a binary float: 999999999999.98999...
    assert Decimal(json.loads(body)["amount"]) != Decimal("999999999999.99")
    answer = api.call("POST", f"/accounts/{account}/deposits", raw_body=body)
    assert answer.status == 201
    assert stream(account)[-1].payload["amount"] == "999999999999.99"


def test_base64_garbage_is_invalid_json(api, account) -> None:
    request = api.event("POST", f"/accounts/{account}/deposits", raw_body="{}")
    request["body"] = base64.b64encode(b"\xff\xfe\x00").decode()
    request["isBase64Encoded"] = True
    request["pathParameters"] = {"account_id": account}
    assert api.send(request).code == "invalid_json"
