"""The replay state machine, as Amazon States Language data: what Pulumi deploys and tests execute.

A replay reads one projection's events from the event store's sharded ``replay_index`` and sends
them to the projection's replay FIFO queue, one message per Query page, then waits until that queue
is empty and enables the projection's live event source mapping (shared/CONTRACT.md, "Replay").

Two modes, chosen by the execution's input:

- ``{}``: a new projection's first replay. The live mapping was created disabled; pages go into
  the projection's active (and only) generation; the live mapping is enabled at the end.
- ``{"rebuild": true}``: a blue/green rebuild of a running projection. The live mapping is paused
  first, a ``begin`` control message makes the projector allocate a new generation (and is
  drained before any page is sent), the pages fill it, a ``promote`` control message (sent once
  the pages drained) makes it the active one in one transaction, and the live mapping is enabled
  again. If anything fails, an ``abort`` message drops the new generation, the live mapping is
  switched back on and the execution fails: the active generation never changed.

With the replay queue's dead-letter queue named in the target, a replay also fails when anything
reached that queue while it ran (a page or a control message the projector could not apply), so
a model missing events is never switched live or promoted.

The definition uses JSONPath and intrinsic functions only (no JSONata, no Lambda of its own): each
page's items already carry their canonical envelope text (``layout.Attr.ENVELOPE``), so a page
becomes a message body with ``States.JsonToString`` and no per-item state. A replay of N events
costs about 14 history events per page of ``page_size`` items, which keeps a Standard workflow far
below its 25,000 history event limit (roughly 1,700 pages: 170,000 events at 100 per page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from platform_events import layout
from platform_replay.control import CONTROL_GROUP, REBUILD, REPLAY_CONTROL, ControlAction

# ---------------------------------------------------------------------------------- state names
# Progress reading (platform_replay.progress) recognises a replay's phases by these names.
PLAN: Final = "Plan"
REPLAY_SHARDS: Final = "ReplayShards"
FIRST_PAGE: Final = "FirstPage"
NEXT_PAGE: Final = "NextPage"
ROUTE_PAGE: Final = "RoutePage"
PACK_PAGE: Final = "PackPage"
SEND_PAGE: Final = "SendPage"
PACK_LAST_PAGE: Final = "PackLastPage"
PACK_ONE_PAGE: Final = "PackOnePage"
PACK_ONE_LAST_PAGE: Final = "PackOneLastPage"
SEND_LAST_PAGE: Final = "SendLastPage"
SKIP_EMPTY_PAGE: Final = "SkipEmptyPage"
SHARD_DONE: Final = "ShardDone"
COUNT_SHARDS: Final = "CountShards"
SUM_LEVEL_PREFIX: Final = "SumCounts"
START_DRAIN: Final = "StartDrain"
DRAIN_WAIT: Final = "DrainWait"
QUEUE_DEPTH: Final = "QueueDepth"
IS_QUEUE_EMPTY: Final = "IsQueueEmpty"
COUNT_EMPTY_POLL: Final = "CountEmptyPoll"
RESET_EMPTY_POLLS: Final = "ResetEmptyPolls"
IS_DRAINED: Final = "IsDrained"
ENABLE_LIVE_MAPPING: Final = "EnableLiveMapping"
REPORT: Final = "Report"
DEAD_LETTER_BASELINE: Final = "DeadLetterBaseline"
MODE: Final = "Mode"
NEW_PROJECTION_MODE: Final = "NewProjectionMode"
REBUILD_MODE: Final = "RebuildMode"
INVALID_INPUT: Final = "InvalidInput"
PAUSE_LIVE: Final = "PauseLive"
PACK_BEGIN: Final = "PackBegin"
SEND_BEGIN: Final = "SendBegin"
BEGIN_PREFIX: Final = "Begin"
"""Prefix of the drain and dead-letter check that follow ``begin``."""
AFTER_REPLAY: Final = "AfterReplay"
PACK_PROMOTE: Final = "PackPromote"
SEND_PROMOTE: Final = "SendPromote"
PROMOTE_PREFIX: Final = "Promote"
"""Prefix of the drain and dead-letter check that follow ``promote``."""
DEAD_LETTERS: Final = "DeadLetters"
ANY_DEAD_LETTERED: Final = "AnyDeadLettered"
ON_DEAD_LETTERS: Final = "OnDeadLetters"
REPLAY_DEAD_LETTERED: Final = "ReplayDeadLettered"
ON_FAILURE: Final = "OnFailure"
REPLAY_FAILED: Final = "ReplayFailed"
NOTE_DEAD_LETTERS: Final = "NoteDeadLetters"
PACK_ABORT: Final = "PackAbort"
SEND_ABORT: Final = "SendAbort"
RESUME_LIVE: Final = "ResumeLive"
REBUILD_FAILED: Final = "RebuildFailed"

SEND_STATES: Final = frozenset({SEND_PAGE, SEND_LAST_PAGE})
"""States whose exit output is a shard's running count ``{"partition", "sent"}`` after a page was
sent: what progress sums."""
STARTING_STATES: Final = frozenset(
    {PLAN, DEAD_LETTER_BASELINE, MODE, NEW_PROJECTION_MODE, REBUILD_MODE}
)
BEGINNING_STATES: Final = frozenset(
    {PACK_BEGIN, SEND_BEGIN, f"{BEGIN_PREFIX}{DEAD_LETTERS}", f"{BEGIN_PREFIX}{ANY_DEAD_LETTERED}"}
)
"""Plus the ``Begin``-prefixed drain loop."""
PROMOTING_STATES: Final = frozenset(
    {
        PACK_PROMOTE,
        SEND_PROMOTE,
        f"{PROMOTE_PREFIX}{DEAD_LETTERS}",
        f"{PROMOTE_PREFIX}{ANY_DEAD_LETTERED}",
    }
)
"""Plus the ``Promote``-prefixed drain loop."""
ABORTING_STATES: Final = frozenset(
    {ON_FAILURE, ON_DEAD_LETTERS, NOTE_DEAD_LETTERS, PACK_ABORT, SEND_ABORT, RESUME_LIVE}
)
REBUILD_INPUT: Final = "rebuild"
"""``{"rebuild": true}`` as an execution's input asks for a rebuild (blue/green)."""
DEAD_LETTER_ERROR: Final = "ReplayDeadLettered"
REBUILD_DEAD_LETTER_ERROR: Final = "RebuildDeadLettered"
INVALID_INPUT_ERROR: Final = "InvalidReplayInput"
READING_STATES: Final = frozenset(
    {
        REPLAY_SHARDS,
        FIRST_PAGE,
        NEXT_PAGE,
        ROUTE_PAGE,
        PACK_PAGE,
        SEND_PAGE,
        PACK_LAST_PAGE,
        PACK_ONE_PAGE,
        PACK_ONE_LAST_PAGE,
        SEND_LAST_PAGE,
        SKIP_EMPTY_PAGE,
        SHARD_DONE,
    }
)

