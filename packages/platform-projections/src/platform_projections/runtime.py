"""The projector: one SQS batch -> ordered, exactly-once folds, in one database transaction.

For each batch:

1. decode every record; group by FIFO message group, keeping delivery order within a group;
2. lock the position row of every stream the batch touches (one statement);
3. per stream, drop what is at or below its position (duplicates, redeliveries), and read any
   missing versions between the position and the highest delivered version from the event store
   (gap repair), so the events to fold are exactly ``position + 1 .. target``;
4. load the state of all those streams (one query), fold their events in memory;
5. write every new state and every new position (one set-based statement each) and commit.

A failure stays inside its FIFO group: an undecodable message, an event an apply function
rejects, or a gap the event store cannot fill stops that group at the last good version; the
group's later messages are reported as failed (FIFO order holds on redelivery) and every other
group commits. If the set-based write itself fails, the batch is rolled back and written again
one group per SAVEPOINT, so one group's bad row cannot cost the others their work.

A message is reported successful only when its version is at or below its stream's committed
position, so deleting it from the queue can never lose an event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from platform_events import EventEnvelope
from platform_projections.messages import Message, by_group, read_messages
from platform_projections.positions import lock_positions, runtime_tables, save_positions
from platform_projections.projection import Projection
from platform_projections.store import EventStoreReader

S = TypeVar("S")

logger: Final = logging.getLogger("platform_projections")

# Errors a row of one group can cause; anything else (a lost connection, a missing grant) is
# the whole batch's problem and fails it as a whole.
_GROUP_DATA_ERRORS: Final = (IntegrityError, DataError)


class GapNotRepaired(Exception):
    """The event store does not (yet) hold every version below one that was delivered."""


class FailureKind(StrEnum):
    UNDECODABLE = "undecodable"
    """The message is not an event envelope (poison: it reaches the DLQ after maxReceiveCount)."""
    APPLY = "apply"
    """An apply function raised on the event (poison until the projection's code is fixed)."""
    WRITE = "write"
    """The database refused the group's rows (poison until the projection's code is fixed)."""
    GAP = "gap"
    """The event store could not fill a gap this time (transient: the group is retried)."""


POISON_KINDS: Final = frozenset({FailureKind.UNDECODABLE, FailureKind.APPLY, FailureKind.WRITE})


@dataclass(frozen=True, slots=True)
class GroupFailure:
    """Why a group stopped: logged with the event id when there is one, and counted."""

    kind: FailureKind
    group_id: str
    message_id: str | None
    stream_id: str | None
    event_id: str | None
    version: int | None
    reason: str


@dataclass(frozen=True)
class BatchResult:
    """What a batch did; ``response()`` is the Lambda answer (``batchItemFailures``)."""

    failed_message_ids: tuple[str, ...]
    applied: int
    skipped: int
    repaired: int
    failures: tuple[GroupFailure, ...]
    lag_seconds: float | None
    positions: Mapping[str, int] = field(default_factory=dict)

    @property
    def poisoned(self) -> int:
        """Groups stopped by a message that will fail again however often it is retried."""
        return sum(1 for failure in self.failures if failure.kind in POISON_KINDS)

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in self.failed_message_ids]}


@dataclass
class _StreamPlan:
    start: int
    events: list[EventEnvelope]
    from_store: set[int]


@dataclass
class _GroupPlan:
    streams: dict[str, _StreamPlan] = field(default_factory=dict)
    skipped: int = 0
    failures: list[GroupFailure] = field(default_factory=list)


@dataclass
class _GroupOutcome(Generic[S]):
    states: dict[str, S] = field(default_factory=dict)
    reached: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    applied: int = 0
    skipped: int = 0
    repaired: int = 0
    failures: list[GroupFailure] = field(default_factory=list)


