"""Hostile input against the real platform-local process, over HTTP.

Every refusal is a clear 4xx: the contract's status and ``code`` as application/problem+json when
the request reaches a function, the HTTP server's or API Gateway's own 4xx when the request
cannot be framed. And a refusal changes nothing: the event store holds the same events and the
target account reads the same as before (the ``nothing_written`` fixture checks both around each
test). Families of similar attacks run in one test each, the failing case named in the message.
Inputs that are legitimate however odd (emoji, non-NFC names, SQL text in a name) are accepted
and must come back from the read model byte for byte.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from tests_integration.local_runner import LocalRunner, Response, running_platform_local, wait_for

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

MAX_BODY_BYTES = 16 * 1024  # the contract's limit
GATEWAY_MAX_BYTES = 10 * 1024 * 1024  # API Gateway's
SQL = "' OR '1'='1'; DROP TABLE accounts; --"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
RECORDED_TIMEOUT_SECONDS = 20


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRunner]:
    with running_platform_local(tmp_path_factory.mktemp("hostile")) as runner:
        yield runner


@pytest.fixture(scope="module")
def account(local: LocalRunner) -> str:
    """An open account holding 50.00 at version 2: refusals aimed at it must not touch it."""
    opened = local.open_account("Target")
    assert (
        local.client.request("POST", f"/accounts/{opened}/deposits", {"amount": "50.00"}).status
        == 201
    )
    return opened


@pytest.fixture
def nothing_written(local: LocalRunner, account: str) -> Iterator[None]:
    """The store's event count and the target account's read model are the same afterwards.
    A read model is the fold of the store, so an unchanged store is the proof; the account is
    read back as well, as a client would see a change, each time once the projections have
    caught up (an earlier test's accepted deposit may still be on its way to the read model)."""

    def held() -> tuple[int, Any]:
        local.settle()
        return local.events_in_store(), local.client.request("GET", f"/accounts/{account}").body

    before = held()
    yield
    after = held()
    assert after == before


def refused(answer: Response, status: int, code: str) -> None:
    assert (answer.status, answer.code) == (status, code), answer.raw[:300]
    assert answer.is_problem
    assert answer.body["status"] == status
    assert answer.body["detail"]


def raw_request(
    method: bytes,
    path: bytes,
    body: bytes = b"",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    *,
    content_length: bool = True,
) -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    if content_length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def deposit_path(account: str) -> str:
    return f"/accounts/{account}/deposits"


# ---------------------------------------------------------------------------- oversized bodies
@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    "size", [MAX_BODY_BYTES + 1, 1024 * 1024, GATEWAY_MAX_BYTES], ids=["16KiB+1", "1MiB", "10MiB"]
)
def test_a_body_over_16_kib_is_413_payload_too_large(
    local: LocalRunner, account: str, size: int
) -> None:
    prefix = b'{"amount": "1.00", "reference": "'
    body = prefix + b"x" * (size - len(prefix) - 2) + b'"}'
    assert len(body) == size
    refused(local.client.request("POST", deposit_path(account), body), 413, "payload_too_large")


@pytest.mark.usefixtures("nothing_written")
def test_a_body_over_api_gateways_limit_is_413_from_the_gateway(
    local: LocalRunner, account: str
) -> None:
    # Never reaches the function: API Gateway answers these itself, without the contract's body.
    answer = local.client.request("POST", deposit_path(account), b"x" * (GATEWAY_MAX_BYTES + 1))
    assert answer.status == 413
    assert answer.body == {"message": "Request Entity Too Large"}


def test_a_body_of_exactly_16_kib_is_accepted(local: LocalRunner, account: str) -> None:
    body = b'{"amount": "0.01"}'
    body += b" " * (MAX_BODY_BYTES - len(body))  # JSON whitespace: still the same command
    answer = local.client.request("POST", deposit_path(account), body)
    assert answer.status == 201, answer.raw