# ---------------------------------------------------------------------------------- limits
DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
"""A page travels through the state machine's data (256 KiB per state) before it becomes one SQS
message (256 KiB too); 100 envelopes of this domain (~0.6 KB each) use about a quarter of that.
A page that would not fit fails the execution with ``States.DataLimitExceeded`` before anything of
it is sent: run again with a smaller page size."""
DEFAULT_MAX_CONCURRENCY: Final = layout.REPLAY_SHARD_COUNT
DEFAULT_DRAIN_POLL_SECONDS: Final = 10
EMPTY_POLLS_TO_DRAIN: Final = 2
"""SQS queue depths are approximate and eventually consistent: the queue counts as drained after
this many consecutive polls (``drain_poll_seconds`` apart) saw nothing visible, in flight or
delayed."""
MAX_FILTER_EVENT_TYPES: Final = 99
"""DynamoDB's ``IN`` accepts at most 100 operands."""
QUEUE_DEPTH_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

# Errors worth retrying with backoff. Step Functions names aws-sdk errors "<Service>.<Error>",
# adding an "Exception" suffix where the service's error code lacks one.
DYNAMODB_RETRY_ERRORS: Final = (
    "DynamoDb.ProvisionedThroughputExceededException",
    "DynamoDb.RequestLimitExceededException",
    "DynamoDb.ThrottlingException",
    "DynamoDb.InternalServerErrorException",
)
SQS_RETRY_ERRORS: Final = (
    "Sqs.RequestThrottledException",
    "Sqs.ThrottlingException",
    "Sqs.KmsThrottledException",
    "Sqs.InternalErrorException",
)
LAMBDA_RETRY_ERRORS: Final = (
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    # A mapping that is still being created or updated refuses another update for a moment.
    "Lambda.ResourceInUseException",
    "Lambda.ResourceConflictException",
)

_DYNAMODB_QUERY: Final = "arn:aws:states:::aws-sdk:dynamodb:query"
_SQS_SEND_MESSAGE: Final = "arn:aws:states:::aws-sdk:sqs:sendMessage"
_SQS_GET_QUEUE_ATTRIBUTES: Final = "arn:aws:states:::aws-sdk:sqs:getQueueAttributes"
_LAMBDA_UPDATE_EVENT_SOURCE_MAPPING: Final = (
    "arn:aws:states:::aws-sdk:lambda:updateEventSourceMapping"
)
LAMBDA_MAPPING_ID_PARAMETER: Final = "Uuid"
"""Step Functions spells aws-sdk parameters in the PascalCase of the AWS SDK for Java's member
names, so Lambda's ``UUID`` is ``Uuid`` here (as in EventBridge Scheduler's universal targets).
moto passes parameters to boto3 verbatim; see :mod:`platform_replay.emulation`."""


