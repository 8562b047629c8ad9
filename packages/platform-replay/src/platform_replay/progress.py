"""Reading a replay execution's progress: what it sent so far, what waits in the replay queue, and
whether the live mapping is on.

Counts come from the execution history: each send state's exit output is its partition's running
count (``{"partition", "sent"}``) after that page went out, and ``ShardDone`` reports a partition's
final count. A :class:`ProgressReader` reads only the history events it has not seen yet on each
refresh, so following a long replay stays cheap.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from platform_replay import definition as asl

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

RUNNING: Final = "RUNNING"
HISTORY_PAGE_SIZE: Final = 1000
"""GetExecutionHistory's largest page."""
SUCCEEDED: Final = "SUCCEEDED"


class Phase(StrEnum):
    """Where a replay is, in the order it gets there (a first replay skips the rebuild's)."""

    STARTING = "starting"
    PAUSING = "pausing live"
    """A rebuild: pausing the live event source mapping."""
    BEGINNING = "beginning"
    """A rebuild: the projector allocates the new generation (``begin``)."""
    READING = "reading"
    """Reading the event store and sending pages to the replay queue."""
    DRAINING = "draining"
    """Everything is sent; waiting for the replay queue to be empty."""
    PROMOTING = "promoting"
    """A rebuild: the projector makes the new generation the active one (``promote``)."""
    ENABLING = "enabling"
    """The replay queue drained; enabling the live event source mapping."""
    ABORTING = "aborting"
    """A rebuild failed: dropping its generation and switching live back on."""
    DONE = "done"
    STOPPED = "stopped"
    """Failed, timed out or aborted (a first replay leaves the live mapping off)."""


_BEGIN_DRAIN: Final = frozenset(asl.drain_state_names(asl.BEGIN_PREFIX))
_PROMOTE_DRAIN: Final = frozenset(asl.drain_state_names(asl.PROMOTE_PREFIX))


def phase_of_state(name: str) -> Phase:
    """The phase a state of the replay definition belongs to."""
    found = {
        Phase.STARTING: asl.STARTING_STATES,
        Phase.PAUSING: {asl.PAUSE_LIVE},
        Phase.BEGINNING: asl.BEGINNING_STATES | _BEGIN_DRAIN,
        Phase.READING: asl.READING_STATES,
        Phase.PROMOTING: asl.PROMOTING_STATES | _PROMOTE_DRAIN,
        Phase.ENABLING: {asl.ENABLE_LIVE_MAPPING},
        Phase.ABORTING: asl.ABORTING_STATES,
        Phase.DONE: {asl.REPORT},
    }
    for phase, names in found.items():
        if name in names:
            return phase
    # Counting the totals, the drain loop and its dead-letter check come after the last page.
    return Phase.DRAINING


