"""Every error the query API answers, and a sweep of hostile input that must never be a 500."""

from __future__ import annotations

import base64
import json
import uuid
from itertools import product

import pytest
from query_api.api import build_app
from query_api.cursors import CursorSigner
from sqlalchemy import create_engine


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def detail_of(answer):
    assert answer.status == 422, answer
    problem = answer.problem
    assert problem["code"] == "validation_error"
    return problem["detail"]


# ------------------------------------------------------------------------------ 422: parameters
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "99999999999999999999999999"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"status": "pending"}, "status"),
        ({"status": "OPEN"}, "status"),
        ({"status": ""}, "status"),
        ({"owner": ""}, "owner"),
        ({"owner": "x" * 201}, "owner"),
        ({"owner": "a\x00b"}, "owner"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "c" * 513}, "cursor"),
    ],
)
def test_an_invalid_parameter_is_a_422_naming_it(read_model, get, query, named):
    assert f"'{named}'" in detail_of(get("/accounts", query))


def test_a_repeated_parameter_is_a_422_naming_it(read_model, get):
    assert "'limit'" in detail_of(get("/accounts", [("limit", "5"), ("limit", "6")]))


def test_several_invalid_parameters_are_all_named(read_model, get):
    detail = detail_of(get("/accounts", {"limit": "0", "status": "gone"}))

    assert "'limit'" in detail
    assert "'status'" in detail


def test_a_boundary_limit_is_accepted(read_model, get):
    assert get("/accounts", {"limit": "1"}).status == 200
    assert get("/accounts", {"limit": "100"}).status == 200


def test_unknown_parameters_are_ignored(read_model, get):
    assert get("/accounts", {"colour": "blue"}).status == 200


# ------------------------------------------------------------------------------ 422: cursors
@pytest.fixture
def issued(read_model, get):
    """A real next_cursor of the owner=Ada list."""
    read_model.put_many(3, owner="Ada")
    cursor = get("/accounts", {"owner": "Ada", "limit": "1"}).json["next_cursor"]
    assert cursor
    return cursor


def test_a_cursor_is_opaque_text_that_does_not_show_the_filters_in_clear(issued):
    assert "Ada" not in issued
    assert set(issued) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_an_issued_cursor_is_accepted_with_the_same_filters(get, issued):
    assert get("/accounts", {"owner": "Ada", "limit": "1", "cursor": issued}).status == 200


@pytest.mark.parametrize(
    "filters", [{}, {"owner": "Grace"}, {"owner": "Ada", "status": "open"}, {"status": "open"}]
)
def test_a_cursor_used_with_other_filters_is_a_422(get, issued, filters):
    detail = detail_of(get("/accounts", {**filters, "cursor": issued}))

    assert "'cursor'" in detail
    assert "other filters" in detail


def test_a_cursor_with_an_edited_position_is_a_422(get, issued):
    payload, signature = issued.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["after"] = "00000000-0000-4000-8000-000000000000"
    forged = b64(json.dumps(document, separators=(",", ":"), sort_keys=True).encode())

    assert "'cursor'" in detail_of(
        get("/accounts", {"owner": "Ada", "cursor": f"{forged}.{signature}"})
    )


def test_a_cursor_with_edited_filters_is_a_422(get, issued):
    payload, signature = issued.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["filters"] = document["filters"][::-1]
    forged = b64(json.dumps(document, separators=(",", ":"), sort_keys=True).encode())

    assert "'cursor'" in detail_of(
        get("/accounts", {"owner": "Grace", "cursor": f"{forged}.{signature}"})
    )


def test_a_cursor_signed_with_another_key_is_a_422(get, issued):
    other = CursorSigner(b"another key, another deployment!")
    foreign = other.issue("accounts", {"owner": "Ada", "status": None}, "0")

    assert "'cursor'" in detail_of(get("/accounts", {"owner": "Ada", "cursor": foreign}))


def test_a_cursor_of_another_list_is_a_422(get, read_model, cursors):
    other_list = cursors.issue("transactions", {"owner": "Ada", "status": None}, "0")

    assert "another list" in detail_of(get("/accounts", {"owner": "Ada", "cursor": other_list}))


@pytest.mark.parametrize(
    "garbage",
    [
        "x",
        ".",
        "..",
        "abc.def",
        "abc.",
        ".abc",
        "not base64!.sig",
        "eyJ2IjoxfQ",
        "eyJ2IjoxfQ.",
        "=====.=====",
        "é.é",
        "\x00",
        "a.b.c",
        "' OR '1'='1",
    ],
)
def test_a_cursor_we_did_not_issue_is_a_422(get, read_model, garbage):
    assert "'cursor'" in detail_of(get("/accounts", {"cursor": garbage}))