# ---------------------------------------------------------------------------- malformed bodies
@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b"[" * 8000 + b"]" * 8000, 400, "invalid_json", id="8000-deep-array"),
        pytest.param(
            b'{"amount": ' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
            400,
            "invalid_json",
            id="2000-deep-object",
        ),
        pytest.param(
            b'{"amount": ' + b"[" * 500 + b"]" * 500 + b"}", 422, "validation_error", id="500-deep"
        ),
        pytest.param(b'{"amount": "1.00"', 400, "invalid_json", id="truncated"),
        pytest.param(b'{"amount": "1.00", "amount": "2.00"}', 400, "invalid_json", id="dup-key"),
        pytest.param(b"", 400, "invalid_json", id="empty"),
        pytest.param(b'["amount", "1.00"]', 422, "validation_error", id="not-an-object"),
        pytest.param(b'{"amount": "1.00", "x": 1}', 422, "validation_error", id="unknown-field"),
    ],
)
def test_malformed_and_deeply_nested_json_is_refused(
    local: LocalRunner, account: str, body: bytes, status: int, code: str
) -> None:
    refused(local.client.request("POST", deposit_path(account), body), status, code)


# ---------------------------------------------------------------------------- unicode
@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b'{"owner": "\\ud800", "currency": "EUR"}', 400, "invalid_json", id="lone-hi"),
        pytest.param(
            b'{"owner": "a\\udfffb", "currency": "EUR"}', 400, "invalid_json", id="lone-lo"
        ),
        pytest.param(
            b'{"owner": "\xff\xfe", "currency": "EUR"}', 400, "invalid_json", id="not-utf8"
        ),
        pytest.param(
            b'{"owner": "\xc0\x80", "currency": "EUR"}', 400, "invalid_json", id="overlong"
        ),
        pytest.param(
            b'{"owner": "\xed\xa0\x80", "currency": "EUR"}', 400, "invalid_json", id="cesu"
        ),
        pytest.param(
            '{"owner": "Ada", "currency": "EUR"}'.encode("utf-16"), 400, "invalid_json", id="utf16"
        ),
        pytest.param(
            b'\xef\xbb\xbf{"owner": "Ada", "currency": "EUR"}', 400, "invalid_json", id="bom"
        ),
        pytest.param(
            b'{"owner": "A\\u0000da", "currency": "EUR"}', 422, "validation_error", id="nul"
        ),
        pytest.param(
            b'{"owner": "Ada\\u001b[31m", "currency": "EUR"}', 422, "validation_error", id="escape"
        ),
        pytest.param(
            b'{"owner": "\\u200b\\u200b", "currency": "EUR"}'.replace(b"\\u200b", b" "),
            422,
            "validation_error",
            id="blank",
        ),
        pytest.param(
            b'{"owner": "Ada", "currency": "\\uff25UR"}', 422, "validation_error", id="fullwidth"
        ),
        pytest.param(
            '{"owner": "Ada", "currency": "EU\u0301R"}'.encode(), 422, "validation_error", id="nfd"
        ),
    ],
)
def test_unicode_that_cannot_be_stored_faithfully_is_refused(
    local: LocalRunner, body: bytes, status: int, code: str
) -> None:
    refused(local.client.request("POST", "/accounts", body), status, code)


@pytest.mark.usefixtures("nothing_written")
def test_a_nul_in_a_reference_is_refused(local: LocalRunner, account: str) -> None:
    body = {"amount": "1.00", "reference": "rent\u0000"}
    refused(local.client.request("POST", deposit_path(account), body), 422, "validation_error")


ODD_BUT_VALID_OWNERS = {
    "emoji": "Ada \U0001f9d1\u200d\U0001f4bb \U0001f1ea\U0001f1fa",  # 4-byte, ZWJ sequence, flag
    "rtl": "\u202eevoL adA\u202c \u05e2\u05d3\u05d4",  # RTL override and Hebrew
    "zero-width": "A\u200bd\u200ca\u2060",
    "nfd": unicodedata.normalize("NFD", "Zoë Ångström"),
    "nfc": unicodedata.normalize("NFC", "Zoë Ångström"),
    "sql": SQL,
    "astral-math": "\U0001d400\U0001d401",
}


