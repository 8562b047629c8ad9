"""From an API Gateway HTTP API (payload 2.0) request to validated values, or a ProblemError.

Nothing here trusts the client: sizes are checked before decoding, JSON numbers are read as
``Decimal`` (never float), and every failure is one of the contract's problems.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from command_api.http.preconditions import IF_MATCH, IfMatch, MalformedIfMatch, parse_if_match
from command_api.http.problems import ProblemCode, ProblemError
from command_api.http.routes import Operation

MAX_BODY_BYTES: Final = 16 * 1024
MAX_HEADER_ID_LENGTH: Final = 255

IDEMPOTENCY_KEY: Final = "Idempotency-Key"
CORRELATION_ID: Final = "X-Correlation-Id"

HEADER_ID_CHARACTERS: Final = r"[\x20-\x7e]"
"""Printable ASCII: what Idempotency-Key and X-Correlation-Id may hold (the OpenAPI document
states it as a pattern)."""
_HEADER_ID: Final = re.compile(rf"{HEADER_ID_CHARACTERS}{{1,{MAX_HEADER_ID_LENGTH}}}")
_ACCOUNT_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

ModelT = TypeVar("ModelT", bound=BaseModel)


def refuse_oversized(event: Mapping[str, Any]) -> None:
    """413 for a body over 16 KiB, judged from its length alone (nothing is decoded)."""
    raw = event.get("body")
    if not isinstance(raw, str):
        return
    if event.get("isBase64Encoded"):
        size = len(raw.rstrip("=")) * 3 // 4
    elif len(raw) > MAX_BODY_BYTES:  # each character is at least one byte
        size = len(raw)
    else:
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        detail = f"the body exceeds {MAX_BODY_BYTES} bytes (16 KiB)"
        raise ProblemError(ProblemCode.PAYLOAD_TOO_LARGE, detail)


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The request body as bytes, refusing anything over 16 KiB before decoding it."""
    refuse_oversized(event)
    raw = event.get("body")
    if raw is None:
        return b""
    if not isinstance(raw, str):
        raise ProblemError(ProblemCode.INVALID_JSON, "the body is not text")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ProblemError(ProblemCode.INVALID_JSON, "the body is not valid base64") from None
    try:
        return raw.encode()
    except UnicodeEncodeError:
        raise ProblemError(ProblemCode.INVALID_JSON, "the body is not UTF-8") from None


def json_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object exactly: numbers as Decimal, no NaN/Infinity, no duplicate keys."""
    try:
        text = data.decode("utf-8")
        document = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except UnicodeDecodeError:
        raise ProblemError(ProblemCode.INVALID_JSON, "the body is not UTF-8") from None
    except RecursionError:
        raise ProblemError(ProblemCode.INVALID_JSON, "the body is nested too deeply") from None
    except ValueError as error:
        raise ProblemError(ProblemCode.INVALID_JSON, f"the body is not JSON: {error}") from None
    if not _valid_unicode(document):
        # "\ud800" escapes decode to lone surrogates, which no UTF-8 store can keep.
        detail = "the body escapes a lone UTF-16 surrogate"
        raise ProblemError(ProblemCode.INVALID_JSON, detail)
    if not isinstance(document, dict):
        raise ProblemError(ProblemCode.VALIDATION_ERROR, "body: must be a JSON object")
    return document


def validate(model: type[ModelT], document: Mapping[str, Any]) -> ModelT:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise ProblemError(ProblemCode.VALIDATION_ERROR, describe(error)) from None


def describe(error: ValidationError) -> str:
    """``field: why`` for each problem, so the client learns which field to fix."""
    parts = []
    for problem in error.errors(include_url=False, include_input=False):
        field = ".".join(str(step) for step in problem["loc"]) or "body"
        cause = problem.get("ctx", {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else problem["msg"]
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def account_id(text: str) -> str:
    """A canonical (lower-case) UUID; anything else cannot name an account, hence 404."""
    if not _ACCOUNT_ID.fullmatch(text):
        raise ProblemError(ProblemCode.ACCOUNT_NOT_FOUND, f"no account has the id {text[:64]!r}")
    return text


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get(IDEMPOTENCY_KEY.lower())
    if key is None:
        return None
    return _header_id(IDEMPOTENCY_KEY, key)


def correlation_id(headers: Mapping[str, str]) -> str | None:
    value = headers.get(CORRELATION_ID.lower())
    if not value:
        return None
    return _header_id(CORRELATION_ID, value)


def _header_id(name: str, value: str) -> str:
    # Printable ASCII, as HTTP field values are meant to be: the value is stored and logged.
    if not _HEADER_ID.fullmatch(value):
        detail = f"header {name}: must be 1 to {MAX_HEADER_ID_LENGTH} printable ASCII characters"
        raise ProblemError(ProblemCode.VALIDATION_ERROR, detail)
    return value


def if_match(headers: Mapping[str, str]) -> IfMatch | None:
    value = headers.get(IF_MATCH.lower())
    if value is None:
        return None
    try:
        return parse_if_match(value)
    except MalformedIfMatch as error:
        raise ProblemError(ProblemCode.VALIDATION_ERROR, f"header {IF_MATCH}: {error}") from None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def request_hash(operation: Operation, account: str | None, body: BaseModel | None) -> str:
    """What makes two requests "the same" for an Idempotency-Key: the operation, the account and
    the validated body (so ``12.5`` and ``"12.50"`` are the same amount)."""
    fingerprint = {
        "operation": operation.operation_id,
        "account_id": account,
        "body": None if body is None else body.model_dump(mode="json"),
    }
    canonical = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            msg = f"duplicate key {key!r}"
            raise ValueError(msg)
        document[key] = value
    return document


def _valid_unicode(document: Any) -> bool:
    pending = [document]  # iterative: the parser allows deeper nesting than Python's recursion
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True
