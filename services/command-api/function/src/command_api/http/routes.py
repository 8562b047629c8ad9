"""The API's operations, declared once: the router registers them, the OpenAPI document
describes them, and the Pulumi stack creates one API Gateway route for each."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from pydantic import BaseModel

from command_api.http.models import MoneyRequest, OpenAccountRequest
from command_api.http.problems import ProblemCode

ACCOUNT_ID_PARAM: Final = "account_id"

# Every command can be refused for these, whatever its route.
_ANY_COMMAND: Final = (
    ProblemCode.PAYLOAD_TOO_LARGE,
    ProblemCode.VALIDATION_ERROR,
    ProblemCode.IDEMPOTENCY_KEY_REUSED,
    ProblemCode.INTERNAL_ERROR,
)
_TO_AN_ACCOUNT: Final = (
    ProblemCode.ACCOUNT_NOT_FOUND,
    ProblemCode.ACCOUNT_CLOSED,
    ProblemCode.CONCURRENCY_CONFLICT,
    ProblemCode.VERSION_MISMATCH,
)


@dataclass(frozen=True, slots=True)
class Operation:
    command: str
    """The command's name: log key and metric dimension."""
    operation_id: str
    method: str
    path: str
    """In API Gateway's and OpenAPI's template syntax: ``/accounts/{account_id}``."""
    summary: str
    body: type[BaseModel] | None
    success: HTTPStatus
    problems: tuple[ProblemCode, ...]

    @property
    def route_key(self) -> str:
        """API Gateway HTTP API route key, e.g. ``POST /accounts``."""
        return f"{self.method} {self.path}"

    @property
    def takes_account_id(self) -> bool:
        return f"{{{ACCOUNT_ID_PARAM}}}" in self.path


OPEN_ACCOUNT: Final = Operation(
    command="OpenAccount",
    operation_id="openAccount",
    method="POST",
    path="/accounts",
    summary="Open an account",
    body=OpenAccountRequest,
    success=HTTPStatus.CREATED,
    problems=(ProblemCode.INVALID_JSON, *_ANY_COMMAND, ProblemCode.CONCURRENCY_CONFLICT),
)
DEPOSIT: Final = Operation(
    command="Deposit",
    operation_id="deposit",
    method="POST",
    path=f"/accounts/{{{ACCOUNT_ID_PARAM}}}/deposits",
    summary="Deposit money",
    body=MoneyRequest,
    success=HTTPStatus.CREATED,
    problems=(ProblemCode.INVALID_JSON, *_ANY_COMMAND, *_TO_AN_ACCOUNT),
)
WITHDRAW: Final = Operation(
    command="Withdraw",
    operation_id="withdraw",
    method="POST",
    path=f"/accounts/{{{ACCOUNT_ID_PARAM}}}/withdrawals",
    summary="Withdraw money (never below a zero balance)",
    body=MoneyRequest,
    success=HTTPStatus.CREATED,
    problems=(
        ProblemCode.INVALID_JSON,
        *_ANY_COMMAND,
        *_TO_AN_ACCOUNT,
        ProblemCode.INSUFFICIENT_FUNDS,
    ),
)
CLOSE_ACCOUNT: Final = Operation(
    command="CloseAccount",
    operation_id="closeAccount",
    method="DELETE",
    path=f"/accounts/{{{ACCOUNT_ID_PARAM}}}",
    summary="Close an account (only at a zero balance)",
    body=None,
    success=HTTPStatus.OK,
    problems=(*_ANY_COMMAND, *_TO_AN_ACCOUNT, ProblemCode.ACCOUNT_NOT_EMPTY),
)

OPERATIONS: Final = (OPEN_ACCOUNT, DEPOSIT, WITHDRAW, CLOSE_ACCOUNT)
