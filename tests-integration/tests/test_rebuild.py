"""Rebuild: projection-balances is rebuilt from the event store (blue/green, through the real
state machine in moto) while queries and commands keep running. No query ever sees a balance that
was not true at some point, nor an account going back in time, and the promoted model is the fold.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from platform_projections import runtime_tables
from platform_projections.generations import read_generations
from platform_replay import Phase, ProgressReader, start_replay
from tests_integration.invariants import assert_read_models_are_the_fold
from tests_integration.reference import account_balances, by_stream
from tests_integration.system import BALANCES, System
from tests_integration.workload import Reader, Seen, Writer, wait_until, write_history

REBUILD_TIMEOUT_SECONDS = 90.0


def untrue(seen: list[Seen], streams: dict[str, list]) -> list[Seen]:
    """The answers that do not equal the fold of their account's first ``version`` events."""
    wrong = []
    for answer in seen:
        prefix = streams[answer.account_id][: answer.version]
        fold = account_balances(prefix).get(answer.account_id)
        if fold is None or (fold.version, fold.balance, fold.status) != (
            answer.version,
            answer.balance,
            answer.status,
        ):
            wrong.append(answer)
    return wrong


def backwards(seen: list[Seen]) -> list[tuple[Seen, Seen]]:
    """Answers of one reader that show an account older than an earlier answer did."""
    latest: dict[str, Seen] = {}
    found = []
    for answer in seen:
        before = latest.get(answer.account_id)
        if before is not None and answer.version < before.version:
            found.append((before, answer))
        latest[answer.account_id] = answer
    return found


@pytest.mark.slow
def test_a_rebuild_swaps_in_the_whole_new_model_while_queries_and_commands_run(
    make_system: Callable[..., System],
) -> None:
    system = make_system(projections=[BALANCES])
    accounts = write_history(system, accounts=10, movements=50, seed=3)
    system.settle()
    deployed = system.projections["balances"]
    readers = [Reader(system.query_api(), accounts, f"reader-{n}") for n in range(2)]
    writer = Writer(system.command_api(), accounts, seed=4)
    phases: list[tuple[float, Phase]] = []
    with system.running():
        for worker in (*readers, writer):
            worker.start()
        try:
            wait_until(lambda: all(len(r.seen) > len(accounts) for r in readers), "reads")
            execution = start_replay(system.stepfunctions, deployed.state_machine_arn, rebuild=True)
            progress = ProgressReader(
                execution,
                stepfunctions=system.stepfunctions,
                sqs=system.sqs,
                lambda_client=system.lambda_client,
            )
            deadline = time.monotonic() + REBUILD_TIMEOUT_SECONDS
            while not (reading := progress.read()).finished:
                phases.append((time.monotonic(), reading.phase))
                assert time.monotonic() < deadline, f"rebuild still running: {reading.line()}"
                time.sleep(0.2)
            done = time.monotonic()
            wait_until(lambda: any(s.at > done for r in readers for s in r.seen), "reads after")
        finally:
            for worker in (writer, *readers):
                worker.stop()
    system.settle()

    assert reading.succeeded, reading.line()
    assert reading.live_mapping_state == "Enabled"
    with system.owner_engine.connect() as connection:
        generations = read_generations(connection, runtime_tables("balances"), "balances")
    assert generations.active > 1
    assert generations.building is None

    events = assert_read_models_are_the_fold(system)
    streams = by_stream(events)
    building = [at for at, phase in phases if phase in (Phase.READING, Phase.DRAINING)]
    assert building, [phase for _, phase in phases]
    for reader in readers:
        assert untrue(reader.seen, streams) == []
        assert backwards(reader.seen) == []
        # The readers were answered before, during and after the rebuild.
        assert reader.seen[0].at < building[0] < building[-1] < reader.seen[-1].at
        assert any(building[0] <= s.at <= building[-1] for s in reader.seen)
    assert system.dead_letters() == {}
    assert system.relay_failures == []
