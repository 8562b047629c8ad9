"""Projection apply throughput against real Postgres: the handler path beside its baselines.

One workload (20,000 events over 1,000 accounts; smoke: 500 over 50) is applied to the balances
read model four ways, each into its own schema of one fresh database (created and dropped here,
on the server ``TEST_DATABASE_URL`` names):

- **handler, FIFO batches**: the live queue's SQS events (raw delivery, group = stream id, 10
  messages per invocation: the FIFO mapping's limit) through projection-balances' real Lambda
  handler (its composition root ``build_projector`` wrapped by ``make_lambda_handler``);
- **handler, replay batches**: the replay queue's SQS events (pages ``{"replayed_events": [...]}``
  per replay index partition, in replay-sort order, 10 pages per invocation), at the state
  machine's default page size and at the largest page an SQS message holds;
- **naive**: one ORM transaction per event (SQLAlchemy session: get the row, change it, commit),
  what a user would write first;
- **floor**: decode the same messages, fold them in memory with the projection's own apply
  functions, then one ``COPY`` of the final rows into the same table: the least work anything
  that reads these messages and fills this table must do.

Each path's read model is compared with an independent fold of the events (computed from the
envelopes' JSON, not with the projection's code) before its figure is printed: a benchmark that
measures wrong work is worthless.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from moto import mock_aws
from platform_infra.projection_service import FIFO_MAX_BATCH_SIZE
from platform_projections import Projector
from platform_projections.lambda_handler import make_lambda_handler
from platform_projections.positions import read_positions, runtime_tables
from platform_projections.service import (
    DATABASE_URL_ENV,
    EVENT_STORE_TABLE_ENV,
    METRICS_NAMESPACE_ENV,
    PING_AFTER_IDLE_SECONDS,
    PROJECTION_SCHEMA_ENV,
)
from platform_replay.definition import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from platform_sql import GENERATION, DatabaseConfig, active_generation, create_database_engine
from projection_balances.handler import build_projector
from projection_balances.migrate import run as migrate_balances
from projection_balances.model import SCHEMA, Status, accounts
from projection_balances.projection import PROJECTION, Account
from projection_balances.settings import SERVICE_NAME, MigrationSettings
from sqlalchemy import Engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session

import account_events  # noqa: F401 - registers the event types
from account_events import AccountClosed, AccountOpened, MoneyDeposited, MoneyWithdrawn
from benchmarks.report import Table, stopwatch
from platform_events import (
    EventEnvelope,
    decode_sqs_record,
    decode_sqs_record_envelopes,
    default_registry,
    layout,
    replay_page_body,
)
from platform_testing.lambda_events import LambdaContext, sqs_record
from platform_testing.postgres import TEST_DATABASE_URL, throwaway_database

FULL: Final = (20_000, 1_000)
SMOKE: Final = (500, 50)
"""(events, accounts) of a full and a smoke run."""
SEED: Final = 20_26
SQS_MAX_MESSAGE_BYTES: Final = 256 * 1024
"""An SQS message's largest body: what bounds a replay page, whatever the page size setting."""
LIVE_QUEUE: Final = "balances-live.fifo"
REPLAY_QUEUE: Final = "balances-replay.fifo"
EVENT_STORE_TABLE: Final = "events"
"""Gap repair's table: never read here (every path delivers every event), but the composition
root needs a name; moto answers should it ever be asked."""
ACTIVE: Final = 1
"""The generation a freshly migrated schema reads and writes."""
METRICS_NAMESPACE: Final = "cqrs-benchmark"
AWS_REGION_ENV: Final = "AWS_DEFAULT_REGION"
AWS_REGION: Final = "eu-west-1"
STDOUT: Final = 1
START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FIFO_BUDGET: Final = 5.0
"""The FIFO handler path is at least this many times faster than the naive path."""
REPLAY_BUDGET: Final = 3.0
"""The replay-sized handler path takes at most this many times the floor's time."""