@dataclass(frozen=True)
class ReplayTarget:
    """What one projection's replay reads, where it sends it, and which mapping it enables.

    ``event_types`` empty means every event of ``aggregate_types``. ``live_mapping_uuid`` is the
    live queue's event source mapping, created disabled by the projection's deployment.
    ``dead_letter_queue_url``: the replay queue's dead-letter queue; when set, a replay fails if
    anything reaches it while it runs (strongly advised: without it a rebuild cannot tell that its
    ``begin`` or ``promote`` was dead-lettered).
    """

    projection: str
    table_name: str
    aggregate_types: tuple[str, ...]
    replay_queue_url: str
    live_mapping_uuid: str
    event_types: tuple[str, ...] = ()
    dead_letter_queue_url: str | None = None
    index_name: str = layout.REPLAY_INDEX_NAME
    shard_count: int = layout.REPLAY_SHARD_COUNT
    page_size: int = DEFAULT_PAGE_SIZE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    drain_poll_seconds: int = DEFAULT_DRAIN_POLL_SECONDS
    comment: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Tuples keep the target hashable and the definition deterministic; accept any sequence.
        object.__setattr__(self, "aggregate_types", tuple(self.aggregate_types))
        object.__setattr__(self, "event_types", tuple(self.event_types))
        problems = []
        for name in ("projection", "table_name", "replay_queue_url", "live_mapping_uuid"):
            if not getattr(self, name):
                problems.append(f"{name} is empty")
        if not self.aggregate_types or not all(self.aggregate_types):
            problems.append("aggregate_types needs at least one non-empty aggregate type")
        if len(set(self.aggregate_types)) != len(self.aggregate_types):
            problems.append("aggregate_types has duplicates")
        if not all(self.event_types):
            problems.append("event_types has an empty name")
        if len(set(self.event_types)) > MAX_FILTER_EVENT_TYPES:
            problems.append(f"event_types has more than {MAX_FILTER_EVENT_TYPES} names")
        if self.shard_count < 1:
            problems.append("shard_count must be at least 1")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            problems.append(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        if self.max_concurrency < 1:
            problems.append("max_concurrency must be at least 1")
        if self.drain_poll_seconds < 1:
            problems.append("drain_poll_seconds must be at least 1")
        if self.dead_letter_queue_url == "":
            problems.append("dead_letter_queue_url is empty (None: no check)")
        if problems:
            raise ValueError("invalid replay target: " + "; ".join(problems))

    @property
    def partitions(self) -> tuple[str, ...]:
        """Every replay index partition the replay reads, in a stable order."""
        return tuple(
            layout.replay_partition(aggregate_type, shard)
            for aggregate_type in self.aggregate_types
            for shard in range(self.shard_count)
        )


def replay_state_machine_definition(target: ReplayTarget) -> dict[str, Any]:
    """The replay state machine's ASL definition (JSON-serialisable data).

    States, in order: ``Plan`` (the partitions to read), ``DeadLetterBaseline`` (with a
    dead-letter queue), ``Mode``; for a rebuild ``PauseLive``, ``PackBegin``/``SendBegin`` and
    its drain (``Begin*``); then ``ReplayShards`` (a Map over the partitions, at most
    ``max_concurrency`` at a time; each reads its partition page by page and sends one message
    per non-empty page), ``CountShards``/``SumCounts*`` (the total), the drain loop
    (``DrainWait``, ``QueueDepth``, ``IsQueueEmpty``, ``CountEmptyPoll``/``ResetEmptyPolls``,
    ``IsDrained``), the dead-letter check, ``AfterReplay``; for a rebuild
    ``PackPromote``/``SendPromote`` and its drain (``Promote*``); ``EnableLiveMapping`` and
    ``Report`` (the execution's output). Failures: ``OnFailure``, ``ReplayFailed`` (first replay:
    the live mapping stays off) or ``PackAbort``/``SendAbort``/``ResumeLive``/``RebuildFailed``.
    """
    partitions = target.partitions
    watch = target.dead_letter_queue_url is not None
    after_replay_drained = DEAD_LETTERS if watch else AFTER_REPLAY
    after_begin_drained = _prefixed(BEGIN_PREFIX, DEAD_LETTERS) if watch else REPLAY_SHARDS
    after_promote_drained = (
        _prefixed(PROMOTE_PREFIX, DEAD_LETTERS) if watch else ENABLE_LIVE_MAPPING
    )
    rebuilding = _is_true("$.rebuild")
    states: dict[str, Any] = {
        PLAN: {
            "Type": "Pass",
            "Comment": "What this replay reads and where it sends it (progress reads this too).",
            "Parameters": {
                "plan": plan_of(target),
                # Not $$.Execution.StartTime: moto hands that to the state data as a datetime
                # object, which its DescribeExecution then cannot serialise.
                "started_at.$": "$$.State.EnteredTime",
                "request.$": "$",
            },
            "Next": DEAD_LETTER_BASELINE if watch else MODE,
        },
        MODE: {
            "Type": "Choice",
            "Choices": [
                {**_is_true(f"$.request.{REBUILD_INPUT}"), "Next": REBUILD_MODE},
                {
                    "And": [
                        {"Variable": f"$.request.{REBUILD_INPUT}", "IsPresent": True},
                        {"Not": {"Variable": f"$.request.{REBUILD_INPUT}", "IsBoolean": True}},
                    ],
                    "Next": INVALID_INPUT,
                },
            ],
            "Default": NEW_PROJECTION_MODE,
        },
        INVALID_INPUT: {
            "Type": "Fail",
            "Error": INVALID_INPUT_ERROR,
            "Cause": f'The input is {{}} (a first replay) or {{"{REBUILD_INPUT}": true}}.',
        },
        NEW_PROJECTION_MODE: {
            "Type": "Pass",
            "Comment": "A first replay: pages go to the active generation; live is off already.",
            "Result": False,
            "ResultPath": "$.rebuild",
            "Next": REPLAY_SHARDS,
        },
        REBUILD_MODE: {
            "Type": "Pass",
            "Result": True,
            "ResultPath": "$.rebuild",
            "Next": PAUSE_LIVE,
        },
        PAUSE_LIVE: {
            **_mapping_state(target, enabled=False),
            "Comment": "Live events wait in their queue while the new generation is built; "
            "the projector catches up anything applied meanwhile before it promotes.",
            "ResultPath": None,
            "Catch": [_catch()],
            "Next": PACK_BEGIN,
        },
        **_control_states(
            target,
            ControlAction.BEGIN,
            PACK_BEGIN,
            SEND_BEGIN,
            _prefixed(BEGIN_PREFIX, START_DRAIN),
        ),
        **_drain_states(target, prefix=BEGIN_PREFIX, done=after_begin_drained),
        REPLAY_SHARDS: {
            "Type": "Map",
            "Comment": "One iteration per replay index partition; pages of a partition in order.",
            "ItemsPath": "$.plan.partitions",
            "ItemSelector": {"partition.$": "$$.Map.Item.Value", "sent": 0},
            "MaxConcurrency": target.max_concurrency,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": FIRST_PAGE,
                "States": _shard_states(target),
            },
            "ResultPath": "$.shards",
            "Catch": [_catch()],
            "Next": COUNT_SHARDS,
        },
        **_total_states(len(partitions)),
        **_drain_states(target, prefix="", done=after_replay_drained),
        AFTER_REPLAY: {
            "Type": "Choice",
            "Choices": [{**rebuilding, "Next": PACK_PROMOTE}],
            "Default": ENABLE_LIVE_MAPPING,
        },
        **_control_states(
            target,
            ControlAction.PROMOTE,
            PACK_PROMOTE,
            SEND_PROMOTE,
            _prefixed(PROMOTE_PREFIX, START_DRAIN),
        ),
        **_drain_states(target, prefix=PROMOTE_PREFIX, done=after_promote_drained),
        ENABLE_LIVE_MAPPING: {
            **_mapping_state(target, enabled=True),
            "Comment": "The replay queue drained: live events (waiting in their queue) flow now.",
            "ResultSelector": {"state.$": "$.State"},
            "ResultPath": "$.live_mapping",
            "Next": REPORT,
        },
        REPORT: {
            "Type": "Pass",
            "Parameters": {
                "projection.$": "$.plan.projection",
                "rebuild.$": "$.rebuild",
                "events_sent": {"total.$": "$.totals.values[0]", "per_shard.$": "$.shards"},
                "live_mapping_state.$": "$.live_mapping.state",
                "started_at.$": "$.started_at",
                "finished_at.$": "$$.State.EnteredTime",
            },
            "End": True,
        },
        **_failure_states(target),
    }
    if watch:
        states.update(_dead_letter_states(target))
    definition: dict[str, Any] = {
        "Comment": target.comment or f"Replays the event store into {target.projection}",
        "StartAt": PLAN,
        "States": states,
    }
    return definition


