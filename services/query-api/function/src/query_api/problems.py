"""Every error answer is an RFC 9457 problem; its code, status and title are defined here once.

Codes and the type URI prefix are the command API's, so a client handles both APIs' errors
alike. Two codes are the query side's own:

- ``transactions_not_available`` (404): the account exists but the transactions read model is
  not deployed yet (its tables are missing, e.g. the query API was deployed before
  projection-transactions). Answering ``account_not_found`` would tell the client the account
  does not exist, and answering an empty history would invent data.
- ``read_model_unavailable`` (503, with ``Retry-After``): the database did not answer; nothing the
  client sent is wrong, and the same request may succeed in a moment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Final, NamedTuple

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:cqrs-platform:problem:"


class ProblemCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    ACCOUNT_NOT_FOUND = "account_not_found"
    TRANSACTIONS_NOT_AVAILABLE = "transactions_not_available"
    NOT_FOUND = "not_found"
    READ_MODEL_UNAVAILABLE = "read_model_unavailable"
    INTERNAL_ERROR = "internal_error"


class ProblemKind(NamedTuple):
    status: HTTPStatus
    title: str


PROBLEMS: Final[dict[ProblemCode, ProblemKind]] = {
    ProblemCode.VALIDATION_ERROR: ProblemKind(
        HTTPStatus.UNPROCESSABLE_ENTITY, "A parameter is malformed or out of range"
    ),
    ProblemCode.ACCOUNT_NOT_FOUND: ProblemKind(HTTPStatus.NOT_FOUND, "Unknown account"),
    ProblemCode.TRANSACTIONS_NOT_AVAILABLE: ProblemKind(
        HTTPStatus.NOT_FOUND, "Transaction history is not available yet"
    ),
    ProblemCode.NOT_FOUND: ProblemKind(HTTPStatus.NOT_FOUND, "No such route"),
    ProblemCode.READ_MODEL_UNAVAILABLE: ProblemKind(
        HTTPStatus.SERVICE_UNAVAILABLE, "The read model is unavailable; try again"
    ),
    ProblemCode.INTERNAL_ERROR: ProblemKind(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error"),
}

RETRY_AFTER_SECONDS: Final = 1


class Problem(BaseModel):
    """``application/problem+json`` (RFC 9457), with the contract's machine-readable ``code``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(examples=[f"{PROBLEM_TYPE_PREFIX}account_not_found"])
    title: str
    status: int
    detail: str
    code: ProblemCode


class ProblemError(Exception):
    """Raised anywhere while handling a request to answer with a problem."""

    def __init__(self, code: ProblemCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def problem(code: ProblemCode, detail: str) -> Problem:
    kind = PROBLEMS[code]
    return Problem(
        type=f"{PROBLEM_TYPE_PREFIX}{code.value}",
        title=kind.title,
        status=kind.status.value,
        detail=detail,
        code=code,
    )


def problem_response(
    code: ProblemCode, detail: str, headers: Mapping[str, str] | None = None
) -> Response[str]:
    document = problem(code, detail)
    extra = dict(headers or {})
    if code is ProblemCode.READ_MODEL_UNAVAILABLE:
        extra.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    # Serialised here: powertools only encodes bodies whose type is application/json.
    body = json.dumps(document.model_dump(mode="json"), separators=(",", ":"))
    return Response(
        status_code=document.status, content_type=PROBLEM_JSON, body=body, headers=extra
    )