# ---------------------------------------------------------------------------------- workload
@dataclass(frozen=True)
class Workload:
    live_order: list[EventEnvelope]
    """Every event, streams interleaved as live traffic interleaves them (each stream in order)."""
    expected: dict[str, dict[str, Any]]
    """account id -> the row the read model must hold, folded independently of the projection."""


def make_workload(events: int, accounts_count: int, seed: int = SEED) -> Workload:
    """``accounts_count`` histories of ``events / accounts_count`` events each (an opening, then
    deposits and withdrawals that never overdraw; every tenth account is emptied and closed at
    its end), interleaved at random as concurrent traffic would be."""
    rng = random.Random(seed)
    per_account = events // accounts_count
    histories: list[list[Any]] = []
    for number in range(accounts_count):
        payloads: list[Any] = [AccountOpened(owner=f"owner {number % 97}", currency="EUR")]
        balance = Decimal("0.00")
        closing = number % 10 == 0 and per_account >= 4
        movements = per_account - 1 - (3 if closing else 0)
        for step in range(movements):
            if balance > 0 and rng.random() < 0.3:
                amount = min(balance, Decimal(rng.randint(1, 50_000)) / 100)
                payloads.append(MoneyWithdrawn(amount=amount, reference=f"w{step}"))
                balance -= amount
            else:
                amount = Decimal(rng.randint(1, 100_000)) / 100
                payloads.append(MoneyDeposited(amount=amount, reference=f"d{step}"))
                balance += amount
        if closing:
            # Emptied, then closed: every handler of the projection gets work.
            top_up = Decimal("1.00")
            payloads.append(MoneyDeposited(amount=top_up, reference="top-up"))
            payloads.append(MoneyWithdrawn(amount=balance + top_up, reference="emptied"))
            payloads.append(AccountClosed())
        histories.append(payloads)

    pending = [
        (str(uuid.UUID(int=rng.getrandbits(128), version=4)), payloads) for payloads in histories
    ]
    next_version = [1] * len(pending)
    live_order: list[EventEnvelope] = []
    open_streams = list(range(len(pending)))
    while open_streams:
        slot = rng.randrange(len(open_streams))
        index = open_streams[slot]
        stream_id, payloads = pending[index]
        version = next_version[index]
        live_order.append(
            default_registry.envelope(
                payloads[version - 1],
                stream_id=stream_id,
                version=version,
                occurred_at=START + timedelta(milliseconds=len(live_order)),
                correlation_id=f"benchmark-{stream_id}",
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            )
        )
        next_version[index] += 1
        if next_version[index] > len(payloads):
            open_streams[slot] = open_streams[-1]
            open_streams.pop()
    return Workload(live_order=live_order, expected=reference_fold(live_order))


def reference_fold(events: Iterable[EventEnvelope]) -> dict[str, dict[str, Any]]:
    """The rows the events make, computed from the envelopes' JSON payloads alone (independently
    of the projection's apply functions, which the floor uses)."""
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        payload = event.payload
        if event.event_type == "AccountOpened":
            rows[event.stream_id] = {
                "account_id": event.stream_id,
                "owner": payload["owner"],
                "currency": payload["currency"],
                "balance": Decimal("0.00"),
                "status": Status.OPEN.value,
            }
        row = rows[event.stream_id]
        if event.event_type == "MoneyDeposited":
            row["balance"] += Decimal(str(payload["amount"]))
        elif event.event_type == "MoneyWithdrawn":
            row["balance"] -= Decimal(str(payload["amount"]))
        elif event.event_type == "AccountClosed":
            row["status"] = Status.CLOSED.value
        row["version"] = event.version
        row["updated_at"] = event.occurred_at
    return rows


# ---------------------------------------------------------------------------------- messages
Record = dict[str, Any]
Batch = list[Record]


def live_batches(workload: Workload) -> list[Batch]:
    """The live queue's Lambda events: one message per event (raw delivery, as the subscription
    is configured), in arrival order, ``FIFO_MAX_BATCH_SIZE`` per invocation."""
    records = [sqs_record(envelope, queue=LIVE_QUEUE) for envelope in workload.live_order]
    return _batched(records, FIFO_MAX_BATCH_SIZE)