def test_a_truncated_or_extended_cursor_is_a_422(get, issued):
    for mangled in (issued[:-1], issued + "A", issued[1:], issued.replace(".", "")):
        assert "'cursor'" in detail_of(get("/accounts", {"owner": "Ada", "cursor": mangled}))


# ------------------------------------------------------------------------------ 404s
def test_an_unknown_route_is_a_404_not_found(get, read_model):
    for path in ("/", "/account", "/accounts/", "/balances", "/accounts/x/y/z"):
        answer = get(path)
        assert answer.status == 404, path
        assert answer.problem["code"] in {"not_found", "account_not_found"}, path
    assert get("/nope").problem["code"] == "not_found"


def test_a_method_the_api_does_not_serve_is_a_404_not_found(get, read_model):
    answer = get("/accounts", method="POST")

    assert answer.status == 404
    assert answer.problem["code"] == "not_found"


# ------------------------------------------------------------------------------ 503, 500
def test_a_database_that_does_not_answer_is_a_503_with_retry_after(
    get, read_model, cursors, make_event, lambda_context
):
    unreachable = create_engine(
        "postgresql+psycopg://query_reader@127.0.0.1:1/app", connect_args={"connect_timeout": 1}
    )
    app = build_app(unreachable, cursors)

    response = app.resolve(make_event(f"/accounts/{uuid.uuid4()}"), lambda_context)

    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"
    body = json.loads(response["body"])
    assert body["code"] == "read_model_unavailable"
    assert "127.0.0.1" not in body["detail"]


def test_a_read_model_that_breaks_the_contract_is_a_500_without_internals(get, read_model):
    row = read_model.put(status="frozen")

    answer = get(f"/accounts/{row['account_id']}")

    assert answer.status == 500
    assert answer.problem["code"] == "internal_error"
    assert "frozen" not in answer.body
    assert "Traceback" not in answer.body


# ------------------------------------------------------------------------------ the sweep
HOSTILE = [
    "",
    " ",
    "'",
    '"',
    "' OR '1'='1",
    "'; DROP TABLE balances.accounts; --",
    "1; SELECT pg_sleep(10)",
    "%",
    "%25",
    "%00",
    "_",
    "*",
    "\\",
    "\x00",
    "a\x00b",
    "\n\r\t",
    "\ud800",
    "ünïcødé",
    "\U0001d518\U0001d52b\U0001d526",  # mathematical letters outside the BMP
    "🙂" * 300,
    "9" * 5000,
    "-1",
    "0",
    "1e3",
    "NaN",
    "null",
    "[]",
    "{}",
    "true",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    str(uuid.uuid4()),
]


# One test per parameter (not per value), so the sweep does not create hundreds of databases.
@pytest.mark.parametrize("name", ["owner", "status", "limit", "cursor"])
def test_no_query_parameter_value_is_a_500(read_model, get, name):
    read_model.put_many(2)

    for value in HOSTILE:
        answer = get("/accounts", {name: value})
        assert answer.status in {200, 422}, (value, answer)
        if answer.status == 422:
            assert f"'{name}'" in answer.problem["detail"], value


def test_no_combination_of_hostile_parameters_is_a_500(read_model, get):
    read_model.put_many(2)

    for owner, cursor in product(HOSTILE[:12], HOSTILE[12:24]):
        answer = get("/accounts", {"owner": owner, "cursor": cursor, "limit": "2"})
        assert answer.status in {200, 422}, (owner, cursor, answer)
        if answer.status == 422:
            assert answer.problem["code"] == "validation_error"


def test_no_account_id_is_a_500(read_model, get):
    read_model.put()

    for value in HOSTILE:
        for path in (f"/accounts/{value}", f"/accounts/{value}/transactions"):
            answer = get(path)
            assert answer.status == 404, (path, answer)
            assert answer.problem["code"] in {"account_not_found", "not_found"}, path


def test_no_if_none_match_is_a_500(read_model, get):
    row = read_model.put()

    for value in HOSTILE:
        headers = {"If-None-Match": value}
        assert get(f"/accounts/{row['account_id']}", headers=headers).status in {200, 304}, value
        assert get("/accounts", headers=headers).status in {200, 304}, value


def test_the_read_model_survives_the_sweep(read_model, get):
    read_model.put_many(2)
    for value in HOSTILE:
        get("/accounts", {"owner": value, "cursor": value})

    assert len(get("/accounts").json["items"]) == 2