def plan_of(target: ReplayTarget) -> dict[str, Any]:
    """The ``Plan`` state's description of a replay: also how progress finds queue and mapping."""
    return {
        "projection": target.projection,
        "partitions": list(target.partitions),
        "event_types": list(target.event_types),
        "page_size": target.page_size,
        "replay_queue_url": target.replay_queue_url,
        "live_mapping_uuid": target.live_mapping_uuid,
        "dead_letter_queue_url": target.dead_letter_queue_url,
    }


def plan_from_definition(definition: str | Mapping[str, Any]) -> dict[str, Any]:
    """The plan recorded in a deployed definition (as returned by ``DescribeStateMachine``)."""
    document = json.loads(definition) if isinstance(definition, str) else definition
    try:
        plan = document["States"][PLAN]["Parameters"]["plan"]
    except (KeyError, TypeError) as error:
        msg = "not a replay state machine definition (no Plan state)"
        raise ValueError(msg) from error
    if not isinstance(plan, dict):
        msg = "the Plan state's plan is not an object"
        raise ValueError(msg)
    return plan


# ---------------------------------------------------------------------------------- IAM
IAM_POLICY_VERSION: Final = "2012-10-17"


def replay_role_statements(
    *,
    table_arn: str,
    replay_queue_arn: str,
    live_mapping_arn: str,
    index_name: str = layout.REPLAY_INDEX_NAME,
    replay_queue_kms_key_arn: str | None = None,
    dead_letter_queue_arn: str | None = None,
) -> list[dict[str, Any]]:
    """The least-privilege IAM statements of the replay state machine's role.

    Query on the replay index only (not the table: the replay never reads by primary key), send
    and depth on the replay queue only, an update of the one live mapping it pauses and enables,
    and (``dead_letter_queue_arn``, when the target names it) the depth of the replay queue's
    dead-letter queue. ``replay_queue_kms_key_arn``: the queue's customer-managed key, if it has
    one (SQS-managed encryption needs no grant).
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadReplayIndex",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [f"{table_arn}/index/{index_name}"],
        },
        {
            "Sid": "FeedReplayQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
            "Resource": [replay_queue_arn],
        },
        {
            "Sid": "EnableLiveMapping",
            "Effect": "Allow",
            "Action": ["lambda:UpdateEventSourceMapping"],
            "Resource": [live_mapping_arn],
        },
    ]
    if dead_letter_queue_arn is not None:
        statements.append(
            {
                "Sid": "WatchDeadLetters",
                "Effect": "Allow",
                "Action": ["sqs:GetQueueAttributes"],
                "Resource": [dead_letter_queue_arn],
            }
        )
    if replay_queue_kms_key_arn is not None:
        statements.append(
            {
                "Sid": "EncryptReplayMessages",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": [replay_queue_kms_key_arn],
            }
        )
    return statements


def replay_role_policy(
    *,
    table_arn: str,
    replay_queue_arn: str,
    live_mapping_arn: str,
    index_name: str = layout.REPLAY_INDEX_NAME,
    replay_queue_kms_key_arn: str | None = None,
    dead_letter_queue_arn: str | None = None,
) -> dict[str, Any]:
    """:func:`replay_role_statements` as a whole policy document."""
    return {
        "Version": IAM_POLICY_VERSION,
        "Statement": replay_role_statements(
            table_arn=table_arn,
            replay_queue_arn=replay_queue_arn,
            live_mapping_arn=live_mapping_arn,
            index_name=index_name,
            replay_queue_kms_key_arn=replay_queue_kms_key_arn,
            dead_letter_queue_arn=dead_letter_queue_arn,
        ),
    }


def replay_assume_role_policy() -> dict[str, Any]:
    """The trust policy that lets Step Functions assume the replay role."""
    return {
        "Version": IAM_POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


# ---------------------------------------------------------------------------------- one shard
def _shard_states(target: ReplayTarget) -> dict[str, Any]:
    """Read one partition page by page; send each non-empty page as one message.

    The state data stays small between pages: a page's items live in the data only from the Query
    to the Pack state, which keeps just the message body and the shard's running count
    (``{"partition", "sent", "next"}``), so no state ever holds two copies of a page.
    """
    one: dict[str, Any] = {"Variable": "$.page.Count", "NumericEquals": 1}
    some: dict[str, Any] = {"Variable": "$.page.Count", "NumericGreaterThan": 0}
    more: dict[str, Any] = {"Variable": "$.page.LastEvaluatedKey", "IsPresent": True}
    return {
        FIRST_PAGE: _query_state(target, exclusive_start_key=False),
        NEXT_PAGE: _query_state(target, exclusive_start_key=True),
        ROUTE_PAGE: {
            "Type": "Choice",
            "Choices": [
                # A page of one item has its own Pack states: see _pack_state.
                {"And": [one, more], "Next": PACK_ONE_PAGE},
                {**one, "Next": PACK_ONE_LAST_PAGE},
                {"And": [some, more], "Next": PACK_PAGE},
                {**some, "Next": PACK_LAST_PAGE},
                # Every item of this page was filtered out (FilterExpression runs after Limit).
                {"Variable": "$.page.LastEvaluatedKey", "IsPresent": True, "Next": SKIP_EMPTY_PAGE},
            ],
            "Default": SHARD_DONE,
        },
        PACK_PAGE: _pack_state(has_next=True, single=False, send_state=SEND_PAGE),
        PACK_ONE_PAGE: _pack_state(has_next=True, single=True, send_state=SEND_PAGE),
        SEND_PAGE: _send_state(target, next_state=NEXT_PAGE),
        PACK_LAST_PAGE: _pack_state(has_next=False, single=False, send_state=SEND_LAST_PAGE),
        PACK_ONE_LAST_PAGE: _pack_state(has_next=False, single=True, send_state=SEND_LAST_PAGE),
        SEND_LAST_PAGE: _send_state(target, next_state=SHARD_DONE),
        SKIP_EMPTY_PAGE: {
            "Type": "Pass",
            "Parameters": {
                "partition.$": "$.partition",
                "sent.$": "$.sent",
                "next.$": "$.page.LastEvaluatedKey",
            },
            "Next": NEXT_PAGE,
        },
        SHARD_DONE: {
            "Type": "Pass",
            "Parameters": {"partition.$": "$.partition", "events_sent.$": "$.sent"},
            "End": True,
        },
    }


def _query_state(target: ReplayTarget, *, exclusive_start_key: bool) -> dict[str, Any]:
    names = {
        "#shard": layout.Attr.REPLAY_SHARD.value,
        "#envelope": layout.Attr.ENVELOPE.value,
        "#sort": layout.Attr.REPLAY_SORT.value,
    }
    values: dict[str, Any] = {":shard": {"S.$": "$.partition"}}
    parameters: dict[str, Any] = {
        "TableName": target.table_name,
        "IndexName": target.index_name,
        "KeyConditionExpression": "#shard = :shard",
        # The envelope text is all a page message needs; the sort key names the page (dedup id).
        "ProjectionExpression": "#envelope, #sort",
        "ScanIndexForward": True,
        "Limit": target.page_size,
    }
    if target.event_types:
        names["#type"] = layout.Attr.EVENT_TYPE.value
        placeholders = []
        for index, event_type in enumerate(sorted(set(target.event_types))):
            placeholder = f":type{index}"
            placeholders.append(placeholder)
            values[placeholder] = {"S": event_type}
        parameters["FilterExpression"] = f"#type IN ({', '.join(placeholders)})"
    parameters["ExpressionAttributeNames"] = names
    parameters["ExpressionAttributeValues"] = values
    if exclusive_start_key:
        parameters["ExclusiveStartKey.$"] = "$.next"
    return {
        "Type": "Task",
        "Resource": _DYNAMODB_QUERY,
        "Parameters": parameters,
        "ResultPath": "$.page",
        "Retry": [_retry(DYNAMODB_RETRY_ERRORS)],
        "Next": ROUTE_PAGE,
    }


def _pack_state(*, has_next: bool, single: bool, send_state: str) -> dict[str, Any]:
    """The page's message body and the shard's running count.

    ``single``: moto's JSONPath returns the one match of ``$.page.Items[*].envelope.S`` as a bare
    string instead of a one-element list (AWS always answers a list for a wildcard path), so a
    page of one item builds its list explicitly; on AWS both forms give the same body.
    """
    envelopes: dict[str, str] = (
        {"replayed_events.$": "States.Array($.page.Items[0].envelope.S)"}
        if single
        else {"replayed_events.$": "$.page.Items[*].envelope.S"}
    )
    carry: dict[str, Any] = {
        "partition.$": "$.partition",
        # Counted before sending: a send that fails after its retries fails the whole execution.
        "sent.$": "States.MathAdd($.sent, States.ArrayLength($.page.Items))",
    }
    if has_next:
        carry["next.$"] = "$.page.LastEvaluatedKey"
    return {
        "Type": "Pass",
        "Parameters": {
            "carry": carry,
            "body": envelopes,
            # Same page, same id: a retried send within SQS's 5-minute window is dropped, while
            # another execution (a rebuild) sends its pages again.
            "deduplication_id.$": (
                "States.Hash(States.Format('{}|{}|{}', $$.Execution.Name, $.partition, "
                "$.page.Items[0].replay_sort.S), 'SHA-256')"
            ),
        },
        "Next": send_state,
    }


def _send_state(target: ReplayTarget, *, next_state: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": _SQS_SEND_MESSAGE,
        "Parameters": {
            "QueueUrl": target.replay_queue_url,
            "MessageBody.$": "States.JsonToString($.body)",
            # One group per partition: its pages arrive in order, partitions in parallel.
            "MessageGroupId.$": "$.carry.partition",
            "MessageDeduplicationId.$": "$.deduplication_id",
        },
        "ResultPath": None,
        "OutputPath": "$.carry",
        "Retry": [_retry(SQS_RETRY_ERRORS)],
        "Next": next_state,
    }


# ---------------------------------------------------------------------------------- totals
def _sum_level_name(level: int) -> str:
    return f"{SUM_LEVEL_PREFIX}{level}"


def _total_states(count: int) -> dict[str, Any]:
    """The Map's per-partition counts as a list, then pairwise sums of it (ASL has no array sum),
    one Pass per level, so that intrinsic functions nest at most two deep however many partitions
    there are. The total ends up in ``$.totals.values[0]``."""
    if count == 1:
        # moto answers a wildcard's single match as a bare value and ``$.shards[0].events_sent``
        # as a one-element list (AWS: a list, and the number); this spelling means the same on both.
        return {
            COUNT_SHARDS: {
                "Type": "Pass",
                "Parameters": {"only.$": "States.ArrayGetItem($.shards, 0)"},
                "ResultPath": "$.totals",
                "Next": _sum_level_name(0),
            },
            _sum_level_name(0): {
                "Type": "Pass",
                "Parameters": {"values.$": "States.Array($.totals.only.events_sent)"},
                "ResultPath": "$.totals",
                "Next": START_DRAIN,
            },
        }
    states: dict[str, Any] = {
        COUNT_SHARDS: {
            "Type": "Pass",
            "Parameters": {"values.$": "$.shards[*].events_sent"},
            "ResultPath": "$.totals",
            "Next": _sum_level_name(0),
        }
    }
    level = 0
    while count > 1:
        terms = [
            f"States.MathAdd($.totals.values[{i}], $.totals.values[{i + 1}])"
            for i in range(0, count - 1, 2)
        ]
        if count % 2:
            terms.append(f"$.totals.values[{count - 1}]")
        count = len(terms)
        states[_sum_level_name(level)] = {
            "Type": "Pass",
            "Parameters": {"values.$": f"States.Array({', '.join(terms)})"},
            "ResultPath": "$.totals",
            "Next": _sum_level_name(level + 1) if count > 1 else START_DRAIN,
        }
        level += 1
    return states


# ---------------------------------------------------------------------------------- drain
def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def drain_state_names(prefix: str = "") -> tuple[str, ...]:
    """The states of one drain loop (the replay's own has no prefix)."""
    return tuple(
        _prefixed(prefix, name)
        for name in (
            START_DRAIN,
            DRAIN_WAIT,
            QUEUE_DEPTH,
            IS_QUEUE_EMPTY,
            COUNT_EMPTY_POLL,
            RESET_EMPTY_POLLS,
            IS_DRAINED,
        )
    )


def _drain_states(target: ReplayTarget, *, prefix: str, done: str) -> dict[str, Any]:
    """Wait until the replay queue is empty (nothing visible, in flight or delayed) at
    ``EMPTY_POLLS_TO_DRAIN`` polls in a row, then go to ``done``."""
    start, wait, depth, is_empty, count, reset, is_drained = drain_state_names(prefix)
    empty = [
        {"Variable": f"$.depth.{key}", "StringEquals": "0"}
        for key in ("visible", "in_flight", "delayed")
    ]
    return {
        start: {
            "Type": "Pass",
            "Result": {"count": 0},
            "ResultPath": "$.empty_polls",
            "Next": wait,
        },
        wait: {"Type": "Wait", "Seconds": target.drain_poll_seconds, "Next": depth},
        depth: {
            "Type": "Task",
            "Resource": _SQS_GET_QUEUE_ATTRIBUTES,
            "Parameters": {
                "QueueUrl": target.replay_queue_url,
                "AttributeNames": list(QUEUE_DEPTH_ATTRIBUTES),
            },
            "ResultSelector": {
                "visible.$": "$.Attributes.ApproximateNumberOfMessages",
                "in_flight.$": "$.Attributes.ApproximateNumberOfMessagesNotVisible",
                "delayed.$": "$.Attributes.ApproximateNumberOfMessagesDelayed",
            },
            "ResultPath": "$.depth",
            "Retry": [_retry(SQS_RETRY_ERRORS)],
            "Catch": [_catch()],
            "Next": is_empty,
        },
        is_empty: {
            "Type": "Choice",
            "Choices": [{"And": empty, "Next": count}],
            "Default": reset,
        },
        count: {
            "Type": "Pass",
            "Parameters": {"count.$": "States.MathAdd($.empty_polls.count, 1)"},
            "ResultPath": "$.empty_polls",
            "Next": is_drained,
        },
        reset: {
            "Type": "Pass",
            "Comment": "Anything seen in the queue starts the count of empty polls again.",
            "Result": {"count": 0},
            "ResultPath": "$.empty_polls",
            "Next": wait,
        },
        is_drained: {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.empty_polls.count",
                    "NumericGreaterThanEquals": EMPTY_POLLS_TO_DRAIN,
                    "Next": done,
                }
            ],
            "Default": wait,
        },
    }