def replay_batches(workload: Workload, page_size: int) -> list[Batch]:
    """The replay queue's Lambda events for a replay at ``page_size``: per replay index
    partition (the message group), events in replay-sort order (stream, then version), one page
    message per ``page_size`` of them; the mapping takes ``FIFO_MAX_BATCH_SIZE`` messages per
    invocation, from the partitions in turn (they are replayed in parallel)."""
    queues = [
        [_page_record(partition, number, page) for number, page in enumerate(pages)]
        for partition, pages in _pages(workload, page_size).items()
    ]
    interleaved: list[Record] = []
    for round_ in range(max(len(queue) for queue in queues)):
        interleaved.extend(queue[round_] for queue in queues if round_ < len(queue))
    return _batched(interleaved, FIFO_MAX_BATCH_SIZE)


def largest_page_size(workload: Workload) -> int:
    """The largest page size (up to the state machine's maximum) whose every page fits in one
    SQS message: the largest replay batch the replay queue can carry for this workload."""
    low, high = 1, MAX_PAGE_SIZE
    while low < high:
        middle = (low + high + 1) // 2
        fits = all(
            len(replay_page_body(page).encode()) <= SQS_MAX_MESSAGE_BYTES
            for pages in _pages(workload, middle).values()
            for page in pages
        )
        low, high = (middle, high) if fits else (low, middle - 1)
    return low


def _pages(workload: Workload, page_size: int) -> dict[str, list[list[EventEnvelope]]]:
    partitions: dict[str, list[EventEnvelope]] = {}
    for envelope in workload.live_order:
        partition = layout.replay_partition(
            envelope.aggregate_type, layout.replay_shard_of(envelope.stream_id)
        )
        partitions.setdefault(partition, []).append(envelope)
    pages: dict[str, list[list[EventEnvelope]]] = {}
    for partition, found in sorted(partitions.items()):
        ordered = sorted(found, key=lambda e: layout.replay_sort_key(e.stream_id, e.version))
        pages[partition] = [
            ordered[start : start + page_size] for start in range(0, len(ordered), page_size)
        ]
    return pages


def _page_record(partition: str, number: int, page: Sequence[EventEnvelope]) -> Record:
    """One record of the replay queue's Lambda event, as the state machine's SendMessage makes
    it (body = the page, group = the partition)."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": replay_page_body(page),
        "attributes": {
            "MessageGroupId": partition,
            "MessageDeduplicationId": f"{partition}-{number}",
            "ApproximateReceiveCount": "1",
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{REPLAY_QUEUE}",
        "awsRegion": "eu-west-1",
    }


def _batched(records: Sequence[Record], size: int) -> list[Batch]:
    return [list(records[start : start + size]) for start in range(0, len(records), size)]


# ---------------------------------------------------------------------------------- database
@dataclass
class Database:
    url: str

    def engine(self, schema: str | None = None, *, ping_after_idle_seconds: float = 0.0) -> Engine:
        config = DatabaseConfig(url=self.url, pool_ping_after_idle_seconds=ping_after_idle_seconds)
        engine = create_database_engine(config)
        if schema is not None:
            engine = engine.execution_options(schema_translate_map={SCHEMA: schema})
        return engine

    def migrate(self, schema: str) -> None:
        """The balances schema as deployed (tables, indexes, runtime tables, roles), under
        ``schema``."""
        config = DatabaseConfig(url=self.url)
        migrate_balances(MigrationSettings(database=config, schema_name=schema))


@contextlib.contextmanager
def fresh_database() -> Iterator[Database]:
    admin = os.environ.get(TEST_DATABASE_URL)
    if not admin:
        msg = (
            f"{TEST_DATABASE_URL} is not set: the projection benchmark needs a PostgreSQL server "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); it creates and drops its "
            "own database there"
        )
        raise SystemExit(msg)
    with throwaway_database(admin) as url:
        yield Database(url.render_as_string(hide_password=False))


def read_model(
    engine: Engine, schema: str, generation: int | None = None
) -> dict[str, dict[str, Any]]:
    """The rows of ``schema``'s accounts table in ``generation`` (default: the active one)."""
    columns = [column for column in accounts.columns if column.name != GENERATION]
    # A plain table construct, outside the engine's schema translation: named physically.
    wanted = active_generation(schema, PROJECTION.name) if generation is None else generation
    query = select(*columns).where(accounts.c[GENERATION] == wanted)
    with engine.connect() as connection:
        return {row.account_id: dict(row._mapping) for row in connection.execute(query)}


