"""Replay: a projection deployed after the fact catches up with the event store through the real
replay state machine (executed by moto's Step Functions), while commands keep arriving; then the
live queue, which held the events published meanwhile, takes over. The overlap is applied once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from platform_replay import Phase, ProgressReader, start_replay
from tests_integration.invariants import assert_exact
from tests_integration.system import BALANCES, TRANSACTIONS, System
from tests_integration.workload import Writer, wait_until, write_history

REPLAY_TIMEOUT_SECONDS = 90.0


@pytest.mark.slow
def test_a_new_projection_replays_history_then_goes_live_without_losing_or_doubling_an_event(
    make_system: Callable[..., System],
) -> None:
    system = make_system(projections=[BALANCES])
    accounts = write_history(system, accounts=12, movements=60)
    system.settle()
    writer = Writer(system.command_api(), accounts, seed=2)
    phases: list[Phase] = []
    live_depth_while_off: list[int] = []
    with system.running():
        writer.start()
        try:
            wait_until(lambda: writer.accepted >= 5, "commands arrive")
            # Deployed while commands arrive: its live queue is subscribed from now on, its live
            # mapping is off, so new events wait there.
            deployed = system.deploy(TRANSACTIONS, live_enabled=False)
            wait_until(lambda: system.depth(deployed.live) >= 3, "live events wait in the queue")
            execution = start_replay(system.stepfunctions, deployed.state_machine_arn)
            progress = ProgressReader(
                execution,
                stepfunctions=system.stepfunctions,
                sqs=system.sqs,
                lambda_client=system.lambda_client,
            )
            deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
            while not (reading := progress.read()).finished:
                phases.append(reading.phase)
                if system.mapping_state(deployed.live_mapping_uuid) != "Enabled":
                    # Nothing leaves the live queue before the replay switched it on.
                    assert deployed.live_poller.stats.batches == 0
                    live_depth_while_off.append(system.depth(deployed.live))
                assert time.monotonic() < deadline, f"replay still running: {reading.line()}"
                time.sleep(0.2)
            # Live is on; a few more commands go through the live path only.
            accepted = writer.accepted
            wait_until(lambda: writer.accepted >= accepted + 5, "commands after the replay")
        finally:
            writer.stop()
    system.settle()

    assert reading.succeeded, reading.line()
    assert reading.live_mapping_state == "Enabled"
    order = list(Phase)
    assert [order.index(p) for p in phases] == sorted(order.index(p) for p in phases)
    assert Phase.READING in phases or Phase.DRAINING in phases
    assert max(live_depth_while_off) >= 3

    events = assert_exact(system)
    money = [e for e in events if e.event_type in ("MoneyDeposited", "MoneyWithdrawn")]
    assert deployed.totals["EventsApplied"] == len(money)
    # Events both replayed and delivered live were seen twice and applied once.
    assert reading.events_sent + deployed.live_poller.stats.records > len(money)
    assert deployed.totals["EventsSkipped"] > 0
    assert reading.events_sent <= len(money)
