"""Replay throughput: events/s from the event store to a read model through the real replay path.

Three ways over the same history (``FULL_EVENTS`` events of the sample domain, spread over
accounts of ``EVENTS_PER_ACCOUNT`` events), replayed into the ``balances`` projection:

(a) **moto**: the real state machine definition (``platform_replay``) executed by moto's Step
    Functions interpreter in this process (``execute_state_machine``), reading moto's DynamoDB
    replay index page by page and sending each page to the replay FIFO queue, where a poller
    (``platform_local.pollers.SqsEventSource``, Lambda's event source mapping) hands batches of
    10 pages to the projection's real Lambda handler, which folds them into Postgres. Timed from
    ``StartExecution`` to the last batch committed (the model is whole) and to the execution's
    end (two empty drain polls later, live mapping on).
(b) **local runner**: ``platform-local``'s own path: a ``LocalSystem`` (moto behind its DynamoDB
    lock, its pollers on threads, its gateway) on Postgres (``--database-url``), and the
    ``platform-local replay balances`` command against its HTTP API, which starts a blue/green
    rebuild and follows its progress until the new generation is live.
(c) **in-memory fold**: the ceiling: the same pages decoded (``decode_message_envelopes``, what
    the projector does with a page) and folded by the projection's own apply functions into a
    dict. No AWS, no database.

Each read model is compared with the fold at the end (every account's row, field by field).
Then run (a) again under cProfile (every thread: the interpreter's, the poller's, this one; at
``PROFILE_EVENTS``, as profiling slows moto several times over; at smoke size the timed run is
the profiled one) and show where the CPU time goes, grouped by owner.

moto's Query on a secondary index is quadratic over a replay; (a) and (b) run with
:class:`ReplayIndexPages`, a harness workaround that leaves every page the same (see there), and
one row shows (a) without it, at ``AS_IS_EVENTS`` at most. A full run (100,000 events) took
about 7-8 minutes on the 2-core machine, extrapolated from 50,000 events in 4 minutes.

Sizes: ``BENCHMARK_REPLAY_EVENTS`` overrides the event count (e.g. 10000 to check on a busy
machine); ``--smoke`` uses ``SMOKE_EVENTS``. Postgres: ``BENCHMARK_DATABASE_URL`` or
``TEST_DATABASE_URL`` (a server URL; each run creates and drops its own databases).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import tempfile
import threading
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import boto3
from moto import mock_aws
from platform_local.cli import MAX_PROGRESS_INTERVAL
from platform_local.pollers import PollerThreads, SqsEventSource, invoke
from platform_local.projections import KNOWN, LocalProjection
from platform_projections.generations import read_generations
from platform_projections.lambda_handler import make_lambda_handler
from platform_projections.positions import runtime_tables
from platform_projections.service import EVENT_STORE_TABLE_ENV
from platform_replay.definition import (
    DEFAULT_PAGE_SIZE,
    ReplayTarget,
    replay_state_machine_definition,
)
from platform_replay.emulation import install_sdk_parameter_casing
from platform_sql import DATABASE_URL_ENV, DatabaseConfig, create_database_engine

import account_events
from benchmarks.report import Table, stopwatch
from platform_events import EventEnvelope, decode_message_envelopes, default_registry, layout
from platform_events.dynamodb import to_dynamodb_json
from platform_events.messaging import REPLAYED_EVENTS
from platform_testing.postgres import TEST_DATABASE_URL, throwaway_database

FULL_EVENTS: Final = 100_000
SMOKE_EVENTS: Final = 300
EVENTS_PER_ACCOUNT: Final = 50
SMOKE_EVENTS_PER_ACCOUNT: Final = 10
PROFILE_EVENTS: Final = 3_000
"""cProfile slows moto several times over: the profiled run is smaller than the timed one (the
time shares are what it is for)."""
PROFILE_TOP: Final = 25
PER_GROUP: Final = 5
AS_IS_EVENTS: Final = 10_000
"""moto without the harness' Query workaround, at most this many events (quadratic)."""
EVENTS_ENV: Final = "BENCHMARK_REPLAY_EVENTS"
DATABASE_ENV: Final = "BENCHMARK_DATABASE_URL"
PROJECTION: Final = "balances"
PAGE_SIZE: Final = DEFAULT_PAGE_SIZE
"""What a deployed replay uses (``replay_page_size`` default)."""
REPLAY_BATCH_SIZE: Final = 10
"""Lambda's most messages per batch from a FIFO queue: the replay mapping's batch size."""
DRAIN_POLL_SECONDS: Final = 1
CLI_INTERVAL: Final = 0.5
"""``platform-local replay``'s default seconds between progress reads."""
REGION: Final = "eu-west-1"
TABLE: Final = "bench-event-store"
BATCH_WRITE_ITEMS: Final = 25
"""DynamoDB's most items per BatchWriteItem."""
EXECUTION_TIMEOUT_SECONDS: Final = 1800.0
QUIET_LOGGERS: Final = ("moto", "projection-balances", "platform_local", "botocore")
T0: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
QUIET_ENVIRONMENT: Final = {
    # The handler's per-batch INFO log and EMF metrics would print to stdout per batch.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "cqrs-benchmarks",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


# ---------------------------------------------------------------------------------- the history
@dataclass(frozen=True)
class History:
    """The events (store order) and what the event store holds for them."""

    envelopes: list[EventEnvelope]
    items: list[dict[str, Any]]
    """Event-store items in DynamoDB JSON, built by ``platform_events``' item codec."""

    @property
    def stream_ids(self) -> list[str]:
        return sorted({envelope.stream_id for envelope in self.envelopes})

    def pages(self, size: int = PAGE_SIZE) -> list[str]:
        """Replay page bodies, as the state machine builds them: envelope texts as stored, in
        partition order, ``size`` per page."""
        by_partition: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for item in self.items:
            partition = item[layout.Attr.REPLAY_SHARD.value]["S"]
            by_partition[partition].append(
                (item[layout.Attr.REPLAY_SORT.value]["S"], item[layout.Attr.ENVELOPE.value]["S"])
            )
        bodies = []
        for partition in sorted(by_partition):
            texts = [text for _, text in sorted(by_partition[partition])]
            for start in range(0, len(texts), size):
                bodies.append(json.dumps({REPLAYED_EVENTS: texts[start : start + size]}))
        return bodies


def build_history(events: int, per_account: int) -> History:
    """Accounts opened, then deposits and withdrawals (never below zero); every tenth account
    withdraws everything and closes when its history ends. Deterministic."""
    accounts = max(1, events // per_account)
    envelopes: list[EventEnvelope] = []
    for index in range(accounts):
        stream_id = str(UUID(int=index + 1, version=4))
        length = per_account + (1 if index < events - accounts * per_account else 0)
        payloads: list[Any] = [account_events.AccountOpened(owner=f"owner {index}", currency="EUR")]
        balance = Decimal("0.00")
        closing = index % 10 == 0 and length >= 3
        movements = length - 1 - (2 if closing else 0)
        for step in range(movements):
            amount = Decimal(f"{step % 40 + 1}.25")
            if step % 3 == 2 and balance >= amount:
                payloads.append(account_events.MoneyWithdrawn(amount=amount, reference=None))
                balance -= amount
            else:
                payloads.append(account_events.MoneyDeposited(amount=amount, reference=f"r{step}"))
                balance += amount
        if closing:
            payloads.append(
                account_events.MoneyWithdrawn(amount=balance or Decimal("0.01"), reference="all")
            )
            payloads.append(account_events.AccountClosed())
        for version, payload in enumerate(payloads, start=1):
            envelopes.append(
                default_registry.envelope(
                    payload,
                    stream_id=stream_id,
                    version=version,
                    occurred_at=T0 + timedelta(minutes=version),
                    correlation_id=f"bench-{index}-{version}",
                )
            )
    return History(envelopes, [to_dynamodb_json(envelope) for envelope in envelopes])


def seed(dynamodb: Any, items: Sequence[dict[str, Any]], table: str = TABLE) -> None:
    for start in range(0, len(items), BATCH_WRITE_ITEMS):
        request = {
            table: [
                {"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_ITEMS]
            ]
        }
        while request:
            answer = dynamodb.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}


# ---------------------------------------------------------------------------------- (c) the fold
def fold(spec: LocalProjection, pages: Iterable[str]) -> dict[str, Any]:
    """The ceiling: decode every page as the projector does, apply in memory."""
    states: dict[str, Any] = {}
    projection = spec.declaration
    for body in pages:
        for envelope in decode_message_envelopes(body):
            states[envelope.stream_id] = projection.apply(states.get(envelope.stream_id), envelope)
    return states


def decode_only(pages: Iterable[str]) -> int:
    return sum(len(decode_message_envelopes(body)) for body in pages)


# ---------------------------------------------------------------------------------- the model
def read_model(spec: LocalProjection, url: str, stream_ids: Sequence[str]) -> dict[str, Any]:
    """The projection's active generation, as its own store loads it."""
    engine = create_database_engine(DatabaseConfig(url=url))
    try:
        with engine.connect() as connection:
            active = read_generations(connection, runtime_tables(spec.name), spec.name).active
            loaded = spec.declaration.store.load(connection, stream_ids, generation=active)
            return dict(loaded)
    finally:
        engine.dispose()


def same_as_fold(model: Mapping[str, Any], expected: Mapping[str, Any]) -> str:
    if model == expected:
        return "yes"
    missing = len(set(expected) - set(model))
    differing = sum(1 for key in expected if key in model and model[key] != expected[key])
    msg = f"the read model differs from the fold: {missing} rows missing, {differing} differ"
    raise AssertionError(msg)


# ---------------------------------------------------------------------------------- moto's Query
class ReplayIndexPages:
    """A harness workaround for one moto slowness, used by (a) and (b) alike.

    moto's ``Table.query`` on a secondary index sorts every item of the table, filters them by
    partition and skips the pages already read, on every call: a replay of N events costs
    O(N^2 log N) in moto alone, and 100,000 events would take hours. While this is installed,
    a Query on the replay index hands moto's own query code only the items it can return (the
    next ``Limit + 1`` of the partition after ``ExclusiveStartKey``, from a sorted copy of the
    partition kept per table), so moto still builds the answer (projection, filter, keys, size
    accounting) exactly as before. What our code sees is unchanged: the same pages, in the
    same order, with the same ``LastEvaluatedKey``.

    Valid because nothing writes the event store while a benchmark replays; the cache is
    rebuilt whenever the table's item count changes anyway.
    """

    def __init__(self) -> None:
        from moto.dynamodb.models.table import Table  # noqa: PLC0415 - moto internals

        self._table_class: Any = Table
        self._original: Any = Table.query
        self._cache: dict[int, tuple[int, dict[str, tuple[list[str], list[Any]]]]] = {}
        self.served = 0

    def __enter__(self) -> ReplayIndexPages:
        original, pages = self._original, self

        def query(table: Any, *args: Any, **kwargs: Any) -> Any:
            narrowed = pages._narrow(table, args, kwargs)
            if narrowed is None:
                return original(table, *args, **kwargs)
            saved = table.all_items
            table.all_items = lambda: narrowed
            try:
                pages.served += 1
                return original(table, *args, **kwargs)
            finally:
                table.all_items = saved

        self._table_class.query = query
        return self

    def __exit__(self, *exc: object) -> None:
        self._table_class.query = self._original

    def _narrow(self, table: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        names = (
            "hash_key",
            "range_comparison",
            "range_objs",
            "limit",
            "exclusive_start_key",
            "scan_index_forward",
            "projection_expressions",
            "index_name",
        )
        call = dict(zip(names, args, strict=False)) | kwargs
        conditions = call.get("hash_key_conditions") or []
        if (
            call.get("index_name") != layout.REPLAY_INDEX_NAME
            or call.get("range_comparison")
            or not call.get("scan_index_forward", True)
            or len(conditions) != 1
            or conditions[0][0] != layout.Attr.REPLAY_SHARD.value
            or not call.get("limit")
        ):
            return None
        keys, items = self._partition(table, str(conditions[0][1].value))
        start = call.get("exclusive_start_key")
        first = 0
        if start:
            first = bisect.bisect_right(keys, start[layout.Attr.REPLAY_SORT.value]["S"])
        return items[first : first + int(call["limit"]) + 1]

    def _partition(self, table: Any, partition: str) -> tuple[list[str], list[Any]]:
        count = sum(len(stream) for stream in table.items.values())
        cached = self._cache.get(id(table))
        if cached is None or cached[0] != count:
            by_partition: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            shard_attr, sort_attr = layout.Attr.REPLAY_SHARD.value, layout.Attr.REPLAY_SORT.value
            for stream in table.items.values():
                for item in stream.values():
                    shard, sort = item.attrs.get(shard_attr), item.attrs.get(sort_attr)
                    if shard is not None and sort is not None:
                        by_partition[str(shard.value)].append((str(sort.value), item))
            built = {}
            for name, entries in by_partition.items():
                entries.sort(key=lambda entry: entry[0])
                built[name] = ([key for key, _ in entries], [item for _, item in entries])
            cached = (count, built)
            self._cache[id(table)] = cached
        return cached[1].get(partition, ([], []))


# ---------------------------------------------------------------------------------- (a) moto
@dataclass
class ReplayTiming:
    to_model: float
    """StartExecution -> the last replay batch committed."""
    to_end: float
    """StartExecution -> the execution succeeded (drained, live mapping on)."""
    pages: int
    batches: int


@contextlib.contextmanager
def quiet_environment() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in QUIET_ENVIRONMENT}
    os.environ.update(QUIET_ENVIRONMENT)
    # moto's Step Functions logs an ERROR for every Choice that tests a path that is absent
    # (IsPresent false), which is how the definition tests for a last page.
    loggers = {name: logging.getLogger(name) for name in QUIET_LOGGERS}
    levels = {name: logger.level for name, logger in loggers.items()}
    for logger in loggers.values():
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(levels[name])
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _client(service: str) -> Any:
    # One untyped entry point, as platform-local's emulator: the harness talks to many services.
    factory: Any = boto3.client
    return factory(service, region_name=REGION)


def _placeholder_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("placeholder.py", "def handler(event, context):\n    return None\n")
    return archive.getvalue()


def _queue(sqs: Any, name: str, attributes: Mapping[str, str]) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(url), str(arn)


def replay_in_moto(
    spec: LocalProjection, history: History, database_url: str, *, profile: bool = False
) -> tuple[ReplayTiming, list[cProfile.Profile]]:
    """(a): deploy what the projection's stack deploys, in moto, seed the store, replay."""
    profiles: list[cProfile.Profile] = []
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        install_sdk_parameter_casing()
        dynamodb, sqs = _client("dynamodb"), _client("sqs")
        dynamodb.create_table(TableName=TABLE, **layout.event_store_key_schema())
        seed(dynamodb, history.items)
        fifo = {"FifoQueue": "true"}
        dlq_url, dlq_arn = _queue(sqs, f"{spec.name}-replay-dlq.fifo", fifo)
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        replay_url, replay_arn = _queue(
            sqs, f"{spec.name}-replay.fifo", {**fifo, "RedrivePolicy": redrive}
        )
        _, live_arn = _queue(sqs, f"{spec.name}-live.fifo", fifo)
        lambda_client = _client("lambda")
        role = _client("iam").create_role(
            RoleName="bench", AssumeRolePolicyDocument=json.dumps({"Statement": []})
        )["Role"]["Arn"]
        lambda_client.create_function(
            FunctionName=spec.service,
            Runtime="python3.12",
            Role=role,
            Handler="placeholder.handler",
            Code={"ZipFile": _placeholder_zip()},
        )
        mapping = lambda_client.create_event_source_mapping(
            EventSourceArn=live_arn, FunctionName=spec.service, Enabled=False
        )
        target = ReplayTarget(
            projection=spec.name,
            table_name=TABLE,
            aggregate_types=spec.declaration.aggregate_types,
            event_types=spec.declaration.event_types,
            replay_queue_url=replay_url,
            live_mapping_uuid=mapping["UUID"],
            dead_letter_queue_url=dlq_url,
            page_size=PAGE_SIZE,
            drain_poll_seconds=DRAIN_POLL_SECONDS,
        )
        stepfunctions = _client("stepfunctions")
        machine = stepfunctions.create_state_machine(
            name=f"replay-{spec.name}",
            definition=json.dumps(replay_state_machine_definition(target)),
            roleArn=role,
        )["stateMachineArn"]
        environment = {DATABASE_URL_ENV: database_url, EVENT_STORE_TABLE_ENV: TABLE}
        spec.migrate(environment)
        handler = make_lambda_handler(
            lambda: spec.build_projector(environment), projection=spec.name, service=spec.service
        )
        poller = SqsEventSource(
            name=f"{spec.name}-replay",
            sqs=sqs,
            queue_url=replay_url,
            queue_arn=replay_arn,
            handler=handler,
            function_name=spec.service,
            batch_size=REPLAY_BATCH_SIZE,
            region=REGION,
            # Long polling, as Lambda's mapping does: an idle poller spinning on empty receives
            # would take CPU from the interpreter it waits for.
            wait_seconds=1,
        )
        # The container's cold start (engine, first connection) is not the replay's cost.
        invoke(handler, {"Records": []}, spec.service)
        threads = PollerThreads([poller], idle_sleep=0.01)
        with _profiled_threads(profiles) if profile else contextlib.nullcontext():
            started_wall = time.time()
            with stopwatch() as elapsed:
                threads.start()
                execution = stepfunctions.start_execution(
                    stateMachineArn=machine, name="bench", input="{}"
                )["executionArn"]
                described = _wait_for_end(stepfunctions, execution)
            threads.stop()
        if described["status"] != "SUCCEEDED":
            msg = f"replay {described['status']}: {described.get('error')} {described.get('cause')}"
            raise RuntimeError(msg)
        last_batch = poller.stats.last_batch_at or started_wall
        return (
            ReplayTiming(
                to_model=last_batch - started_wall,
                to_end=elapsed(),
                pages=poller.stats.records,
                batches=poller.stats.batches,
            ),
            profiles,
        )


# ---------------------------------------------------------------------------------- (b) runner
@dataclass
class RunnerTiming:
    to_model: float
    """``platform-local replay`` started -> the replay poller's last batch (the promote: readers
    switch to the rebuilt generation)."""
    to_end: float
    """-> the command exited 0 (drained, promoted, live mapping on again)."""
    pages: int
    batches: int


@contextlib.contextmanager
def _runner_patches_undone() -> Iterator[None]:
    """The runner patches moto's DynamoDB classes (backends, ``Table.query``) and sets
    environment defaults process-wide; both are put back, so (a) and anything after this
    benchmark see moto as it was (with :class:`ReplayIndexPages` if that was installed)."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - moto internals
    from moto.dynamodb.models.table import Table  # noqa: PLC0415
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend  # noqa: PLC0415

    saved = {cls: dict(vars(cls)) for cls in (DynamoDBBackend, DynamoDBStreamsBackend, Table)}
    environment = dict(os.environ)
    try:
        yield
    finally:
        for cls, attributes in saved.items():
            for name in set(vars(cls)) - set(attributes):
                delattr(cls, name)
            for name, value in attributes.items():
                if vars(cls).get(name) is not value:
                    setattr(cls, name, value)
        os.environ.clear()
        os.environ.update(environment)


def replay_with_runner(history: History, database_url: str) -> RunnerTiming:
    """(b): a ``LocalSystem`` on Postgres, the history put into its event store, then the
    ``platform-local replay`` command against its HTTP API."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - moto internals
    from platform_local import aws as local_aws  # noqa: PLC0415 - starts nothing on import
    from platform_local.cli import replay_command  # noqa: PLC0415
    from platform_local.system import LocalSettings, LocalSystem  # noqa: PLC0415

    with (
        _runner_patches_undone(),
        tempfile.TemporaryDirectory(prefix="bench-replay-") as data_dir,
    ):
        system = LocalSystem(
            LocalSettings(
                port=0,
                data_dir=Path(data_dir),
                database_url=database_url,
                projections=(PROJECTION,),
            )
        )
        # The in-process functions flush their metrics (CloudWatch EMF lines) to stdout, as in
        # Lambda; here they would bury the tables.
        with contextlib.redirect_stdout(io.StringIO()):
            system.start()
        try:
            assert system.platform is not None
            table = dynamodb_backends[local_aws.DEFAULT_ACCOUNT_ID][local_aws.REGION].tables[
                system.platform.table_name
            ]
            # The history goes into the store without passing through the stream: as if it had
            # been relayed long ago. Otherwise the relay and the live path would fold it first.
            shard, table.stream_shard = table.stream_shard, None
            try:
                seed(
                    local_aws.Emulator.client("dynamodb"), history.items, system.platform.table_name
                )
            finally:
                table.stream_shard = shard
            options = argparse.Namespace(
                name=PROJECTION, url=f"http://127.0.0.1:{system.port}", interval=CLI_INTERVAL
            )
            started_wall = time.time()
            with stopwatch() as elapsed, contextlib.redirect_stdout(io.StringIO()):
                code = replay_command(options, io.StringIO())
            if code != 0:
                msg = f"platform-local replay {PROJECTION} exited {code}"
                raise RuntimeError(msg)
            stats = system.projections[PROJECTION].replay.stats
            return RunnerTiming(
                to_model=(stats.last_batch_at or started_wall) - started_wall,
                to_end=elapsed(),
                pages=stats.records,
                batches=stats.batches,
            )
        finally:
            system.stop()


def _wait_for_end(stepfunctions: Any, execution: str) -> dict[str, Any]:
    deadline = time.monotonic() + EXECUTION_TIMEOUT_SECONDS
    while True:
        described = dict(stepfunctions.describe_execution(executionArn=execution))
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            msg = f"replay still running after {EXECUTION_TIMEOUT_SECONDS} s"
            raise TimeoutError(msg)
        time.sleep(0.1)


@contextlib.contextmanager
def _profiled_threads(profiles: list[cProfile.Profile]) -> Iterator[None]:
    """cProfile sees one thread: profile this one, and every thread started meanwhile (moto's
    interpreter, its Map iterations, the poller) from its first frame. Each counts its thread's
    CPU time: with a wall clock, a thread waiting for the GIL would charge the wait to whatever
    function it was in, and the threads' sums would exceed the run."""
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profiles.append(profiler)
        profiler.enable()
        try:
            original(self)
        finally:
            profiler.disable()

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.Thread.run = run  # type: ignore[method-assign]
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.Thread.run = original  # type: ignore[method-assign]


def run(smoke: bool) -> Iterable[Table]:
    events = SMOKE_EVENTS if smoke else int(os.environ.get(EVENTS_ENV, FULL_EVENTS))
    per_account = SMOKE_EVENTS_PER_ACCOUNT if smoke else EVENTS_PER_ACCOUNT
    with quiet_environment():
        yield from _run(events, per_account, smoke=smoke)


def _run(events: int, per_account: int, *, smoke: bool) -> Iterator[Table]:
    spec = KNOWN[PROJECTION]()
    with stopwatch() as building:
        history = build_history(events, per_account)
    n = len(history.envelopes)
    pages = history.pages()
    with stopwatch() as decoding:
        decode_only(pages)
    with stopwatch() as folding:
        expected = fold(spec, pages)
    server = _server_url()
    results = Table(
        f"Replay throughput: {n:,} events ({len(expected):,} accounts) into {PROJECTION}, "
        f"pages of {PAGE_SIZE}, batches of {REPLAY_BATCH_SIZE} pages",
        ["path", "events", "seconds", "events/s", "model = fold"],
    )

    def verified(url: str, stream_ids: Sequence[str], wanted: Mapping[str, Any]) -> str:
        return same_as_fold(read_model(spec, url, stream_ids), wanted)

    as_is_events = min(n, AS_IS_EVENTS)
    as_is = history if as_is_events == n else build_history(as_is_events, per_account)
    as_is_expected = expected if as_is is history else fold(spec, as_is.pages())
    with throwaway_database(server) as url:
        rendered = url.render_as_string(hide_password=False)
        timing, _ = replay_in_moto(spec, as_is, rendered)
        verdict = verified(rendered, as_is.stream_ids, as_is_expected)
    results.add(
        "(a) moto as is: start -> model whole",
        as_is_events,
        timing.to_model,
        as_is_events / timing.to_model,
        verdict,
    )

    # At smoke size the timed run is also the profiled one (its figures mean nothing anyway).
    with throwaway_database(server) as url, ReplayIndexPages() as index:
        rendered = url.render_as_string(hide_password=False)
        timing, profiles = replay_in_moto(spec, history, rendered, profile=smoke)
        verdict = verified(rendered, history.stream_ids, expected)
        served = index.served
    results.add("(a) moto*: start -> model whole", n, timing.to_model, n / timing.to_model, verdict)
    results.add(
        "(a) moto*: start -> execution succeeded", n, timing.to_end, n / timing.to_end, verdict
    )

    with throwaway_database(server) as url, ReplayIndexPages():
        rendered = url.render_as_string(hide_password=False)
        runner = replay_with_runner(history, rendered)
        verdict = verified(rendered, history.stream_ids, expected)
    results.add(
        "(b) platform-local* replay: start -> promoted",
        n,
        runner.to_model,
        n / runner.to_model,
        verdict,
    )
    results.add(
        "(b) platform-local* replay: command exits 0",
        n,
        runner.to_end,
        n / runner.to_end,
        verdict,
    )
    results.add("(c) in memory: decode pages", n, decoding(), n / decoding(), "-")
    results.add("(c) in memory: decode + apply (the ceiling)", n, folding(), n / folding(), "yes")
    results.notes += [
        f"history of {n:,} events built in {building():.1f} s (not timed); "
        f"(a) {timing.pages:,} pages in {timing.batches:,} batches, "
        f"(b) {runner.pages:,} messages in {runner.batches:,} batches",
        "* moto's Query on a secondary index sorts the whole table on every call (quadratic "
        "over a replay): the harness hands moto's query code only the items a page can return "
        f"({served:,} pages served so); pages, order and keys are the same, our code and the "
        "rest of moto run unchanged. 'moto as is' shows the cost without it, at "
        f"{as_is_events:,} events.",
        f"'execution succeeded' adds the drain ({DRAIN_POLL_SECONDS} s polls, two empty in a "
        "row) and enabling the live mapping; (b) is a blue/green rebuild (begin, pages, "
        "promote, each drained) followed by the command's progress reads (first after "
        f"{CLI_INTERVAL} s, backing off to {MAX_PROGRESS_INTERVAL:g} s).",
        "model = fold: every account's row in the active generation equals the in-memory fold.",
    ]
    if smoke:
        results.notes.append("smoke size: (a)* ran under the profiler (slower than it is)")
    yield results
    profiled = n if smoke else min(n, PROFILE_EVENTS)
    if not smoke:
        small = history if profiled == n else build_history(profiled, per_account)
        with throwaway_database(server) as url, ReplayIndexPages():
            rendered = url.render_as_string(hide_password=False)
            _, profiles = replay_in_moto(spec, small, rendered, profile=True)
    yield from profile_tables(profiles, profiled, top=PROFILE_TOP)


def _server_url() -> str:
    url = os.environ.get(DATABASE_ENV) or os.environ.get(TEST_DATABASE_URL)
    if not url:
        msg = f"set {DATABASE_ENV} or {TEST_DATABASE_URL} to a Postgres server URL"
        raise SystemExit(msg)
    return url


# ---------------------------------------------------------------------------------- the profile
MOTO_DYNAMODB: Final = "moto: DynamoDB (Query, copies of items)"
MOTO_STEPFUNCTIONS: Final = "moto: Step Functions interpreter"
MOTO_SQS: Final = "moto: SQS"
MOTO_OTHER: Final = "moto: other services (Lambda, IAM)"
MOTO_PLUMBING: Final = "moto core + botocore (requests, responses)"
OUR_DECODING: Final = "ours: decoding (platform_events, messages, pydantic)"
OUR_PROJECTOR: Final = "ours: projector, handler, poller"
POSTGRES: Final = "Postgres client side (SQLAlchemy, psycopg, platform_sql)"
IDLE: Final = "idle threads (sleep, locks, waits)"
OTHER: Final = "other (stdlib not attributable)"
OURS: Final = (OUR_DECODING, OUR_PROJECTOR)

_PATH_GROUPS: Final = (
    ("/moto/dynamodb", MOTO_DYNAMODB),
    ("/moto/stepfunctions/", MOTO_STEPFUNCTIONS),
    ("/moto/sqs/", MOTO_SQS),
    ("/moto/core/", MOTO_PLUMBING),
    ("/moto/utilities/", MOTO_PLUMBING),
    ("/moto/", MOTO_OTHER),
    ("/botocore/", MOTO_PLUMBING),
    ("/boto3/", MOTO_PLUMBING),
    ("/responses/", MOTO_PLUMBING),
    ("/werkzeug/", MOTO_PLUMBING),
    ("/xmltodict", MOTO_PLUMBING),
    ("/jinja2/", MOTO_PLUMBING),
    ("/urllib3/", MOTO_PLUMBING),
    ("/dateutil/", MOTO_PLUMBING),
    ("/antlr4/", MOTO_STEPFUNCTIONS),
    ("/jsonpath_ng/", MOTO_STEPFUNCTIONS),
    ("/ply/", MOTO_STEPFUNCTIONS),
    ("/platform_events/", OUR_DECODING),
    ("/platform_projections/messages.py", OUR_DECODING),
    ("/pydantic/", OUR_DECODING),
    ("/account_events/", OUR_DECODING),
    ("/platform_projections/", OUR_PROJECTOR),
    ("/platform_replay/", OUR_PROJECTOR),
    ("/platform_local/", OUR_PROJECTOR),
    ("/projection_", OUR_PROJECTOR),
    ("/aws_lambda_powertools/", OUR_PROJECTOR),
    ("/platform_sql/", POSTGRES),
    ("/sqlalchemy/", POSTGRES),
    ("/psycopg", POSTGRES),
)
_IDLE_BUILTINS: Final = (
    "time.sleep",
    "method 'acquire' of '_thread.lock'",
    "method 'acquire' of '_thread.RLock'",
    "method 'wait' of",
    "method 'poll' of 'select.",
)

Func = tuple[str, int, str]


def _own_group(function: Func) -> str | None:
    filename, _, name = function
    if filename == "~":
        if any(marker in name for marker in _IDLE_BUILTINS):
            return IDLE
        if "pydantic_core" in name:
            return OUR_DECODING
        if "psycopg" in name:
            return POSTGRES
        return None
    normalized = filename.replace("\\", "/")
    for marker, group in _PATH_GROUPS:
        if marker in normalized:
            return group
    return None


class _Attribution:
    """Self time of every function, charged to an owner; stdlib and builtins (``copy``,
    ``json``, ``re``) are charged to whoever called them, in proportion to the time each caller
    spent in them."""

    def __init__(self, stats: pstats.Stats) -> None:
        self.raw: dict[Func, Any] = stats.stats  # type: ignore[attr-defined]
        self._memo: dict[Func, dict[str, float]] = {}

    def group_shares(self, function: Func) -> dict[str, float]:
        """Fractions of ``function``'s time per group."""
        return self._shares(function, set()) or {OTHER: 1.0}

    def _shares(self, function: Func, visiting: set[Func]) -> dict[str, float]:
        known = self._memo.get(function)
        if known is not None:
            return known
        own = _own_group(function)
        if own is not None:
            self._memo[function] = {own: 1.0}
            return self._memo[function]
        # Recursive stdlib (deepcopy -> _deepcopy_dict -> deepcopy) is charged through the
        # callers outside the recursion.
        callers = {
            caller: entry
            for caller, entry in self.raw.get(function, (0, 0, 0.0, 0.0, {}))[4].items()
            if caller != function and caller not in visiting
        }
        visiting.add(function)
        weighted: list[tuple[dict[str, float], float]] = []
        for caller, entry in callers.items():
            found = self._shares(caller, visiting)
            if found and entry[2]:
                weighted.append((found, entry[2]))
        visiting.discard(function)
        total = sum(weight for _, weight in weighted)
        if not total:
            # Nothing outside the recursion called it: no attribution from here.
            return {}
        shares: dict[str, float] = defaultdict(float)
        for found, weight in weighted:
            for group, share in found.items():
                shares[group] += share * weight / total
        if not visiting:
            # Only a resolution that started here saw every caller: partial ones are not kept.
            self._memo[function] = dict(shares)
        return dict(shares)

    def by_group(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for function, (_, _, tottime, _, _) in self.raw.items():
            for group, share in self.group_shares(function).items():
                totals[group] += tottime * share
        return dict(totals)

    def main_group(self, function: Func) -> str:
        shares = self.group_shares(function)
        return max(shares, key=lambda group: shares[group])


def profile_tables(profiles: Sequence[cProfile.Profile], events: int, top: int) -> list[Table]:
    stats = pstats.Stats(profiles[0])
    for profiler in profiles[1:]:
        stats.add(profiler)
    attribution = _Attribution(stats)
    groups = attribution.by_group()
    busy = sum(seconds for group, seconds in groups.items() if group != IDLE)
    summary = Table(
        f"Where (a)*'s time goes: cProfile of every thread, {events:,} events",
        ["group", "CPU seconds (self time)", "share", "CPU µs per event"],
    )
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        if group == IDLE:
            continue
        summary.add(group, seconds, f"{100 * seconds / busy:.1f} %", 1e6 * seconds / events)
    ours = sum(groups.get(group, 0.0) for group in OURS)
    summary.notes.append(
        f"ours in total: {100 * ours / busy:.1f} % of the CPU time; each thread's CPU time "
        "(time.thread_time), so sleeping, waiting for the GIL, for a lock or for Postgres' "
        "answers counts nowhere (the server's own work is in another process)"
    )
    summary.notes.append(
        "stdlib and builtin functions (copy.deepcopy, json, re) are charged to their callers"
    )

    def label(function: Func) -> str:
        filename, line, name = function
        if filename == "~":
            return name
        short = filename.replace("\\", "/")
        for anchor in ("site-packages/", "/src/", "/lib/python3"):
            if anchor in short:
                short = short.split(anchor, 1)[1]
                break
        return f"{short}:{line} {name}"

    by_tottime = Table(
        f"(a) top {top} functions by self time (tottime)",
        ["function", "group", "calls", "tottime s", "cumtime s"],
    )
    ranked = sorted(attribution.raw.items(), key=lambda kv: -kv[1][2])
    for function, (_, calls, tottime, cumtime, _) in [
        item for item in ranked if attribution.main_group(item[0]) != IDLE
    ][:top]:
        by_tottime.add(label(function), attribution.main_group(function), calls, tottime, cumtime)

    by_cumtime = Table(
        f"(a) top functions by cumulative time (cumtime), at most {PER_GROUP} per group",
        ["group", "function", "calls", "tottime s", "cumtime s"],
    )
    picked: dict[str, list[tuple[Func, Any]]] = defaultdict(list)
    for function, entry in sorted(attribution.raw.items(), key=lambda kv: -kv[1][3]):
        owner = _own_group(function)
        if owner is None or owner == IDLE or len(picked[owner]) >= PER_GROUP:
            continue
        picked[owner].append((function, entry))
    for owner in sorted(picked, key=lambda g: -groups.get(g, 0.0)):
        for function, (_, calls, tottime, cumtime, _) in picked[owner]:
            by_cumtime.add(owner, label(function), calls, tottime, cumtime)
    return [summary, by_tottime, by_cumtime]
