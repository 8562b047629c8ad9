"""Every error answer is an RFC 9457 problem; its code, status and title are defined here once,
and so is the mapping from domain errors to codes."""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus
from typing import Final, NamedTuple

from pydantic import BaseModel, ConfigDict

from command_api.domain import errors
from command_api.reply import Reply

PROBLEM_JSON: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:cqrs-platform:problem:"


class ProblemCode(StrEnum):
    INVALID_JSON = "invalid_json"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    VALIDATION_ERROR = "validation_error"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    ACCOUNT_NOT_FOUND = "account_not_found"
    NOT_FOUND = "not_found"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_NOT_EMPTY = "account_not_empty"
    CONCURRENCY_CONFLICT = "concurrency_conflict"
    VERSION_MISMATCH = "version_mismatch"
    INTERNAL_ERROR = "internal_error"


class ProblemKind(NamedTuple):
    status: HTTPStatus
    title: str


PROBLEMS: Final[dict[ProblemCode, ProblemKind]] = {
    ProblemCode.INVALID_JSON: ProblemKind(HTTPStatus.BAD_REQUEST, "The body is not JSON"),
    ProblemCode.PAYLOAD_TOO_LARGE: ProblemKind(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The body exceeds 16 KiB"
    ),
    ProblemCode.VALIDATION_ERROR: ProblemKind(
        HTTPStatus.UNPROCESSABLE_ENTITY, "A field is missing, of the wrong type, or out of range"
    ),
    ProblemCode.IDEMPOTENCY_KEY_REUSED: ProblemKind(
        HTTPStatus.UNPROCESSABLE_ENTITY, "The Idempotency-Key was used for a different request"
    ),
    ProblemCode.ACCOUNT_NOT_FOUND: ProblemKind(HTTPStatus.NOT_FOUND, "Unknown account"),
    ProblemCode.NOT_FOUND: ProblemKind(HTTPStatus.NOT_FOUND, "No such route"),
    ProblemCode.INSUFFICIENT_FUNDS: ProblemKind(HTTPStatus.CONFLICT, "Insufficient funds"),
    ProblemCode.ACCOUNT_CLOSED: ProblemKind(HTTPStatus.CONFLICT, "The account is closed"),
    ProblemCode.ACCOUNT_NOT_EMPTY: ProblemKind(HTTPStatus.CONFLICT, "The account is not empty"),
    ProblemCode.CONCURRENCY_CONFLICT: ProblemKind(
        HTTPStatus.CONFLICT, "The account changed concurrently; try again"
    ),
    ProblemCode.VERSION_MISMATCH: ProblemKind(
        HTTPStatus.PRECONDITION_FAILED, "The account's version differs from If-Match"
    ),
    ProblemCode.INTERNAL_ERROR: ProblemKind(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal error"),
}

DOMAIN_PROBLEMS: Final[dict[type[errors.DomainError], ProblemCode]] = {
    errors.AccountNotFound: ProblemCode.ACCOUNT_NOT_FOUND,
    errors.AccountAlreadyClosed: ProblemCode.ACCOUNT_CLOSED,
    errors.InsufficientFunds: ProblemCode.INSUFFICIENT_FUNDS,
    errors.AccountNotEmpty: ProblemCode.ACCOUNT_NOT_EMPTY,
    # Account ids are random UUIDs chosen here, so an existing stream under a new id can only
    # mean another writer raced this one to it.
    errors.AccountAlreadyExists: ProblemCode.CONCURRENCY_CONFLICT,
}

REPLAYABLE: Final = frozenset(
    {ProblemCode.INSUFFICIENT_FUNDS, ProblemCode.ACCOUNT_CLOSED, ProblemCode.ACCOUNT_NOT_EMPTY}
)
"""Refusals that are the outcome of running the command, so an Idempotency-Key keeps them like a
success. Everything else (malformed input, 404, 412, exhausted retries) ran nothing and a retry
with the same key is evaluated afresh."""


class Problem(BaseModel):
    """``application/problem+json`` (RFC 9457), with the contract's machine-readable ``code``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
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


def problem_reply(code: ProblemCode, detail: str) -> Reply:
    document = problem(code, detail)
    return Reply(document.status, document.model_dump_json(), {"Content-Type": PROBLEM_JSON})


def domain_problem_code(error: errors.DomainError) -> ProblemCode:
    return DOMAIN_PROBLEMS[type(error)]