# ---------------------------------------------------------------------------------- rebuild
def _control_states(
    target: ReplayTarget, action: ControlAction, pack: str, send: str, next_state: str
) -> dict[str, Any]:
    """Send one control message: ``{"replay_control": action, "rebuild": <the execution's
    name>}`` in the control group, deduplicated per execution and action."""
    return {
        pack: {
            "Type": "Pass",
            "Parameters": {REPLAY_CONTROL: action.value, f"{REBUILD}.$": "$$.Execution.Name"},
            "ResultPath": "$.control",
            "Next": send,
        },
        send: {
            "Type": "Task",
            "Resource": _SQS_SEND_MESSAGE,
            "Parameters": {
                "QueueUrl": target.replay_queue_url,
                "MessageBody.$": "States.JsonToString($.control)",
                "MessageGroupId": CONTROL_GROUP,
                "MessageDeduplicationId.$": (
                    f"States.Hash(States.Format('{{}}|{action.value}', $$.Execution.Name), "
                    "'SHA-256')"
                ),
            },
            "ResultPath": None,
            "Retry": [_retry(SQS_RETRY_ERRORS)],
            "Catch": [_catch()],
            "Next": next_state,
        },
    }


def _mapping_state(target: ReplayTarget, *, enabled: bool) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": _LAMBDA_UPDATE_EVENT_SOURCE_MAPPING,
        "Parameters": {LAMBDA_MAPPING_ID_PARAMETER: target.live_mapping_uuid, "Enabled": enabled},
        "Retry": [_retry(LAMBDA_RETRY_ERRORS, max_attempts=8)],
    }