def test_odd_but_valid_owners_are_stored_and_read_back_exactly(local: LocalRunner) -> None:
    """No normalisation anywhere: what the command took is what the read model gives back,
    and the owner filter matches code points exactly (NFD and NFC are two owners)."""
    opened = {name: local.open_account(owner) for name, owner in ODD_BUT_VALID_OWNERS.items()}
    local.settle()
    for name, owner in ODD_BUT_VALID_OWNERS.items():
        stored = local.client.request("GET", f"/accounts/{opened[name]}").body
        assert stored["owner"] == owner, name
        page = local.client.request("GET", f"/accounts?owner={quote(owner, safe='')}").body
        assert [item["account_id"] for item in page["items"]] == [opened[name]], name


# ---------------------------------------------------------------------------- numbers
HUGE_INTEGER = "1" + "0" * 1000  # 10**1000: more digits than int() parses by default


NOT_AMOUNTS = [
    ("1e400", 422, "validation_error"),
    ('"1e400"', 422, "validation_error"),
    ("1E-400", 422, "validation_error"),
    (HUGE_INTEGER, 422, "validation_error"),
    (f'"{HUGE_INTEGER}"', 422, "validation_error"),
    ('"1000000000000.01"', 422, "validation_error"),
    ('"0.' + "0" * 5000 + '1"', 422, "validation_error"),
    ("0.001", 422, "validation_error"),
    ("NaN", 400, "invalid_json"),
    ("Infinity", 400, "invalid_json"),
    ("-Infinity", 400, "invalid_json"),
    ('"NaN"', 422, "validation_error"),
    ('"Infinity"', 422, "validation_error"),
    ('"sNaN"', 422, "validation_error"),
    ("-0", 422, "validation_error"),
    ("-0.0", 422, "validation_error"),
    ('"-0.00"', 422, "validation_error"),
    ("0", 422, "validation_error"),
    ('"-5.00"', 422, "validation_error"),
    ('" 5.00"', 422, "validation_error"),
    ('"5,00"', 422, "validation_error"),
    ('"0x10"', 422, "validation_error"),
    ('"\\uff15"', 422, "validation_error"),  # a full-width digit 5
    ("true", 422, "validation_error"),
    ("null", 422, "validation_error"),
    ('{"$gt": 0}', 422, "validation_error"),
]
"""(the amount as it appears in the JSON body, status, code)"""


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("operation", ["deposits", "withdrawals"])
def test_numbers_that_are_not_an_amount_are_refused(
    local: LocalRunner, account: str, operation: str
) -> None:
    for amount, status, code in NOT_AMOUNTS:
        body = f'{{"amount": {amount}}}'.encode()
        answer = local.client.request("POST", f"/accounts/{account}/{operation}", body)
        assert (answer.status, answer.code) == (status, code), amount[:40]
        assert answer.is_problem


def test_the_largest_amount_is_exact_end_to_end(local: LocalRunner) -> None:
    opened = local.open_account("Rich")
    answer = local.client.request("POST", deposit_path(opened), b'{"amount": 999999999999.99}')
    assert answer.status == 201, answer.raw
    local.settle()
    assert local.client.request("GET", f"/accounts/{opened}").body["balance"] == "999999999999.99"