def verify(path: str, found: Mapping[str, Mapping[str, Any]], workload: Workload) -> None:
    """The read model a path produced is the fold of the events, row for row."""
    expected = workload.expected
    if set(found) != set(expected):
        missing, extra = len(set(expected) - set(found)), len(set(found) - set(expected))
        msg = f"{path}: {missing} accounts missing, {extra} unexpected"
        raise AssertionError(msg)
    for account_id, row in expected.items():
        if dict(found[account_id]) != row:
            msg = f"{path}: account {account_id} is {dict(found[account_id])}, expected {row}"
            raise AssertionError(msg)


# ---------------------------------------------------------------------------------- the paths
@dataclass(frozen=True)
class Measured:
    path: str
    batch: str
    events: int
    units: int
    """Lambda invocations, or transactions for the baselines."""
    seconds: float
    detail: str = ""

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def handler_path(
    database: Database, schema: str, batches: Sequence[Batch], workload: Workload
) -> float:
    """Seconds to apply ``batches`` through the real Lambda handler, on a warm container."""
    database.migrate(schema)
    environ = {
        DATABASE_URL_ENV: database.url,
        EVENT_STORE_TABLE_ENV: EVENT_STORE_TABLE,
        PROJECTION_SCHEMA_ENV: schema,
    }
    context = LambdaContext(SERVICE_NAME, memory_limit_in_mb=512)
    with _quiet(), _lambda_environment(), mock_aws():
        projector: Projector[Account] = build_projector(environ)
        try:
            # The container's first batch connects; the figure is the warm steady state.
            with projector.connect():
                pass
            handler = make_lambda_handler(
                lambda: projector, projection=PROJECTION.name, service=SERVICE_NAME
            )
            with stopwatch() as elapsed:
                for batch in batches:
                    answer = handler({"Records": batch}, context)  # type: ignore[arg-type]
                    if answer["batchItemFailures"]:
                        msg = f"{schema}: the handler failed messages: {answer}"
                        raise AssertionError(msg)
            seconds = elapsed()
        finally:
            projector.engine.dispose()
    engine = database.engine(schema)
    try:
        verify(f"handler into {schema}", read_model(engine, schema), workload)
        with engine.connect() as connection:
            positions = read_positions(connection, runtime_tables(SCHEMA).positions, ACTIVE)
        if positions != {k: row["version"] for k, row in workload.expected.items()}:
            msg = f"{schema}: stream positions differ from the streams' last versions"
            raise AssertionError(msg)
    finally:
        engine.dispose()
    return seconds


class _Base(DeclarativeBase):
    pass


class _AccountRow(_Base):
    """The naive path's ORM class, mapped onto the read model's own table."""

    __table__ = accounts
    generation: Mapped[int]
    account_id: Mapped[str]
    owner: Mapped[str]
    currency: Mapped[str]
    balance: Mapped[Decimal]
    status: Mapped[str]
    version: Mapped[int]
    updated_at: Mapped[datetime]


