"""The projector: one SQS batch -> ordered, exactly-once folds, in one database transaction.

For each batch:

1. decode every record (a live event, a replay page of many events, or a rebuild's control
   message); group by FIFO message group, keeping delivery order within a group;
2. read the projection's control row (``generations``, shared lock): live events are folded into
   the ``active`` generation, replay pages into the one being built (else the active one);
3. lock the position row of every stream the batch touches in that generation (one statement);
4. per stream, drop what is at or below its position (duplicates, redeliveries), and read any
   missing versions between the position and the highest delivered version from the event store
   (gap repair), so the events to fold are exactly ``position + 1 .. target``;
5. load the state of all those streams (one query), fold their events in memory;
6. write every new state and every new position (one set-based statement each) and commit.

On Postgres, steps 2, 3 and 5 are one statement (:func:`~platform_projections.generations.
read_and_lock_positions`; the states only when the store keeps one row per stream and none of the
positions moved while the statement waited for its locks, else they are loaded after it), and
step 6 is one statement when the store offers its save as an array upsert: a live FIFO batch is
two statements between BEGIN and COMMIT.

Control messages then run one transaction each (``begin``, ``promote``, ``abort``: see
:mod:`platform_projections.generations`), and when old generations left rows behind, one bounded
round deletes some of them.

A failure stays inside its FIFO group: an undecodable message, an event an apply function
rejects, or a gap the event store cannot fill stops that group at the last good version; the
group's later messages are reported as failed (FIFO order holds on redelivery) and every other
group commits. If the set-based write itself fails, the batch is rolled back and written again
one group per SAVEPOINT, so one group's bad row cannot cost the others their work.

A message is reported successful only when every event it carries is at or below its stream's
committed position in the generation it was written to, so deleting it from the queue can never
lose an event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from platform_replay.control import CONTROL_GROUP, ControlAction, ReplayControl
from platform_sql import execute_together
from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from platform_events import EventEnvelope
from platform_projections import generations as control_row
from platform_projections.generations import ControlRefused, Generations, Lock
from platform_projections.messages import Message, MessageKind, by_group, read_messages
from platform_projections.migrations import managed_tables
from platform_projections.positions import (
    bound_positions,
    lock_positions,
    runtime_tables,
    save_positions,
)
from platform_projections.projection import Projection
from platform_projections.store import EventStoreReader

S = TypeVar("S")
T = TypeVar("T")

logger: Final = logging.getLogger("platform_projections")

# Errors a row of one group can cause; anything else (a lost connection, a missing grant) is
# the whole batch's problem and fails it as a whole.
_GROUP_DATA_ERRORS: Final = (IntegrityError, DataError)
DEFAULT_CLEANUP_ROWS: Final = 2000
"""Rows of old generations deleted per table per batch: a few milliseconds of work, so batches
after a rebuild stay fast while the old model goes away."""


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
    CONTROL = "control"
    """A rebuild's control message that does not fit the projection's state (poison: it reaches
    the DLQ, where the rebuild's state machine sees it and fails, leaving the active model)."""


POISON_KINDS: Final = frozenset(
    {FailureKind.UNDECODABLE, FailureKind.APPLY, FailureKind.WRITE, FailureKind.CONTROL}
)


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


@dataclass(frozen=True, slots=True)
class ControlResult:
    """What one control message did."""

    message_id: str
    action: ControlAction
    rebuild: str
    generations: Generations | None
    """The control row afterwards (None when the message failed)."""
    caught_up: int = 0
    """Events a promote folded into the new generation from the event store, because the active
    one had them and the replay had not (in flight when the live mapping was paused)."""


@dataclass(frozen=True)
class BatchResult:
    """What a batch did; ``response()`` is the Lambda answer (``batchItemFailures``)."""

    failed_message_ids: tuple[str, ...]
    applied: int
    skipped: int
    repaired: int
    failures: tuple[GroupFailure, ...]
    lag_seconds: float | None
    positions: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    """Per generation written, the committed position of every stream the batch touched."""
    controls: tuple[ControlResult, ...] = ()
    cleaned: int = 0
    """Rows of old generations deleted after the batch."""

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


@dataclass
class _Applied(Generic[S]):
    """The event part of a batch, once committed."""

    outcomes: list[_GroupOutcome[S]] = field(default_factory=list)
    committed: dict[int, dict[str, int]] = field(default_factory=dict)
    generation_of: dict[str, int] = field(default_factory=dict)
    """Message id -> the generation its events were written to."""
    control: Generations | None = None


class _RetryOneGroupPerSavepoint(Exception):
    """The set-based write failed on some group's data; write again group by group."""


class _CatchUpFailed(Exception):
    def __init__(self, failure: GroupFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


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
        cleanup_rows: int = DEFAULT_CLEANUP_ROWS,
    ) -> None:
        """``schema`` is the physical schema to write (default: the projection's own name), e.g.
        to host a second copy of a projection in one database."""
        if cleanup_rows < 1:
            msg = "cleanup_rows must be at least 1"
            raise ValueError(msg)
        self.projection = projection
        self._engine = engine
        self._reader = reader
        self._physical = schema or projection.schema
        self._tables = runtime_tables(projection.schema)
        self._positions = self._tables.positions
        self._managed = managed_tables(projection)
        self._clock = clock
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._cleanup_rows = cleanup_rows

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

    def generations(self) -> Generations:
        """The projection's control row as it is now."""
        with self.connect() as connection:
            return control_row.read_generations(connection, self._tables, self.projection.name)

    # ------------------------------------------------------------------ the batch
    def handle(self, records: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Apply one SQS batch (Lambda's ``event["Records"]``)."""
        messages = read_messages(records)
        groups = by_group(messages)
        applied = self._apply_events(groups)
        controls: list[ControlResult] = []
        control_failures: dict[str, GroupFailure] = {}
        for group_messages in groups.values():
            for message in group_messages:
                if message.control is None:
                    if not self._succeeded(message, applied, control_failures):
                        break  # FIFO: nothing after a failed message of its group is applied
                    continue
                outcome = self._apply_control(message, message.control)
                if isinstance(outcome, GroupFailure):
                    control_failures[message.message_id] = outcome
                    break
                controls.append(outcome)
        latest = controls[-1].generations if controls else applied.control
        cleaned = self._cleanup_after_batch(latest)
        return self._result(
            groups=groups,
            applied=applied,
            controls=controls,
            control_failures=control_failures,
            cleaned=cleaned,
            messages=messages,
        )

    def collect_garbage(self, *, rounds: int | None = None) -> int:
        """Delete rows of generations that are neither active nor being built, ``cleanup_rows``
        per table per round, until none is left (or ``rounds`` ran); answers the rows deleted.
        Batches run one round each on their own; operators and tests may call this."""
        total = 0
        done = 0
        while rounds is None or done < rounds:
            deleted, finished = self._retrying(self._cleanup_round)
            total += deleted
            done += 1
            if finished:
                break
        return total

    # ------------------------------------------------------------------ events
    def _apply_events(self, groups: Mapping[str, list[Message]]) -> _Applied[S]:
        work = {
            group: [m for m in group_messages if m.kind is not MessageKind.CONTROL]
            for group, group_messages in groups.items()
        }
        work = {group: group_messages for group, group_messages in work.items() if group_messages}
        if not work:
            return _Applied()
        isolate = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(work, isolate=isolate)
            except _RetryOneGroupPerSavepoint:
                isolate = True
            except OperationalError as error:
                # Deadlocks, serialization failures, a dropped connection: transient, and the
                # attempt left nothing behind, so running it again is safe.
                if attempt >= self._max_attempts:
                    raise
                self._pause(attempt, error)

    def _attempt(self, groups: Mapping[str, list[Message]], *, isolate: bool) -> _Applied[S]:
        applied: _Applied[S] = _Applied()
        with self.connect() as connection, connection.begin():
            control, locked, states = self._read_control(connection, groups)
            applied.control = control
            targets = {MessageKind.EVENT: control.active, MessageKind.PAGE: control.replay_target}
            by_generation: dict[int, dict[str, list[Message]]] = {}
            for group, group_messages in groups.items():
                generation = control.active
                for message in group_messages:
                    # An undecodable message stays where its group was going, so that it stops
                    # the group there.
                    generation = targets.get(message.kind, generation)
                    by_generation.setdefault(generation, {}).setdefault(group, []).append(message)
                    applied.generation_of[message.message_id] = generation
            # Ascending generations, streams in order within each: every batch locks positions
            # in one global order, so two batches cannot deadlock.
            for generation in sorted(by_generation):
                outcomes, committed = self._fold_generation(
                    connection,
                    generation,
                    by_generation[generation],
                    isolate=isolate,
                    locked=None if locked is None else locked.get(generation, {}),
                    preloaded=None if states is None else states.get(generation, {}),
                )
                applied.outcomes.extend(outcomes.values())
                applied.committed[generation] = committed
        return applied

    def _read_control(
        self, connection: Connection, groups: Mapping[str, list[Message]]
    ) -> tuple[Generations, dict[int, dict[str, int]] | None, dict[int, dict[str, S]] | None]:
        """The control row (``FOR SHARE``) and, on Postgres, every position the batch needs,
        locked in the same statement, with the states when the store keeps one row per stream
        (and they are consistent with the positions); what is not answered here is locked or
        loaded per generation later (everything, on SQLite)."""
        name = self.projection.name
        if connection.dialect.name != "postgresql":
            control = control_row.read_generations(connection, self._tables, name, lock=Lock.SHARE)
            return control, None, None
        live: set[str] = set()
        replayed: set[str] = set()
        for group_messages in groups.values():
            for message in group_messages:
                streams = replayed if message.kind is MessageKind.PAGE else live
                streams.update(envelope.stream_id for envelope in message.envelopes)
        locked = control_row.read_and_lock_positions(
            connection,
            self._tables,
            name,
            live=sorted(live),
            replayed=sorted(replayed),
            rows=self.projection.store.state_rows(),
        )
        return locked.control, locked.positions, locked.states

    def _fold_generation(
        self,
        connection: Connection,
        generation: int,
        groups: Mapping[str, list[Message]],
        *,
        isolate: bool,
        locked: Mapping[str, int] | None = None,
        preloaded: Mapping[str, S] | None = None,
    ) -> tuple[dict[str, _GroupOutcome[S]], dict[str, int]]:
        owners: dict[str, str] = {}
        for group, group_messages in groups.items():
            for message in group_messages:
                for envelope in message.envelopes:
                    owners.setdefault(envelope.stream_id, group)
        positions = dict(locked or {})
        missing = sorted(set(owners) - set(positions))
        if missing:
            # Whatever the control read did not lock already (everything, on SQLite); their
            # states were not read with the lock either.
            positions.update(lock_positions(connection, self._positions, generation, missing))
            preloaded = None
        plans = {group: self._plan(group, ms, positions, owners) for group, ms in groups.items()}
        wanted = sorted(
            stream
            for plan in plans.values()
            for stream, work in plan.streams.items()
            if any(self.projection.handles(e.event_type) for e in work.events)
        )
        loaded = preloaded
        if loaded is None:
            store = self.projection.store
            loaded = store.load(connection, wanted, generation=generation) if wanted else {}
        outcomes = {group: self._fold(group, plan, loaded) for group, plan in plans.items()}
        now = self._clock()
        if isolate:
            for group, outcome in outcomes.items():
                if outcome.reached:
                    outcomes[group] = self._save_one(connection, generation, group, outcome, now)
        else:
            states: dict[str, S] = {}
            reached: dict[str, tuple[int, datetime]] = {}
            for outcome in outcomes.values():
                states.update(outcome.states)
                reached.update(outcome.reached)
            try:
                self._save(connection, generation, states, reached, now)
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
            if message.kind is MessageKind.UNDECODABLE:
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
            for envelope in message.envelopes:
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
        found = self._read_store(stream, missing[0], missing[-1], target) if missing else {}
        events = [delivered.get(v) or found[v] for v in range(start + 1, target + 1)]
        return _StreamPlan(start, events, {v for v in found if v in missing})

    def _read_store(
        self, stream: str, first: int, last: int, target: int
    ) -> dict[int, EventEnvelope]:
        """Versions ``first..last`` of a stream from the event store, every one of them."""
        found = {
            envelope.version: envelope
            for envelope in self._reader.read(stream, first, last)
            if envelope.stream_id == stream and first <= envelope.version <= last
        }
        lost = [v for v in range(first, last + 1) if v not in found]
        if lost:
            msg = f"the event store has no {stream} v{lost[0]} (delivered up to v{target})"
            raise GapNotRepaired(msg)
        return found

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
        generation: int,
        states: Mapping[str, S],
        reached: Mapping[str, tuple[int, datetime]],
        now: datetime,
    ) -> None:
        if states and reached and connection.dialect.name == "postgresql":
            saving = self.projection.store.bound_upsert(states, generation=generation)
            if saving is not None:
                moving = bound_positions(self._positions, generation, reached, now)
                execute_together(connection, saving, moving)
                return
        if states:
            self.projection.store.save(connection, states, generation=generation)
        if reached:
            save_positions(connection, self._positions, generation, reached, now)

    def _save_one(
        self,
        connection: Connection,
        generation: int,
        group: str,
        outcome: _GroupOutcome[S],
        now: datetime,
    ) -> _GroupOutcome[S]:
        try:
            with connection.begin_nested():
                self._save(connection, generation, outcome.states, outcome.reached, now)
        except _GROUP_DATA_ERRORS as error:
            stream = min(outcome.reached)
            reason = f"writing the read model failed: {error.orig or error}"
            failure = GroupFailure(FailureKind.WRITE, group, None, stream, None, None, reason)
            return _GroupOutcome(skipped=outcome.skipped, failures=[*outcome.failures, failure])
        return outcome

    # ------------------------------------------------------------------ control messages
    def _apply_control(
        self, message: Message, control: ReplayControl
    ) -> ControlResult | GroupFailure:
        def failure(kind: FailureKind, reason: str) -> GroupFailure:
            return GroupFailure(
                kind, message.group_id, message.message_id, None, None, None, reason
            )

        try:
            state, caught_up = self._retrying(lambda: self._control_transaction(control))
        except ControlRefused as error:
            return failure(FailureKind.CONTROL, str(error))
        except _CatchUpFailed as error:
            found = error.failure
            return GroupFailure(
                found.kind,
                message.group_id,
                message.message_id,
                found.stream_id,
                found.event_id,
                found.version,
                f"promote could not catch up: {found.reason}",
            )
        return ControlResult(message.message_id, control.action, control.rebuild, state, caught_up)

    def _control_transaction(self, control: ReplayControl) -> tuple[Generations, int]:
        name = self.projection.name
        with self.connect() as connection, connection.begin():
            now = self._clock()
            if control.action is ControlAction.BEGIN:
                return control_row.begin(connection, self._tables, name, control.rebuild, now), 0
            if control.action is ControlAction.ABORT:
                return control_row.abort(connection, self._tables, name, control.rebuild, now), 0
            current = control_row.read_generations(connection, self._tables, name, lock=Lock.UPDATE)
            target = control_row.promote_target(current, control.rebuild)
            if target is None:
                return current, 0
            caught_up = self._catch_up(connection, current.active, target, now)
            swapped = control_row.swap(
                connection, self._tables, name, rebuild=control.rebuild, target=target, now=now
            )
            return swapped, caught_up

    def _catch_up(self, connection: Connection, source: int, target: int, now: datetime) -> int:
        """Fold into ``target`` every event ``source`` has and ``target`` lacks, read from the
        event store (strongly consistent), so that promoting ``target`` loses nothing the active
        model showed: a live batch still in flight when the rebuild paused the live mapping, or
        an event the replay's index read had not seen yet."""
        ahead, behind = self._positions.alias("ahead"), self._positions.alias("behind")
        rows = connection.execute(
            select(ahead.c.stream_id, ahead.c.version)
            .select_from(
                ahead.outerjoin(
                    behind,
                    and_(behind.c.generation == target, behind.c.stream_id == ahead.c.stream_id),
                )
            )
            .where(
                ahead.c.generation == source, ahead.c.version > func.coalesce(behind.c.version, 0)
            )
        )
        wanted = {row.stream_id: int(row.version) for row in rows}
        if not wanted:
            return 0
        positions = lock_positions(connection, self._positions, target, sorted(wanted))
        plan = _GroupPlan()
        for stream, version in sorted(wanted.items()):
            start = positions[stream]
            if version <= start:
                continue
            try:
                found = self._read_store(stream, start + 1, version, version)
            except Exception as error:
                raise _CatchUpFailed(
                    GroupFailure(
                        FailureKind.GAP, CONTROL_GROUP, None, stream, None, start + 1, f"{error}"
                    )
                ) from error
            events = [found[v] for v in range(start + 1, version + 1)]
            plan.streams[stream] = _StreamPlan(start, events, set(found))
        handled = sorted(
            stream
            for stream, work in plan.streams.items()
            if any(self.projection.handles(e.event_type) for e in work.events)
        )
        loaded = (
            self.projection.store.load(connection, handled, generation=target) if handled else {}
        )
        outcome = self._fold(CONTROL_GROUP, plan, loaded)
        if outcome.failures:
            raise _CatchUpFailed(outcome.failures[0])
        self._save(connection, target, outcome.states, outcome.reached, now)
        return sum(len(work.events) for work in plan.streams.values())

    # ------------------------------------------------------------------ old generations
    def _cleanup_after_batch(self, control: Generations | None) -> int:
        if control is None or not control.cleanup:
            return 0
        try:
            return self.collect_garbage(rounds=1)
        except SQLAlchemyError as error:
            # The batch is committed; old rows are invisible to readers and the next batch
            # tries again.
            logger.warning("deleting old generations failed", extra={"error": str(error)})
            return 0

    def _cleanup_round(self) -> tuple[int, bool]:
        with self.connect() as connection, connection.begin():
            current = control_row.read_generations(
                connection, self._tables, self.projection.name, lock=Lock.UPDATE
            )
            if not current.cleanup:
                return 0, True
            deleted, exhausted = control_row.delete_garbage(
                connection, self._managed, current, self._cleanup_rows
            )
            if exhausted:
                control_row.finish_cleanup(
                    connection, self._tables, self.projection.name, self._clock()
                )
            return deleted, exhausted

    # ------------------------------------------------------------------ plumbing
    def _retrying(self, work: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return work()
            except OperationalError as error:
                if attempt >= self._max_attempts:
                    raise
                self._pause(attempt, error)

    def _pause(self, attempt: int, error: OperationalError) -> None:
        logger.warning(
            "database attempt failed, retrying",
            extra={"attempt": attempt, "error": str(error.orig or error)},
        )
        self._sleep(0.05 * attempt)

    # ------------------------------------------------------------------ the answer
    def _result(
        self,
        *,
        groups: Mapping[str, list[Message]],
        applied: _Applied[S],
        controls: Sequence[ControlResult],
        control_failures: Mapping[str, GroupFailure],
        cleaned: int,
        messages: Sequence[Message],
    ) -> BatchResult:
        failed: list[str] = []
        for group_messages in groups.values():
            for index, message in enumerate(group_messages):
                if not self._succeeded(message, applied, control_failures):
                    # This one and every later message of its group go back to the queue.
                    failed.extend(m.message_id for m in group_messages[index:])
                    break
        outcomes = applied.outcomes
        failures = tuple(f for outcome in outcomes for f in outcome.failures) + tuple(
            control_failures.values()
        )
        occurred = [e.occurred_at for m in messages for e in m.envelopes]
        lag = max(0.0, (self._clock() - min(occurred)).total_seconds()) if occurred else None
        return BatchResult(
            failed_message_ids=tuple(failed),
            applied=sum(o.applied for o in outcomes),
            skipped=sum(o.skipped for o in outcomes),
            repaired=sum(o.repaired for o in outcomes),
            failures=failures,
            lag_seconds=lag,
            positions={g: dict(p) for g, p in applied.committed.items()},
            controls=tuple(controls),
            cleaned=cleaned,
        )

    @staticmethod
    def _succeeded(
        message: Message, applied: _Applied[S], control_failures: Mapping[str, GroupFailure]
    ) -> bool:
        if message.kind is MessageKind.UNDECODABLE:
            return False
        if message.kind is MessageKind.CONTROL:
            return message.message_id not in control_failures
        committed = applied.committed.get(applied.generation_of.get(message.message_id, -1), {})
        return all(e.version <= committed.get(e.stream_id, 0) for e in message.envelopes)
