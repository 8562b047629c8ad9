"""Reading a request: size before anything else, exact JSON numbers, one problem per mistake."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from command_api.http import requests
from command_api.http.models import MoneyRequest, OpenAccountRequest
from command_api.http.problems import ProblemCode, ProblemError
from command_api.http.routes import DEPOSIT, WITHDRAW

LIMIT = requests.MAX_BODY_BYTES


def refusal(call, *args) -> ProblemError:
    with pytest.raises(ProblemError) as raised:
        call(*args)
    return raised.value


# ---------------------------------------------------------------------- size
def test_a_body_of_exactly_16_kib_is_accepted() -> None:
    body = "x" * LIMIT
    assert requests.body_bytes({"body": body}) == body.encode()


def test_one_byte_more_is_413() -> None:
    error = refusal(requests.body_bytes, {"body": "x" * (LIMIT + 1)})
    assert error.code is ProblemCode.PAYLOAD_TOO_LARGE


def test_multibyte_characters_count_as_bytes() -> None:
    body = "é" * (LIMIT // 2 + 1)  # fewer characters than the limit, more bytes
    assert refusal(requests.body_bytes, {"body": body}).code is ProblemCode.PAYLOAD_TOO_LARGE


@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT])
def test_base64_bodies_are_measured_decoded(size: int) -> None:
    encoded = base64.b64encode(b"x" * size).decode()
    assert len(requests.body_bytes({"body": encoded, "isBase64Encoded": True})) == size


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + 2, LIMIT + 3, 6 * 1024 * 1024])
def test_oversized_base64_bodies_are_413_without_decoding(size: int) -> None:
    encoded = base64.b64encode(b"x" * size).decode()
    error = refusal(requests.refuse_oversized, {"body": encoded, "isBase64Encoded": True})
    assert error.code is ProblemCode.PAYLOAD_TOO_LARGE


def test_an_invalid_base64_body_is_invalid_json() -> None:
    error = refusal(requests.body_bytes, {"body": "not base64!", "isBase64Encoded": True})
    assert error.code is ProblemCode.INVALID_JSON


def test_no_body_is_empty() -> None:
    assert requests.body_bytes({}) == b""


# ---------------------------------------------------------------------- JSON
@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"{",
        b"amount=1",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1, "a": 2}',
        b"\xff\xfe",
        b"[" * 100_000,
        b'{"owner": "\\ud800"}',
        b"{'a': 1}",
    ],
)
def test_what_is_not_json_is_400_invalid_json(text: bytes) -> None:
    assert refusal(requests.json_object, text).code is ProblemCode.INVALID_JSON


@pytest.mark.parametrize("text", [b"[]", b'"x"', b"null", b"12", b"true"])
def test_json_that_is_not_an_object_is_422(text: bytes) -> None:
    error = refusal(requests.json_object, text)
    assert error.code is ProblemCode.VALIDATION_ERROR
    assert "body" in error.detail


def test_json_numbers_are_read_exactly_as_decimals() -> None:
    document = requests.json_object(b'{"amount": 0.1, "n": 10, "big": 1e400}')
    assert document == {"amount": Decimal("0.1"), "n": Decimal(10), "big": Decimal("1e400")}
    assert all(isinstance(value, Decimal) for value in document.values())


def test_huge_integers_do_not_hit_the_int_digit_limit() -> None:
    document = requests.json_object(b'{"amount": ' + b"9" * 10_000 + b"}")
    assert document["amount"] == Decimal("9" * 10_000)


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": []}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": " 12.50"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": Decimal("0.001")}, "amount"),
        ({"amount": Decimal("1000000000000.01")}, "amount"),
        ({"amount": "1", "reference": 5}, "reference"),
        ({"amount": "1", "reference": "r" * 256}, "reference"),
        ({"amount": "1", "surprise": True}, "surprise"),
    ],
)
def test_money_validation_names_the_field(body: dict[str, object], field: str) -> None:
    error = refusal(requests.validate, MoneyRequest, body)
    assert error.code is ProblemCode.VALIDATION_ERROR
    assert error.detail.startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("body", "amount"),
    [
        ({"amount": "12.50"}, "12.50"),
        ({"amount": Decimal("12.5")}, "12.50"),
        ({"amount": Decimal(7)}, "7.00"),
        ({"amount": 3}, "3.00"),
        ({"amount": "0012.5"}, "12.50"),
    ],
)
def test_amounts_arrive_as_strings_or_numbers(body: dict[str, object], amount: str) -> None:
    assert str(requests.validate(MoneyRequest, body).amount) == amount


def test_a_float_never_becomes_money() -> None:
    error = refusal(requests.validate, MoneyRequest, {"amount": 0.1})
    assert error.detail.startswith("amount: ")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["owner", "currency"]),
        ({"owner": "  ", "currency": "EUR"}, ["owner"]),
        ({"owner": Decimal(5), "currency": "EUR"}, ["owner"]),
        ({"owner": "Ada", "currency": "eur"}, ["currency"]),
        ({"owner": "a" * 201, "currency": "EUR"}, ["owner"]),
    ],
)
def test_open_account_validation_names_every_bad_field(
    body: dict[str, object], fields: list[str]
) -> None:
    error = refusal(requests.validate, OpenAccountRequest, body)
    assert [part.split(":")[0] for part in error.detail.split("; ")] == fields


def test_value_rules_speak_plainly() -> None:
    error = refusal(requests.validate, MoneyRequest, {"amount": "0.001"})
    assert error.detail == "amount: must have at most 2 decimal places"


# ---------------------------------------------------------------------- path and headers
@pytest.mark.parametrize(
    "text",
    [
        "xyz",
        "6F1C3B0E-2A4D-4C1E-9B7A-3D2F1E0C9B8A",
        "6f1c3b0e2a4d4c1e9b7a3d2f1e0c9b8a",
        "{6f1c3b0e-2a4d-4c1e-9b7a-3d2f1e0c9b8a}",
        "6f1c3b0e-2a4d-4c1e-9b7a-3d2f1e0c9b8a\n",
        "",
    ],
)
def test_ids_that_are_not_canonical_uuids_are_404(text: str) -> None:
    assert refusal(requests.account_id, text).code is ProblemCode.ACCOUNT_NOT_FOUND


@pytest.mark.parametrize("key", ["", "k" * 256, "caf\u00e9", "tab\there", "\ud800"])
def test_idempotency_keys_are_1_to_255_printable_characters(key: str) -> None:
    error = refusal(requests.idempotency_key, {"idempotency-key": key})
    assert error.code is ProblemCode.VALIDATION_ERROR
    assert "Idempotency-Key" in error.detail


def test_a_correlation_id_defaults_when_absent_or_empty() -> None:
    assert requests.correlation_id({}) is None
    assert requests.correlation_id({"x-correlation-id": ""}) is None
    assert requests.correlation_id({"x-correlation-id": "order-7"}) == "order-7"
    error = refusal(requests.correlation_id, {"x-correlation-id": "c" * 256})
    assert "X-Correlation-Id" in error.detail


def test_a_malformed_if_match_is_422_naming_the_header() -> None:
    error = refusal(requests.if_match, {"if-match": "3"})
    assert error.code is ProblemCode.VALIDATION_ERROR
    assert error.detail.startswith("header If-Match: ")


# ---------------------------------------------------------------------- request identity
def test_the_request_hash_compares_meaning_not_spelling() -> None:
    account = "6f1c3b0e-2a4d-4c1e-9b7a-3d2f1e0c9b8a"
    as_text = requests.validate(MoneyRequest, {"amount": "12.5"})
    as_number = requests.validate(
        MoneyRequest, json.loads('{"amount": 12.50}', parse_float=Decimal)
    )
    assert requests.request_hash(DEPOSIT, account, as_text) == requests.request_hash(
        DEPOSIT, account, as_number
    )
    assert requests.request_hash(DEPOSIT, account, as_text) != requests.request_hash(
        WITHDRAW, account, as_text
    )
    other = requests.validate(MoneyRequest, {"amount": "12.51"})
    assert requests.request_hash(DEPOSIT, account, as_text) != requests.request_hash(
        DEPOSIT, account, other
    )