class _RetryOneGroupPerSavepoint(Exception):
    """The set-based write failed on some group's data; write again group by group."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Projector(Generic[S]):
    """Applies SQS batches to one projection. Build once per container; thread-compatible."""

    def __init__(
        self,
        projection: Projection[S],
        engine: Engine,
        reader: EventStoreReader,
        *,
        schema: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``schema`` is the physical schema to write (default: the projection's own name);
        a rebuild writes into a fresh one while the live model keeps serving queries."""
        self.projection = projection
        self._engine = engine
        self._reader = reader
        self._physical = schema or projection.schema
        self._positions = runtime_tables(projection.schema).positions
        self._clock = clock
        self._max_attempts = max_attempts
        self._sleep = sleep

    @property
    def physical_schema(self) -> str:
        return self._physical

    @property
    def engine(self) -> Engine:
        return self._engine

    def connect(self) -> Connection:
        """A connection whose statements address the physical schema."""
        connection = self._engine.connect()
        if self._physical != self.projection.schema:
            connection = connection.execution_options(
                schema_translate_map={self.projection.schema: self._physical}
            )
        return connection

    # ------------------------------------------------------------------ the batch
    def handle(self, records: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Apply one SQS batch (Lambda's ``event["Records"]``)."""
        messages = read_messages(records)
        groups = by_group(messages)
        isolate = False
        attempt = 0
        while True:
            attempt += 1
            try:
                outcomes, positions = self._attempt(groups, isolate=isolate)
                break
            except _RetryOneGroupPerSavepoint:
                isolate = True
            except OperationalError as error:
                # Deadlocks, serialization failures, a dropped connection: transient, and the
                # attempt left nothing behind, so running it again is safe.
                if attempt >= self._max_attempts:
                    raise
                logger.warning(
                    "batch attempt failed, retrying",
                    extra={"attempt": attempt, "error": str(error.orig or error)},
                )
                self._sleep(0.05 * attempt)
        return self._result(groups, outcomes, positions, messages)

    def _attempt(
        self, groups: Mapping[str, list[Message]], *, isolate: bool
    ) -> tuple[dict[str, _GroupOutcome[S]], dict[str, int]]:
        stream_ids = sorted(
            {m.envelope.stream_id for ms in groups.values() for m in ms if m.envelope}
        )
        owners: dict[str, str] = {}
        for group, group_messages in groups.items():
            for message in group_messages:
                if message.envelope is not None:
                    owners.setdefault(message.envelope.stream_id, group)
        with self.connect() as connection, connection.begin():
            positions = lock_positions(connection, self._positions, stream_ids)
            plans = {
                group: self._plan(group, ms, positions, owners) for group, ms in groups.items()
            }
            wanted = sorted(
                stream
                for plan in plans.values()
                for stream, work in plan.streams.items()
                if any(self.projection.handles(e.event_type) for e in work.events)
            )
            loaded = self.projection.store.load(connection, wanted) if wanted else {}
            outcomes = {group: self._fold(group, plan, loaded) for group, plan in plans.items()}
            now = self._clock()
            if isolate:
                for group, outcome in outcomes.items():
                    if outcome.reached:
                        outcomes[group] = self._save_one(connection, group, outcome, now)
            else:
                states: dict[str, S] = {}
                reached: dict[str, tuple[int, datetime]] = {}
                for outcome in outcomes.values():
                    states.update(outcome.states)
                    reached.update(outcome.reached)
                try:
                    self._save(connection, states, reached, now)
                except _GROUP_DATA_ERRORS as error:
                    raise _RetryOneGroupPerSavepoint from error
        committed = dict(positions)
        for outcome in outcomes.values():
            committed.update({s: version for s, (version, _) in outcome.reached.items()})
        return outcomes, committed

    # ------------------------------------------------------------------ per group
    def _plan(
        self,
        group: str,
        messages: Sequence[Message],
        positions: Mapping[str, int],
        owners: Mapping[str, str],
    ) -> _GroupPlan:
        plan = _GroupPlan()
        delivered: dict[str, dict[int, EventEnvelope]] = {}
        for message in messages:
            if message.envelope is None:
                # FIFO: nothing after an undecodable message may be applied before it is.
                plan.failures.append(
                    GroupFailure(
                        FailureKind.UNDECODABLE,
                        group,
                        message.message_id,
                        None,
                        None,
                        None,
                        f"{message.error}",
                    )
                )
                break
            envelope = message.envelope
            if owners[envelope.stream_id] != group:
                # A stream is folded by one group per batch; a stray message of it in another
                # group succeeds only if the owner got past it, else it comes back later.
                continue
            seen = delivered.setdefault(envelope.stream_id, {})
            if envelope.version <= positions[envelope.stream_id] or envelope.version in seen:
                plan.skipped += 1
                continue
            seen[envelope.version] = envelope
        for stream, events in delivered.items():
            if not events:
                continue
            start = positions[stream]
            try:
                plan.streams[stream] = self._repair(stream, start, events)
            except Exception as error:
                # The stream cannot get past the gap this time: fold what is contiguous, and the
                # rest of the group comes back to be tried again.
                contiguous: list[EventEnvelope] = []
                while (version := start + len(contiguous) + 1) in events:
                    contiguous.append(events[version])
                if contiguous:
                    plan.streams[stream] = _StreamPlan(start, contiguous, set())
                blocked = start + len(contiguous) + 1
                plan.failures.append(
                    GroupFailure(FailureKind.GAP, group, None, stream, None, blocked, f"{error}")
                )
        return plan

    def _repair(
        self, stream: str, start: int, delivered: Mapping[int, EventEnvelope]
    ) -> _StreamPlan:
        target = max(delivered)
        missing = [v for v in range(start + 1, target + 1) if v not in delivered]
        found: dict[int, EventEnvelope] = {}
        if missing:
            for envelope in self._reader.read(stream, missing[0], missing[-1]):
                if envelope.stream_id == stream and envelope.version in missing:
                    found[envelope.version] = envelope
            lost = [v for v in missing if v not in found]
            if lost:
                msg = f"the event store has no {stream} v{lost[0]} (delivered up to v{target})"
                raise GapNotRepaired(msg)
        events = [delivered.get(v) or found[v] for v in range(start + 1, target + 1)]
        return _StreamPlan(start, events, set(found))

    def _fold(self, group: str, plan: _GroupPlan, loaded: Mapping[str, S]) -> _GroupOutcome[S]:
        outcome: _GroupOutcome[S] = _GroupOutcome(
            skipped=plan.skipped, failures=list(plan.failures)
        )
        for stream, work in plan.streams.items():
            state = loaded.get(stream)
            changed = False
            reached: tuple[int, datetime] | None = None
            for envelope in work.events:
                if self.projection.handles(envelope.event_type):
                    try:
                        state = self.projection.apply(state, envelope)
                    except Exception as error:
                        # An apply bug or an event the model cannot take: stop this stream
                        # before it, keep everything folded so far.
                        outcome.failures.append(
                            GroupFailure(
                                FailureKind.APPLY,
                                group,
                                None,
                                envelope.stream_id,
                                str(envelope.event_id),
                                envelope.version,
                                f"{type(error).__name__}: {error}",
                            )
                        )
                        break
                    changed = True
                    outcome.applied += 1
                # Unhandled types (read from the store as a gap) only move the position.
                reached = (envelope.version, envelope.occurred_at)
                if envelope.version in work.from_store:
                    outcome.repaired += 1
            if reached is not None:
                outcome.reached[stream] = reached
                if changed and state is not None:
                    outcome.states[stream] = state
        return outcome

    # ------------------------------------------------------------------ writing
    def _save(
        self,
        connection: Connection,
        states: Mapping[str, S],
        reached: Mapping[str, tuple[int, datetime]],
        now: datetime,
    ) -> None:
        if states:
            self.projection.store.save(connection, states)
        if reached:
            save_positions(connection, self._positions, reached, now)

    def _save_one(
        self, connection: Connection, group: str, outcome: _GroupOutcome[S], now: datetime
    ) -> _GroupOutcome[S]:
        try:
            with connection.begin_nested():
                self._save(connection, outcome.states, outcome.reached, now)
        except _GROUP_DATA_ERRORS as error:
            stream = min(outcome.reached)
            reason = f"writing the read model failed: {error.orig or error}"
            failure = GroupFailure(FailureKind.WRITE, group, None, stream, None, None, reason)
            return _GroupOutcome(skipped=outcome.skipped, failures=[*outcome.failures, failure])
        return outcome

    # ------------------------------------------------------------------ the answer
    def _result(
        self,
        groups: Mapping[str, list[Message]],
        outcomes: Mapping[str, _GroupOutcome[S]],
        committed: Mapping[str, int],
        messages: Sequence[Message],
    ) -> BatchResult:
        failed: list[str] = []
        for group_messages in groups.values():
            for index, message in enumerate(group_messages):
                envelope = message.envelope
                if envelope is None or envelope.version > committed.get(envelope.stream_id, 0):
                    # This one and every later message of its group go back to the queue.
                    failed.extend(m.message_id for m in group_messages[index:])
                    break
        failures = tuple(f for outcome in outcomes.values() for f in outcome.failures)
        occurred = [m.envelope.occurred_at for m in messages if m.envelope is not None]
        lag = max(0.0, (self._clock() - min(occurred)).total_seconds()) if occurred else None
        return BatchResult(
            failed_message_ids=tuple(failed),
            applied=sum(o.applied for o in outcomes.values()),
            skipped=sum(o.skipped for o in outcomes.values()),
            repaired=sum(o.repaired for o in outcomes.values()),
            failures=failures,
            lag_seconds=lag,
            positions=dict(committed),
        )
