"""Runs one command against the event store: load, check If-Match, decide, append; retries on a
concurrency conflict; keeps the first answer of an ``Idempotency-Key`` with the events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from account_events import AccountEvent
from command_api.adapters.event_store import (
    ConcurrencyConflict,
    EventStore,
    IdempotencyKey,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)
from command_api.clock import Clock, IdGenerator, epoch_seconds
from command_api.domain import Account, Command, DomainError, OpenAccount, decide, fold
from command_api.http.preconditions import IfMatch
from command_api.http.problems import (
    REPLAYABLE,
    ProblemCode,
    domain_problem_code,
    problem_reply,
)
from command_api.http.replies import accepted_reply
from command_api.reply import Reply
from platform_events import EventEnvelope, EventRegistry, default_registry

IDEMPOTENT_REPLAYED: Final = "Idempotent-Replayed"
ACCEPTED: Final = "accepted"
REPLAYED: Final = "replayed"


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An ``Idempotency-Key`` in its caller's scope and the fingerprint of the request it came
    with."""

    key: IdempotencyKey
    request_hash: str


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Where a command came from, recorded on its events and used to answer it."""

    correlation_id: str
    causation_id: str
    idempotency: Idempotency | None = None
    if_match: IfMatch | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """The answer, plus what happened, for logs and metrics."""

    reply: Reply
    outcome: str
    """``accepted``, ``replayed``, or the problem code."""
    attempts: int = 0


class CommandExecutor:
    def __init__(
        self,
        store: EventStore,
        *,
        clock: Clock,
        new_id: IdGenerator,
        max_attempts: int,
        idempotency_ttl: timedelta,
        registry: EventRegistry = default_registry,
    ) -> None:
        if max_attempts < 1:
            msg = "max_attempts must be at least 1"
            raise ValueError(msg)
        self._store = store
        self._clock = clock
        self._new_id = new_id
        self._max_attempts = max_attempts
        self._ttl = idempotency_ttl
        self._registry = registry

    def execute(self, command: Command, context: CommandContext) -> Execution:
        if context.idempotency is not None:
            earlier = self._store.idempotency_record(context.idempotency.key)
            if earlier is not None and earlier.expires_at > epoch_seconds(self._clock()):
                return self._replay(earlier, context.idempotency)
        for attempt in range(1, self._max_attempts + 1):
            # A new account's id was drawn a moment ago: nothing to read until a conflict says
            # otherwise.
            fresh = isinstance(command, OpenAccount) and attempt == 1
            state = Account(command.account_id) if fresh else self._load(command.account_id)
            if state.exists and context.if_match and not context.if_match.matches(state.version):
                detail = f"the account is at version {state.version}"
                return self._problem(ProblemCode.VERSION_MISMATCH, detail, attempt)
            try:
                payloads = decide(state, command)
            except DomainError as error:
                return self._refuse(error, context, attempt)
            events = self._envelopes(state, payloads, context)
            reply = accepted_reply(command, events)
            try:
                self._store.append(events, self._record(context.idempotency, reply))
            except ConcurrencyConflict:
                continue
            except IdempotencyKeyTaken:
                winner = self._winner(context.idempotency)
                if winner is None:
                    continue
                return winner
            return Execution(reply, ACCEPTED, attempt)
        detail = f"the account changed during each of {self._max_attempts} attempts"
        return self._problem(ProblemCode.CONCURRENCY_CONFLICT, detail, self._max_attempts)

    # ------------------------------------------------------------------ steps
    def _load(self, account_id: str) -> Account:
        payloads: list[AccountEvent] = []
        for envelope in self._store.load(account_id):
            payload = self._registry.decode(envelope)
            if not isinstance(payload, AccountEvent):
                msg = f"stream {account_id} holds a {envelope.event_type}, not an account event"
                raise TypeError(msg)
            payloads.append(payload)
        return fold(account_id, payloads)

    def _envelopes(
        self, state: Account, payloads: Sequence[AccountEvent], context: CommandContext
    ) -> list[EventEnvelope]:
        occurred_at = self._clock()
        return [
            self._registry.envelope(
                payload,
                stream_id=state.account_id,
                version=state.version + offset,
                occurred_at=occurred_at,
                correlation_id=context.correlation_id,
                causation_id=context.causation_id,
                event_id=self._new_id(),
            )
            for offset, payload in enumerate(payloads, start=1)
        ]

    def _record(self, idempotency: Idempotency | None, reply: Reply) -> IdempotencyRecord | None:
        if idempotency is None:
            return None
        expires_at = epoch_seconds(self._clock() + self._ttl)
        return IdempotencyRecord(idempotency.key, idempotency.request_hash, reply, expires_at)

    def _refuse(self, error: DomainError, context: CommandContext, attempt: int) -> Execution:
        code = domain_problem_code(error)
        refusal = self._problem(code, error.message, attempt)
        record = self._record(context.idempotency, refusal.reply)
        if record is None or code not in REPLAYABLE:
            return refusal
        try:
            self._store.record_idempotency(record)
        except IdempotencyKeyTaken:
            return self._winner(context.idempotency) or refusal
        return refusal

    def _winner(self, idempotency: Idempotency | None) -> Execution | None:
        """The answer of the request that recorded this key first (None if it is gone)."""
        if idempotency is None:
            return None
        record = self._store.idempotency_record(idempotency.key)
        return None if record is None else self._replay(record, idempotency)

    @staticmethod
    def _replay(record: IdempotencyRecord, idempotency: Idempotency) -> Execution:
        if record.request_hash != idempotency.request_hash:
            detail = "this Idempotency-Key was first used with another method, path or body"
            reply = problem_reply(ProblemCode.IDEMPOTENCY_KEY_REUSED, detail)
            return Execution(reply, ProblemCode.IDEMPOTENCY_KEY_REUSED.value)
        return Execution(record.reply.with_headers({IDEMPOTENT_REPLAYED: "true"}), REPLAYED)

    @staticmethod
    def _problem(code: ProblemCode, detail: str, attempts: int) -> Execution:
        return Execution(problem_reply(code, detail), code.value, attempts)