def _is_true(path: str) -> dict[str, Any]:
    """A Choice condition: ``path`` holds the boolean true (absent or anything else: false)."""
    return {
        "And": [
            {"Variable": path, "IsPresent": True},
            {"Variable": path, "IsBoolean": True},
            {"Variable": path, "BooleanEquals": True},
        ]
    }


def _catch() -> dict[str, Any]:
    # The state data is kept (the mode is in it); the error lands beside it.
    return {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": ON_FAILURE}


def _failure_states(target: ReplayTarget) -> dict[str, Any]:
    """A first replay fails as it is (the live mapping stays off, nothing was live yet); a
    rebuild drops its generation, switches live back on, then fails."""
    abort = _control_states(target, ControlAction.ABORT, PACK_ABORT, SEND_ABORT, RESUME_LIVE)
    abort[SEND_ABORT].update(
        Comment="Best effort: a later rebuild's begin supersedes an unfinished one anyway.",
        Catch=[
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.abort_failure", "Next": RESUME_LIVE}
        ],
    )
    return {
        ON_FAILURE: {
            "Type": "Choice",
            "Choices": [{**_is_true("$.rebuild"), "Next": PACK_ABORT}],
            "Default": REPLAY_FAILED,
        },
        REPLAY_FAILED: {
            "Type": "Fail",
            "ErrorPath": "$.failure.Error",
            "CausePath": "$.failure.Cause",
        },
        **abort,
        RESUME_LIVE: {
            **_mapping_state(target, enabled=True),
            "Comment": "The active generation never changed: live events flow into it again.",
            "ResultPath": None,
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.resume_failure",
                    "Next": REBUILD_FAILED,
                }
            ],
            "Next": REBUILD_FAILED,
        },
        REBUILD_FAILED: {
            "Type": "Fail",
            "ErrorPath": "$.failure.Error",
            "CausePath": "$.failure.Cause",
        },
    }


