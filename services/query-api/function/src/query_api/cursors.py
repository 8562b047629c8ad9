"""Opaque, signed pagination cursors.

A cursor is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))`` (no padding), where
the payload is compact JSON naming the list it belongs to, a digest of the filters it was issued
for and the last key of the page it ends::

    {"after": "<id>", "filters": "<base64url sha256 of the filters>", "list": "accounts", "v": 1}

The filters travel as a digest, not in clear: a cursor stays short whatever the owner's name
(200 emoji would not fit a URL-sized cursor), and owner names stay out of URLs and access logs.

The signature is what makes "a cursor we did not issue" detectable (the contract answers 422):
a client cannot forge a position, edit the filters, or carry a cursor over to another list or
other filters. The key comes from settings; rotating it invalidates the cursors in flight,
which costs clients a restart from the first page and nothing else. Cursors do not expire:
keyset positions stay meaningful however old they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Final

CURSOR_VERSION: Final = 1
MAX_CURSOR_LENGTH: Final = 512
"""Longer than any cursor we issue (about 190 characters with a UUID position), and a bound on
the work an arbitrary string can cause before it is rejected."""

_KEY_CONTEXT: Final = b"query-api/pagination-cursor/v1"

Filters = Mapping[str, str | None]


class InvalidCursor(Exception):
    """The cursor was not issued by us for this list and these filters; the message says which
    rule it broke, safe to show to the client (it never echoes the cursor itself)."""


class CursorSigner:
    def __init__(self, key: bytes) -> None:
        if not key:
            msg = "a cursor signing key must not be empty"
            raise ValueError(msg)
        # A key of its own for cursors, so the configured secret is never used raw and could
        # sign something else without a signature from one being valid for the other.
        self._key = hmac.new(key, _KEY_CONTEXT, hashlib.sha256).digest()

    def issue(self, list_name: str, filters: Filters, after: str) -> str:
        payload = json.dumps(
            {"v": CURSOR_VERSION, "list": list_name, "filters": _digest(filters), "after": after},
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=True,
        ).encode("ascii")
        cursor = f"{_encode(payload)}.{_encode(self._sign(payload))}"
        if len(cursor) > MAX_CURSOR_LENGTH:
            # Positions are ids; one this long is a bug here, not something to hand a client.
            msg = f"a position of {len(after)} characters does not fit a cursor"
            raise ValueError(msg)
        return cursor

    def position(self, cursor: str, list_name: str, filters: Filters) -> str:
        """The last key the cursor's page ended with, if ``cursor`` is ours for this list and
        these filters; else :class:`InvalidCursor`."""
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise InvalidCursor("not a cursor issued by this API")
        encoded_payload, dot, encoded_signature = cursor.partition(".")
        try:
            payload = _decode(encoded_payload)
            signature = _decode(encoded_signature)
        except ValueError as error:
            raise InvalidCursor("not a cursor issued by this API") from error
        if not dot or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor("not a cursor issued by this API")
        # Signed by us, so well formed unless the format changed: checked all the same, so a
        # leaked key or an old format answers 422 rather than failing later.
        try:
            document = json.loads(payload)
        except ValueError as error:
            raise InvalidCursor("not a cursor issued by this API") from error
        if not isinstance(document, dict) or document.get("v") != CURSOR_VERSION:
            raise InvalidCursor("a cursor of an older format; start again from the first page")
        if document.get("list") != list_name:
            raise InvalidCursor("a cursor issued for another list")
        if document.get("filters") != _digest(filters):
            raise InvalidCursor("a cursor issued for other filters; send the same filters again")
        after = document.get("after")
        if not isinstance(after, str):
            raise InvalidCursor("not a cursor issued by this API")
        return after

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _digest(filters: Filters) -> str:
    # ensure_ascii: any str, lone surrogates included, has exactly one canonical spelling.
    canonical = json.dumps(dict(filters), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _encode(hashlib.sha256(canonical.encode("ascii")).digest())


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text:
        msg = "empty"
        raise ValueError(msg)
    padded = text + "=" * (-len(text) % 4)
    try:
        # validate=True refuses characters outside the alphabet instead of skipping them.
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error as error:
        raise ValueError(str(error)) from error