def naive_path(
    database: Database, schema: str, records: Sequence[Record], workload: Workload
) -> float:
    """One ORM transaction per SQS message: decode it, get the row, change it, commit. On an
    engine that pings as the projection function's does (only after idle), so that the two paths
    differ in how they apply events, not in how they check their connection."""
    database.migrate(schema)
    engine = database.engine(schema, ping_after_idle_seconds=PING_AFTER_IDLE_SECONDS)
    try:
        with stopwatch() as elapsed:
            for record in records:
                envelope = decode_sqs_record(record)
                payload = default_registry.decode(envelope)
                with Session(engine) as session, session.begin():
                    row = session.get(_AccountRow, (ACTIVE, envelope.stream_id))
                    if row is not None and row.version >= envelope.version:
                        continue  # a redelivery
                    if isinstance(payload, AccountOpened):
                        session.add(
                            _AccountRow(
                                generation=ACTIVE,
                                account_id=envelope.stream_id,
                                owner=payload.owner,
                                currency=payload.currency,
                                balance=Decimal("0.00"),
                                status=Status.OPEN.value,
                                version=envelope.version,
                                updated_at=envelope.occurred_at,
                            )
                        )
                        continue
                    if row is None:
                        msg = f"{envelope.event_type} before the account was opened"
                        raise AssertionError(msg)
                    if isinstance(payload, MoneyDeposited):
                        row.balance += payload.amount
                    elif isinstance(payload, MoneyWithdrawn):
                        row.balance -= payload.amount
                    elif isinstance(payload, AccountClosed):
                        row.status = Status.CLOSED.value
                    row.version = envelope.version
                    row.updated_at = envelope.occurred_at
        seconds = elapsed()
        verify(f"naive into {schema}", read_model(engine, schema, ACTIVE), workload)
    finally:
        engine.dispose()
    return seconds


def floor_path(
    database: Database, schema: str, batches: Sequence[Batch], workload: Workload
) -> tuple[float, float]:
    """(total seconds, of which COPY): decode the messages, fold in memory with the projection's
    apply functions, ``COPY`` the final rows into the accounts table in one transaction."""
    database.migrate(schema)
    engine = database.engine(schema)
    columns = [column.name for column in accounts.columns]
    try:
        connection = engine.raw_connection()
        try:
            with stopwatch() as elapsed:
                states: dict[str, Account] = {}
                for batch in batches:
                    for record in batch:
                        for envelope in decode_sqs_record_envelopes(record):
                            stream = envelope.stream_id
                            states[stream] = PROJECTION.apply(states.get(stream), envelope)
                with stopwatch() as copying:
                    cursor = connection.cursor()
                    copy_sql = f"COPY {schema}.{accounts.name} ({', '.join(columns)}) FROM STDIN"
                    with cursor.copy(copy_sql) as copy:
                        for state in states.values():
                            copy.write_row(
                                [ACTIVE if c == GENERATION else getattr(state, c) for c in columns]
                            )
                    connection.commit()
            total, copy_seconds = elapsed(), copying()
        finally:
            connection.close()
        verify(f"floor into {schema}", read_model(engine, schema, ACTIVE), workload)
    finally:
        engine.dispose()
    return total, copy_seconds


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Powertools writes a log line and a metrics document per invocation to stdout (what
    CloudWatch ingests on Lambda): formatted and written here too, into /dev/null. At the file
    descriptor: its handlers hold the stdout they found at import."""
    sys.stdout.flush()
    saved = os.dup(STDOUT)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), STDOUT)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, STDOUT)
    finally:
        os.close(saved)


@contextlib.contextmanager
def _lambda_environment() -> Iterator[None]:
    """What the stack sets (a metrics namespace) and the Lambda runtime provides (a region)."""
    wanted = {METRICS_NAMESPACE_ENV: METRICS_NAMESPACE, AWS_REGION_ENV: AWS_REGION}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------------------------- the run
def run(smoke: bool) -> Iterable[Table]:
    events, accounts_count = SMOKE if smoke else FULL
    workload = make_workload(events, accounts_count)
    total = len(workload.live_order)
    largest = largest_page_size(workload)
    live = live_batches(workload)
    default_pages = replay_batches(workload, DEFAULT_PAGE_SIZE)
    largest_pages = replay_batches(workload, largest)
    live_records = [record for batch in live for record in batch]

    measured: list[Measured] = []
    with fresh_database() as database:
        seconds = handler_path(database, "bench_fifo", live, workload)
        measured.append(
            Measured("handler", f"FIFO: {FIFO_MAX_BATCH_SIZE} events", total, len(live), seconds)
        )
        seconds = handler_path(database, "bench_replay_default", default_pages, workload)
        measured.append(
            Measured(
                "handler",
                f"replay: {FIFO_MAX_BATCH_SIZE} pages x {DEFAULT_PAGE_SIZE} (default)",
                total,
                len(default_pages),
                seconds,
            )
        )
        replay_largest = handler_path(database, "bench_replay_largest", largest_pages, workload)
        measured.append(
            Measured(
                "handler",
                f"replay: {FIFO_MAX_BATCH_SIZE} pages x {largest} (largest)",
                total,
                len(largest_pages),
                replay_largest,
            )
        )
        naive = naive_path(database, "bench_naive", live_records, workload)
        measured.append(Measured("naive ORM", "1 event per transaction", total, total, naive))
        floor, copy_seconds = floor_path(database, "bench_floor", largest_pages, workload)
        measured.append(
            Measured(
                "floor",
                "decode + fold in memory + 1 COPY",
                total,
                1,
                floor,
                f"COPY alone {copy_seconds * 1000:.0f} ms",
            )
        )

    fifo = measured[0].seconds
    table = Table(
        f"Projection apply throughput, balances on Postgres ({total:,} events, "
        f"{accounts_count:,} accounts)",
        [
            "path",
            "batch",
            "invocations / transactions",
            "seconds",
            "events/s",
            "x floor's time",
            "x faster than naive",
            "note",
        ],
    )
    for row in measured:
        table.add(
            row.path,
            row.batch,
            row.units,
            row.seconds,
            row.per_second,
            row.seconds / floor,
            naive / row.seconds,
            row.detail or "read model verified",
        )
    table.notes.append(
        f"Every path's read model equals an independent fold of the events (floor and naive "
        f"too); handler paths also left every stream's position at its last version. Largest "
        f"page: the most events per page (up to the state machine's {MAX_PAGE_SIZE}) for which "
        f"every page of this workload fits an SQS message ({SQS_MAX_MESSAGE_BYTES // 1024} KiB)."
    )
    table.notes.append(
        "Handler: projection-balances' composition root and Lambda wrapper (powertools logs and "
        "metrics written to /dev/null), warm container, one database connection; live messages "
        "are raw deliveries, replay pages as the state machine sends them."
    )
    yield table

    budgets = Table(
        "Projection throughput budgets",
        ["budget", "measured", "verdict"],
    )
    ratio = replay_largest / floor
    budgets.add(
        f"replay-sized handler path within {REPLAY_BUDGET:g}x the floor's time",
        f"{ratio:.2f}x",
        "met" if ratio <= REPLAY_BUDGET else "NOT met",
    )
    speedup = naive / fifo
    budgets.add(
        f"FIFO handler path at least {FIFO_BUDGET:g}x faster than the naive path",
        f"{speedup:.2f}x",
        "met" if speedup >= FIFO_BUDGET else "NOT met",
    )
    if smoke:
        budgets.notes.append("Smoke sizes: the verdicts are not figures.")
    yield budgets


PROFILE_SHAPES: Final = ("fifo", "replay-default", "replay-largest")


def profile_handler(smoke: bool = True, shape: str = "fifo") -> Callable[[], None]:
    """A zero-argument callable applying one workload through the handler in one of
    ``PROFILE_SHAPES``, for cProfile (the workload and the messages are built beforehand)::

        python -c "import cProfile; from benchmarks.projection_throughput import profile_handler;
        cProfile.run('profile_handler(False, \"fifo\")()', sort='cumtime')"
    """
    if shape not in PROFILE_SHAPES:
        msg = f"shape is one of {', '.join(PROFILE_SHAPES)}, not {shape!r}"
        raise ValueError(msg)
    events, accounts_count = SMOKE if smoke else FULL
    workload = make_workload(events, accounts_count)
    if shape == "fifo":
        batches = live_batches(workload)
    elif shape == "replay-default":
        batches = replay_batches(workload, DEFAULT_PAGE_SIZE)
    else:
        batches = replay_batches(workload, largest_page_size(workload))

    def apply() -> None:
        with fresh_database() as database:
            handler_path(database, f"profile_{shape.replace('-', '_')}", batches, workload)

    return apply