def _dead_letter_states(target: ReplayTarget) -> dict[str, Any]:
    """Count the replay queue's dead letters at the start and after each drain: any new one is a
    page or control message the projector could not apply, so the model is incomplete."""
    states: dict[str, Any] = {
        DEAD_LETTER_BASELINE: {
            **_dead_letter_count(target),
            "ResultPath": "$.dead_letters_before",
            "Next": MODE,
        },
        ON_DEAD_LETTERS: {
            "Type": "Choice",
            "Choices": [{**_is_true("$.rebuild"), "Next": NOTE_DEAD_LETTERS}],
            "Default": REPLAY_DEAD_LETTERED,
        },
        REPLAY_DEAD_LETTERED: {
            "Type": "Fail",
            "Error": DEAD_LETTER_ERROR,
            "Cause": (
                "Replay messages reached the replay queue's dead-letter queue: the model misses "
                "events, so the live mapping stays disabled. Fix the cause, redrive or purge the "
                "dead-letter queue, and replay again."
            ),
        },
        NOTE_DEAD_LETTERS: {
            "Type": "Pass",
            "Result": {
                "Error": REBUILD_DEAD_LETTER_ERROR,
                "Cause": (
                    "A page or control message of this rebuild reached the replay queue's "
                    "dead-letter queue: the new generation is incomplete and was not promoted."
                ),
            },
            "ResultPath": "$.failure",
            "Next": PACK_ABORT,
        },
    }
    for prefix, ok, dead in (
        ("", AFTER_REPLAY, ON_DEAD_LETTERS),
        (BEGIN_PREFIX, REPLAY_SHARDS, NOTE_DEAD_LETTERS),
        (PROMOTE_PREFIX, ENABLE_LIVE_MAPPING, NOTE_DEAD_LETTERS),
    ):
        check, choice = _prefixed(prefix, DEAD_LETTERS), _prefixed(prefix, ANY_DEAD_LETTERED)
        states[check] = {
            **_dead_letter_count(target),
            "ResultPath": "$.dead_letters",
            "Next": choice,
        }
        states[choice] = {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.dead_letters.count",
                    "NumericGreaterThanPath": "$.dead_letters_before.count",
                    "Next": dead,
                }
            ],
            "Default": ok,
        }
    return states


def _dead_letter_count(target: ReplayTarget) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": _SQS_GET_QUEUE_ATTRIBUTES,
        "Parameters": {
            "QueueUrl": target.dead_letter_queue_url,
            "AttributeNames": ["ApproximateNumberOfMessages"],
        },
        # SQS answers counts as strings; the Choice compares numbers.
        "ResultSelector": {
            "count.$": "States.StringToJson($.Attributes.ApproximateNumberOfMessages)"
        },
        "Retry": [_retry(SQS_RETRY_ERRORS)],
        "Catch": [_catch()],
    }


def _retry(errors: Sequence[str], *, max_attempts: int = 6) -> dict[str, Any]:
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": 1,
        "BackoffRate": 2.0,
        "MaxAttempts": max_attempts,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }
