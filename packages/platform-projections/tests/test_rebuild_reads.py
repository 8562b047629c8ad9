"""Readers during a rebuild, on files and connections as they are in production (Postgres, and
SQLite files in WAL mode as the local runner keeps them): every read, one statement filtered on
the active generation, equals the fold of the event store at some point in time, never a
half-built model; a promote switches readers from one whole model to the other at once; a rebuild
that fails leaves the active model serving."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from platform_projections import InMemoryEventStore, Projector, migrate
from platform_sql import DatabaseConfig, create_database_engine, in_active_generation
from sqlalchemy import Engine, select

from account_events import AccountOpened, MoneyDeposited
from platform_events import EventEnvelope, default_registry

pytestmark = pytest.mark.slow

START = datetime(2024, 6, 1, tzinfo=UTC)
ACCOUNTS = 8
EVENTS = 120
Snapshot = dict[str, tuple[int, Decimal, int]]


@dataclass
class Engines:
    writer: Engine
    reader: Engine


@pytest.fixture(params=["postgres", "sqlite"])
def engines(request, tmp_path: Path, ledger, ledger_migrations) -> Iterator[Engines]:
    if request.param == "postgres":
        url = request.getfixturevalue("database_url").render_as_string(hide_password=False)
        writer = create_database_engine(DatabaseConfig(url=url, pool_size=2))
        reader = create_database_engine(DatabaseConfig(url=url, pool_size=2))
    else:
        config = DatabaseConfig(
            url=f"sqlite:///{tmp_path / 'main.db'}",
            attach={"ledger": str(tmp_path / "ledger.db")},
        )
        writer = create_database_engine(config)
        # The query side's engine: deferred transactions, so reads never wait for the writer.
        reader = create_database_engine(config, sqlite_write_lock=False)
    migrate(writer, ledger, ledger_migrations)
    yield Engines(writer, reader)
    writer.dispose()
    reader.dispose()


def interleaved_history(seed: int) -> list[EventEnvelope]:
    """EVENTS events of ACCOUNTS accounts in one global order (the order they were appended)."""
    rng = random.Random(seed)
    streams = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(ACCOUNTS)]
    versions = dict.fromkeys(streams, 0)
    history = []
    for index in range(EVENTS):
        stream = streams[index] if index < ACCOUNTS else rng.choice(streams)
        versions[stream] += 1
        payload: Any = (
            AccountOpened(owner="ann", currency="EUR")
            if versions[stream] == 1
            else MoneyDeposited(amount=Decimal(rng.randint(1, 500)) / 100, reference=None)
        )
        history.append(
            default_registry.envelope(
                payload,
                stream_id=stream,
                version=versions[stream],
                occurred_at=START + timedelta(seconds=index),
                correlation_id=f"c{index}",
            )
        )
    return history


def folds(history: list[EventEnvelope]) -> list[Snapshot]:
    """The ledger at every point in time: after 0, 1, ..., len(history) events."""
    states: Snapshot = {}
    found = [dict(states)]
    for event in history:
        if event.event_type == "AccountOpened":
            states[event.stream_id] = (0, Decimal("0.00"), event.version)
        else:
            deposits, total, _ = states[event.stream_id]
            amount = Decimal(str(event.payload["amount"]))
            states[event.stream_id] = (deposits + 1, total + amount, event.version)
        found.append(dict(states))
    return found


@dataclass(eq=False)
class Reader(threading.Thread):
    """Reads the ledger as the query side does, over and over, and notes at which point in time
    each read was (or that it was at none)."""

    engine: Engine
    ledger: Any
    points: list[Snapshot]
    seen: list[int] = field(default_factory=list)
    impossible: list[Snapshot] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        table = self.ledger.metadata.tables["ledger.totals"]
        statement = select(table).where(in_active_generation(table))
        try:
            while not self.stopping.is_set():
                with self.engine.connect() as connection:
                    snapshot = {
                        row.stream_id: (row.deposits, row.total, row.version)
                        for row in connection.execute(statement)
                    }
                point = next((t for t, fold in enumerate(self.points) if fold == snapshot), None)
                if point is None:
                    self.impossible.append(snapshot)
                else:
                    self.seen.append(point)
        except BaseException as error:  # surfaced by stop()
            self.errors.append(error)

    def wait_for(self, enough) -> None:
        deadline = time.monotonic() + 30
        while not enough(self.seen):
            assert self.is_alive(), self.errors
            assert time.monotonic() < deadline, "the reader is not reading"
            time.sleep(0.01)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        assert not self.is_alive()
        if self.errors:
            raise self.errors[0]


def shuffled_pages(pages: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Pages as a replay delivers them: partitions interleaved at random, each in its order."""
    rng = random.Random(seed)
    queues: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        queues.setdefault(page["attributes"]["MessageGroupId"], []).append(page)
    delivered = []
    while queues:
        group = rng.choice(sorted(queues))
        delivered.append(queues[group].pop(0))
        if not queues[group]:
            del queues[group]
    return delivered


def test_readers_never_see_a_half_built_model_and_switch_whole_at_the_promote(
    engines, ledger, record, page_records, control_record
):
    history = interleaved_history(seed=11)
    store = InMemoryEventStore(history)
    points = folds(history)
    projector = Projector(ledger, engines.writer, store)
    paused_at = EVENTS // 2
    # The model serving so far has the first half; the rest waits in the paused live queue.
    for start in range(0, paused_at, 5):
        batch = [record(e) for e in history[start : start + 5]]
        assert projector.handle(batch).failed_message_ids == ()
    reader = Reader(engines.reader, ledger, points)
    reader.start()

    projector.handle([control_record("begin", "rebuild-1")])
    for page in shuffled_pages(page_records(history, page_size=2), seed=3):
        assert projector.handle([page]).failed_message_ids == ()
    assert projector.handle([control_record("promote", "rebuild-1")]).failed_message_ids == ()
    # The live queue's backlog: already in the new generation, so skipped.
    backlog = projector.handle([record(e) for e in history[paused_at : paused_at + 10]])
    reader.wait_for(lambda seen: len(seen) >= 20 and seen[-1] == EVENTS)
    reader.stop()

    assert reader.impossible == []
    assert set(reader.seen) == {paused_at, EVENTS}
    # Once readers saw the new model, none saw the old one again.
    switched = reader.seen.index(EVENTS)
    assert set(reader.seen[switched:]) == {EVENTS}
    assert backlog.applied == 0


def test_a_rebuild_that_fails_midway_leaves_the_active_model_serving(
    engines, ledger, record, page_records, control_record
):
    history = interleaved_history(seed=12)
    store = InMemoryEventStore(history)
    points = folds(history)
    projector = Projector(ledger, engines.writer, store)
    for start in range(0, EVENTS, 10):
        projector.handle([record(e) for e in history[start : start + 10]])
    reader = Reader(engines.reader, ledger, points)
    reader.start()

    projector.handle([control_record("begin", "doomed")])
    pages = shuffled_pages(page_records(history, page_size=2), seed=4)
    for page in pages[: len(pages) // 2]:
        projector.handle([page])
    # The state machine gives up: it aborts and switches live back on.
    projector.handle([control_record("abort", "doomed")])
    # A promote that was still on its way is refused.
    late = projector.handle([control_record("promote", "doomed", message_id="late")])
    reader.wait_for(lambda seen: len(seen) >= 20)
    reader.stop()

    assert late.failed_message_ids == ("late",)
    assert reader.impossible == []
    assert set(reader.seen) == {EVENTS}
    generations = projector.generations()
    assert (generations.active, generations.building) == (1, None)