# ---------------------------------------------------------------------------- malformed ids
MALFORMED_IDS = {
    "traversal": "..%2F..%2Fetc%2Fpasswd",
    "dot-dot": "..",
    "encoded-slash": UNKNOWN_ID[:8] + "%2F" + UNKNOWN_ID[9:],
    "too-long": "a" * 5000,
    "uuid-with-suffix": UNKNOWN_ID + "0",
    "upper-case-unknown": UNKNOWN_ID.upper(),
    "braces": "{" + UNKNOWN_ID + "}",
    "unicode-digits": "\uff10" * 8 + UNKNOWN_ID[8:],
    "nul": "%00",
    "invalid-utf8": "%FF%FE",
    "sql": quote(SQL, safe=""),
    "json": quote('{"$ne": null}', safe=""),
}


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("POST", "/accounts/{}/deposits", {"amount": "1.00"}),
        ("POST", "/accounts/{}/withdrawals", {"amount": "1.00"}),
        ("DELETE", "/accounts/{}", None),
        ("GET", "/accounts/{}", None),
        ("GET", "/accounts/{}/transactions", None),
    ],
    ids=["deposit", "withdraw", "close", "get", "transactions"],
)
def test_a_malformed_account_id_is_404_account_not_found(
    local: LocalRunner, method: str, template: str, body: Any
) -> None:
    for name, segment in MALFORMED_IDS.items():
        answer = local.client.request(method, template.format(quote(segment, safe="%")), body)
        assert (answer.status, answer.code) == (404, "account_not_found"), name
        assert answer.is_problem


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/accounts//deposits"),
        ("DELETE", "/accounts/"),
        ("GET", "/accounts//transactions"),
        ("POST", "/accounts/../accounts"),
        ("GET", "/accounts/a/b/c"),
    ],
)
def test_an_empty_or_extra_path_segment_is_404_not_found(
    local: LocalRunner, method: str, path: str
) -> None:
    # No account is named, so the closest code is the unknown route's: not_found (404).
    refused(
        local.client.request(method, path, {"amount": "1.00"} if method == "POST" else None),
        404,
        "not_found",
    )


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    "path",
    [b"/accounts/\xff\xfe/deposits", b"/accounts/\x00/deposits", b"/accounts/\x1b/deposits"],
    ids=["raw-invalid-utf8", "raw-nul", "raw-escape"],
)
def test_raw_bytes_in_the_path_are_404_account_not_found(local: LocalRunner, path: bytes) -> None:
    answer = local.send_raw(raw_request(b"POST", path, b'{"amount": "1.00"}'))
    refused(answer, 404, "account_not_found")


@pytest.mark.usefixtures("nothing_written")
def test_whitespace_in_the_path_is_a_400_from_the_http_parser(local: LocalRunner) -> None:
    # The request line no longer has three parts; the server refuses it before any routing.
    answer = local.send_raw(raw_request(b"POST", b"/accounts/a\tb c/deposits", b"{}"))
    assert answer.status == 400


@pytest.mark.usefixtures("nothing_written")
def test_a_request_line_longer_than_the_server_reads_is_414(local: LocalRunner) -> None:
    answer = local.send_raw(raw_request(b"GET", b"/accounts/" + b"a" * 70_000))
    assert answer.status == 414


# ---------------------------------------------------------------------------- query parameters
INVALID_LIST_QUERIES = [
    "limit=0",
    "limit=101",
    "limit=-1",
    "limit=1e400",
    "limit=NaN",
    "limit=" + HUGE_INTEGER,
    "limit=1;DROP%20TABLE%20accounts",
    "limit=",
    "status=" + quote("open' OR '1'='1"),
    "status=OPEN",
    "owner=",
    "owner=" + "x" * 201,
    "owner=%00",
    "cursor=" + quote(SQL),
    "cursor=" + "A" * 513,
    "cursor=%FF",
    "cursor=eyJ2IjoxfQ.AAAA",
]


@pytest.mark.usefixtures("nothing_written")
def test_invalid_list_parameters_are_422_validation_error(local: LocalRunner) -> None:
    for query in INVALID_LIST_QUERIES:
        answer = local.client.request("GET", f"/accounts?{query}")
        assert (answer.status, answer.code) == (422, "validation_error"), query[:40]
        assert answer.is_problem


@pytest.mark.usefixtures("nothing_written")
def test_invalid_transaction_list_parameters_are_422_validation_error(
    local: LocalRunner, account: str
) -> None:
    for query in ("limit=0", "limit=abc", "cursor=" + quote(SQL), "cursor=1", "cursor=%FF"):
        answer = local.client.request("GET", f"/accounts/{account}/transactions?{query}")
        assert (answer.status, answer.code) == (422, "validation_error"), query


def test_a_cursor_of_one_filter_cannot_page_another(local: LocalRunner) -> None:
    for owner in ("Cursor", "Cursor"):
        local.open_account(owner)
    local.settle()
    first = local.client.request("GET", "/accounts?owner=Cursor&limit=1").body
    assert first["next_cursor"] is not None
    other = f"/accounts?owner=Target&limit=1&cursor={first['next_cursor']}"
    refused(local.client.request("GET", other), 422, "validation_error")
    tampered = first["next_cursor"][:-2] + ("AA" if first["next_cursor"][-2:] != "AA" else "BB")
    refused(
        local.client.request("GET", f"/accounts?owner=Cursor&cursor={tampered}"),
        422,
        "validation_error",
    )


@pytest.mark.usefixtures("nothing_written")
def test_sql_in_the_owner_filter_is_only_text(local: LocalRunner) -> None:
    for text in ("' OR '1'='1", "%", "_", "*", "Target' --", "\\"):
        answer = local.client.request("GET", f"/accounts?owner={quote(text, safe='')}")
        assert answer.status == 200, text
        assert answer.body["items"] == [], text  # no owner is named like that


# ---------------------------------------------------------------------------- headers
MALFORMED_COMMAND_HEADERS = {
    "empty-key": (b"Idempotency-Key", b""),
    "key-256": (b"Idempotency-Key", b"k" * 256),
    "key-nul": (b"Idempotency-Key", b"a\x00b"),
    "key-latin1": (b"Idempotency-Key", b"caf\xe9"),
    "key-utf8": (b"Idempotency-Key", b"\xe2\x82\xac"),
    "key-obs-fold": (b"Idempotency-Key", b"a\r\n b"),  # the line break stays in the value
    "key-tab": (b"Idempotency-Key", b"a\tb"),
    "correlation-escape": (b"X-Correlation-Id", b"x\x1b[2J"),
    "correlation-256": (b"X-Correlation-Id", b"c" * 256),
    "if-match-unquoted": (b"If-Match", b"3"),
    "if-match-unterminated": (b"If-Match", b'"3'),
    "if-match-sql": (b"If-Match", SQL.encode()),
}


@pytest.mark.usefixtures("nothing_written")
def test_malformed_command_headers_are_422_validation_error(
    local: LocalRunner, account: str
) -> None:
    path = deposit_path(account).encode()
    for case, (name, value) in MALFORMED_COMMAND_HEADERS.items():
        headers = ((name, value),)
        answer = local.send_raw(raw_request(b"POST", path, b'{"amount": "1.00"}', headers))
        assert (answer.status, answer.code) == (422, "validation_error"), case
        assert name.decode() in answer.body["detail"], case


@pytest.mark.usefixtures("nothing_written")
def test_a_bare_cr_cannot_smuggle_a_second_header(local: LocalRunner, account: str) -> None:
    # Parsed leniently this is "Idempotency-Key: a" plus "If-Match: *"; the gateway refuses it.
    headers = ((b"Idempotency-Key", b"a\rIf-Match: *"),)
    answer = local.send_raw(raw_request(b"POST", deposit_path(account).encode(), b"{}", headers))
    assert answer.status == 400
    assert answer.body == {"message": "Bad Request"}


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (((b"Content-Length", b"abc"),), 400),
        (((b"Content-Length", b"-1"),), 400),
        (((b"Content-Length", b"2"), (b"Content-Length", b"18")), 400),
        (((b"Transfer-Encoding", b"chunked"),), 411),
    ],
    ids=["length-not-a-number", "length-negative", "length-conflicting", "chunked"],
)
def test_requests_the_gateway_cannot_frame_are_refused(
    local: LocalRunner, account: str, headers: tuple[tuple[bytes, bytes], ...], status: int
) -> None:
    request = raw_request(
        b"POST",
        deposit_path(account).encode(),
        b'{"amount": "1.00"}',
        headers,
        content_length=False,
    )
    assert local.send_raw(request).status == status


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    "headers",
    [
        ((b"X-Padding", b"p" * 70_000),),
        tuple((b"X-Header-%d" % i, b"v") for i in range(101)),
    ],
    ids=["one-70KB-header", "101-headers"],
)
def test_oversized_headers_are_431(
    local: LocalRunner, account: str, headers: tuple[tuple[bytes, bytes], ...]
) -> None:
    path = deposit_path(account).encode()
    answer = local.send_raw(raw_request(b"POST", path, b'{"amount": "1.00"}', headers))
    assert answer.status == 431