@dataclass(frozen=True)
class QueueDepth:
    """The replay queue's approximate message counts."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True)
class ReplayProgress:
    """One reading of a replay execution."""

    execution_arn: str
    projection: str
    status: str
    phase: Phase
    rebuild: bool
    events_sent: int
    events_sent_per_partition: Mapping[str, int]
    pages_sent: int
    partitions_total: int
    partitions_done: int
    started_at: datetime
    stopped_at: datetime | None = None
    queue_depth: QueueDepth | None = None
    live_mapping_state: str | None = None
    output: Mapping[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != RUNNING

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def elapsed(self, now: datetime | None = None) -> timedelta:
        end = self.stopped_at or now or datetime.now(UTC)
        return max(end - self.started_at, timedelta(0))

    def line(self, now: datetime | None = None) -> str:
        """A one-line summary, for a terminal or a log."""
        elapsed = str(self.elapsed(now)).split(".", 1)[0]
        parts = [
            f"[{elapsed}]",
            f"{self.projection} (rebuild)" if self.rebuild else self.projection,
            self.status,
            self.phase.value,
            f"{self.events_sent:,} events sent in {self.pages_sent:,} pages",
            f"partitions {self.partitions_done}/{self.partitions_total}",
        ]
        if self.queue_depth is not None:
            depth = self.queue_depth
            parts.append(
                f"replay queue {depth.visible:,} visible/{depth.in_flight:,} in flight"
                + (f"/{depth.delayed:,} delayed" if depth.delayed else "")
            )
        if self.live_mapping_state is not None:
            parts.append(f"live mapping {self.live_mapping_state}")
        if self.error is not None:
            parts.append(f"error {self.error}: {self.cause or ''}".rstrip(": "))
        return "  ".join(parts)


@dataclass
class _HistoryTally:
    last_event_id: int = 0
    per_partition: dict[str, int] = field(default_factory=dict)
    pages_sent: int = 0
    partitions_done: set[str] = field(default_factory=set)
    last_state: str | None = None
    last_state_event_id: int = 0


class ProgressReader:
    """Reads one replay execution's progress; call :meth:`read` as often as you like.

    ``sqs`` and ``lambda_client`` are optional: without them the reading has no queue depth and no
    live mapping state. The replay's queue and mapping come from the execution's own definition.
    """

    def __init__(
        self,
        execution_arn: str,
        *,
        stepfunctions: SFNClient,
        sqs: SQSClient | None = None,
        lambda_client: LambdaClient | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self._sfn = stepfunctions
        self._sqs = sqs
        self._lambda = lambda_client
        self._plan: dict[str, Any] | None = None
        self._tally = _HistoryTally()

    @property
    def plan(self) -> dict[str, Any]:
        """The replay's plan, as recorded in the definition this execution runs."""
        if self._plan is None:
            described = self._sfn.describe_state_machine_for_execution(
                executionArn=self.execution_arn
            )
            self._plan = asl.plan_from_definition(described["definition"])
        return self._plan

    def read(self) -> ReplayProgress:
        plan = self.plan
        execution = self._sfn.describe_execution(executionArn=self.execution_arn)
        # History after DescribeExecution: a finished execution's history is then complete.
        self._read_new_history()
        tally = self._tally
        status = execution["status"]
        output = _json_object(execution.get("output"))
        events_sent = sum(tally.per_partition.values())
        if output is not None:
            total = output.get("events_sent", {}).get("total")
            if isinstance(total, int):
                events_sent = total
        if status == SUCCEEDED:
            phase = Phase.DONE
        elif status != RUNNING:
            phase = Phase.STOPPED
        elif tally.last_state is None:
            phase = Phase.STARTING
        else:
            phase = phase_of_state(tally.last_state)
        return ReplayProgress(
            execution_arn=self.execution_arn,
            projection=str(plan.get("projection", "")),
            status=status,
            phase=phase,
            rebuild=_json_object(execution.get("input")) == {asl.REBUILD_INPUT: True},
            events_sent=events_sent,
            events_sent_per_partition=dict(tally.per_partition),
            pages_sent=tally.pages_sent,
            partitions_total=len(plan.get("partitions", ())),
            partitions_done=len(tally.partitions_done),
            started_at=execution["startDate"],
            stopped_at=execution.get("stopDate"),
            queue_depth=self._queue_depth(str(plan["replay_queue_url"])),
            live_mapping_state=self._mapping_state(str(plan["live_mapping_uuid"])),
            output=output,
            error=execution.get("error"),
            cause=execution.get("cause"),
        )

    # ------------------------------------------------------------------ history
    def _read_new_history(self) -> None:
        fresh = sorted(self._unseen_events(), key=lambda event: event["id"])
        for event in fresh:
            self._apply(event)

    def _unseen_events(self) -> Iterator[HistoryEventTypeDef]:
        # Newest first, stopping at the first page that reaches events already counted. (moto
        # ignores reverseOrder and paging and answers everything oldest first; filtering by id
        # keeps that correct too.)
        seen = self._tally.last_event_id
        request: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "reverseOrder": True,
            "includeExecutionData": True,
            "maxResults": HISTORY_PAGE_SIZE,
        }
        while True:
            page = self._sfn.get_execution_history(**request)
            events = page["events"]
            yield from (event for event in events if event["id"] > seen)
            token = page.get("nextToken")
            if token is None or any(event["id"] <= seen for event in events):
                return
            request["nextToken"] = token

    def _apply(self, event: HistoryEventTypeDef) -> None:
        tally = self._tally
        tally.last_event_id = max(tally.last_event_id, event["id"])
        entered = event.get("stateEnteredEventDetails")
        if entered is not None and event["id"] > tally.last_state_event_id:
            tally.last_state = entered["name"]
            tally.last_state_event_id = event["id"]
        exited = event.get("stateExitedEventDetails")
        if exited is None:
            return
        name = exited["name"]
        if name in asl.SEND_STATES:
            carry = _json_object(exited.get("output"))
            if carry is not None:
                self._count(carry.get("partition"), carry.get("sent"))
                tally.pages_sent += 1
        elif name == asl.SHARD_DONE:
            result = _json_object(exited.get("output"))
            if result is not None:
                partition = result.get("partition")
                self._count(partition, result.get("events_sent"))
                if isinstance(partition, str):
                    tally.partitions_done.add(partition)

    def _count(self, partition: object, sent: object) -> None:
        if isinstance(partition, str) and isinstance(sent, int):
            per_partition = self._tally.per_partition
            # Running counts only grow; the largest seen is the latest.
            per_partition[partition] = max(per_partition.get(partition, 0), sent)

    # ------------------------------------------------------------------ live resources
    def _queue_depth(self, queue_url: str) -> QueueDepth | None:
        if self._sqs is None:
            return None
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=list(asl.QUEUE_DEPTH_ATTRIBUTES)
        )["Attributes"]
        visible, in_flight, delayed = (
            int(attributes.get(name, "0")) for name in asl.QUEUE_DEPTH_ATTRIBUTES
        )
        return QueueDepth(visible=visible, in_flight=in_flight, delayed=delayed)

    def _mapping_state(self, mapping_uuid: str) -> str | None:
        if self._lambda is None:
            return None
        return self._lambda.get_event_source_mapping(UUID=mapping_uuid).get("State")


def start_replay(
    stepfunctions: SFNClient,
    state_machine_arn: str,
    *,
    name: str | None = None,
    rebuild: bool = False,
) -> str:
    """Start a replay execution (``rebuild``: a blue/green rebuild of a running projection);
    answers its ARN. Names are unique per state machine, so the default one carries the time and
    a random suffix (and feeds the page deduplication ids and the rebuild's id)."""
    if name is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kind = "rebuild" if rebuild else "replay"
        name = f"{kind}-{stamp}-{uuid.uuid4().hex[:8]}"
    request = {asl.REBUILD_INPUT: True} if rebuild else {}
    started = stepfunctions.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(request)
    )
    return started["executionArn"]


def _json_object(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
