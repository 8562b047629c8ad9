"""The router: one endpoint per operation, each turning a request into a command for the
executor, and every answer (or refusal) into a response with logs and metrics."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from command_api.adapters.event_store import IdempotencyKey
from command_api.clock import IdGenerator
from command_api.domain import CloseAccount, Command, Deposit, OpenAccount, Withdraw
from command_api.executor import (
    ACCEPTED,
    REPLAYED,
    CommandContext,
    CommandExecutor,
    Execution,
    Idempotency,
)
from command_api.http import callers, requests
from command_api.http.models import MoneyRequest, OpenAccountRequest
from command_api.http.problems import ProblemCode, ProblemError, problem_reply
from command_api.http.router import Router
from command_api.http.routes import (
    ACCOUNT_ID_PARAM,
    CLOSE_ACCOUNT,
    DEPOSIT,
    OPEN_ACCOUNT,
    WITHDRAW,
    Operation,
)
from command_api.reply import Reply

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.metrics import Metrics

UNKNOWN_COMMAND: Final = "Unknown"
# Paths that name an account on a route we serve, for the 404 of an id the router cannot match.
_ACCOUNT_PATH: Final = re.compile(r"/accounts/[^/]+(/deposits|/withdrawals)?/?")

CommandFactory = Callable[[str | None, Any], Command]
Endpoint = Callable[..., Reply]


class CommandApi:
    """Builds the router; ``app`` is what the Lambda handler resolves events with."""

    def __init__(
        self, executor: CommandExecutor, *, new_id: IdGenerator, logger: Logger, metrics: Metrics
    ) -> None:
        self._executor = executor
        self._new_id = new_id
        self._logger = logger
        self._metrics = metrics
        self.app = Router(not_found=self._not_found, unexpected=self._unexpected)
        factories: dict[Operation, CommandFactory] = {
            OPEN_ACCOUNT: self._open_account,
            DEPOSIT: self._deposit,
            WITHDRAW: self._withdraw,
            CLOSE_ACCOUNT: self._close_account,
        }
        for operation, factory in factories.items():
            self.app.add(operation.method, operation.path, self._endpoint(operation, factory))

    # ------------------------------------------------------------------ endpoints
    def _endpoint(self, operation: Operation, factory: CommandFactory) -> Endpoint:
        def endpoint(**path: str) -> Reply:
            self.app.context["command"] = operation.command
            self._logger.append_keys(command=operation.command)
            try:
                execution = self._run(operation, factory, path.get(ACCOUNT_ID_PARAM))
            except ProblemError as refusal:
                reply = problem_reply(refusal.code, refusal.detail)
                execution = Execution(reply, refusal.code.value)
            return self._respond(execution)

        endpoint.__name__ = operation.operation_id
        return endpoint

    def _run(
        self, operation: Operation, factory: CommandFactory, raw_account_id: str | None
    ) -> Execution:
        event = self.app.request.event
        headers = _headers(event)
        request_id = self.app.request.request_id or str(self._new_id())
        self._correlate(request_id)
        requests.refuse_oversized(event)  # first: nothing of an oversized request is parsed
        correlation = requests.correlation_id(headers) or request_id
        self._correlate(correlation)
        account = None if raw_account_id is None else requests.account_id(raw_account_id)
        body = None
        if operation.body is not None:
            document = requests.json_object(requests.body_bytes(event))
            body = requests.validate(operation.body, document)
        key = requests.idempotency_key(headers)
        if_match = requests.if_match(headers) if operation.takes_account_id else None
        command = factory(account, body)
        self._logger.append_keys(account_id=command.account_id)
        idempotency = None
        if key is not None:
            fingerprint = requests.request_hash(operation, account, body)
            scoped = IdempotencyKey(callers.caller(event).digest, requests.key_digest(key))
            idempotency = Idempotency(scoped, fingerprint)
        context = CommandContext(
            correlation_id=correlation,
            # The HTTP request is the message that caused the events: API Gateway's request id
            # joins them to the access log line of the call that wrote them.
            causation_id=request_id,
            idempotency=idempotency,
            if_match=if_match,
        )
        return self._executor.execute(command, context)

    def _correlate(self, correlation_id: str) -> None:
        self.app.context["correlation_id"] = correlation_id
        self._logger.set_correlation_id(correlation_id)

    # The router matched the path, so the operations that take an account id always get one.
    def _open_account(self, _: str | None, body: OpenAccountRequest) -> Command:
        return OpenAccount(str(self._new_id()), body.owner, body.currency)

    @staticmethod
    def _deposit(account: str | None, body: MoneyRequest) -> Command:
        return Deposit(account or "", body.amount, body.reference)

    @staticmethod
    def _withdraw(account: str | None, body: MoneyRequest) -> Command:
        return Withdraw(account or "", body.amount, body.reference)

    @staticmethod
    def _close_account(account: str | None, _: None) -> Command:
        return CloseAccount(account or "")

    # ------------------------------------------------------------------ answers
    def _respond(self, execution: Execution) -> Reply:
        reply = execution.reply
        self._metrics.add_dimension(
            name="command", value=self.app.context.get("command", UNKNOWN_COMMAND)
        )
        if execution.outcome == ACCEPTED:
            self._metrics.add_metric(name="CommandsAccepted", unit=MetricUnit.Count, value=1)
        elif execution.outcome == REPLAYED:
            self._metrics.add_metric(name="CommandsReplayed", unit=MetricUnit.Count, value=1)
        else:
            self._metrics.add_dimension(name="code", value=execution.outcome)
            self._metrics.add_metric(name="CommandsRejected", unit=MetricUnit.Count, value=1)
        if execution.attempts > 1:
            retries = execution.attempts - 1
            self._metrics.add_metric(name="AppendRetries", unit=MetricUnit.Count, value=retries)
        self._logger.info(
            "command answered",
            extra={
                "outcome": execution.outcome,
                "status": reply.status,
                "attempts": execution.attempts,
            },
        )
        correlation = self.app.context.get("correlation_id")
        return (
            reply
            if correlation is None
            else reply.with_headers({requests.CORRELATION_ID: correlation})
        )

    def _not_found(self) -> Reply:
        request = self.app.request
        path = request.path
        named_account = _ACCOUNT_PATH.fullmatch(path)
        code = ProblemCode.ACCOUNT_NOT_FOUND if named_account else ProblemCode.NOT_FOUND
        detail = f"nothing answers {request.method} {path[:200]!r}"
        return self._respond(Execution(problem_reply(code, detail), code.value))

    def _unexpected(self, _: Exception) -> Reply:
        self._logger.exception("command failed unexpectedly")
        reply = problem_reply(ProblemCode.INTERNAL_ERROR, "the command could not be completed")
        return self._respond(Execution(reply, ProblemCode.INTERNAL_ERROR.value))


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    raw = event.get("headers") or {}
    return {str(name).lower(): str(value) for name, value in raw.items()}