@pytest.mark.usefixtures("nothing_written")
def test_repeated_if_match_headers_are_one_list(local: LocalRunner, account: str) -> None:
    # Joined with a comma as API Gateway joins repeated headers: neither tag is the version.
    headers = ((b"If-Match", b'"7"'), (b"If-Match", b'"8"'))
    answer = local.send_raw(
        raw_request(b"POST", deposit_path(account).encode(), b'{"amount": "1.00"}', headers)
    )
    refused(answer, 412, "version_mismatch")


def test_repeated_idempotency_keys_are_one_key_and_replay(local: LocalRunner) -> None:
    """Two Idempotency-Key fields arrive joined ("k1,k2", as API Gateway joins them): one key,
    recorded once, its retry replayed; neither "k1" nor "k2" alone is taken by it."""
    target = local.open_account("Keys")
    headers = ((b"Idempotency-Key", b"dup-k1"), (b"Idempotency-Key", b"dup-k2"))
    request = raw_request(b"POST", deposit_path(target).encode(), b'{"amount": "1.00"}', headers)
    before = local.events_in_store()
    first = local.send_raw(request)
    again = local.send_raw(request)
    assert (first.status, again.status) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert json.loads(again.raw) == json.loads(first.raw)
    assert local.events_in_store() == before + 1
    single = local.client.request(
        "POST", deposit_path(target), {"amount": "1.00"}, {"Idempotency-Key": "dup-k1"}
    )
    assert single.status == 201
    assert "idempotent-replayed" not in single.headers


def test_sql_text_in_a_reference_and_a_key_is_stored_as_text(local: LocalRunner) -> None:
    target = local.open_account("Refs")
    headers = {"Idempotency-Key": SQL}
    answer = local.client.request(
        "POST", deposit_path(target), {"amount": "2.00", "reference": SQL}, headers
    )
    assert answer.status == 201, answer.raw
    replay = local.client.request(
        "POST", deposit_path(target), {"amount": "2.00", "reference": SQL}, headers
    )
    assert replay.headers["idempotent-replayed"] == "true"

    def recorded() -> bool:
        page = local.client.request("GET", f"/accounts/{target}/transactions").body
        items = page.get("items", []) if isinstance(page, dict) else []
        return [item["reference"] for item in items] == [SQL]

    wait_for(recorded, "the deposit is in the transactions read model", RECORDED_TIMEOUT_SECONDS)
    assert local.client.request("GET", f"/accounts/{target}").body["balance"] == "2.00"


@pytest.mark.usefixtures("nothing_written")
def test_methods_no_route_takes_are_404_from_the_gateway(local: LocalRunner, account: str) -> None:
    # API Gateway answers a method no route has with 404 {"message": "Not Found"}, not 405.
    for method in ("PUT", "PATCH", "OPTIONS", "TRACE", "HEAD", "FOO"):
        for path in ("/accounts", f"/accounts/{account}", deposit_path(account)):
            answer = local.client.request(method, path, {"amount": "1.00"})
            assert answer.status == 404, f"{method} {path}"
