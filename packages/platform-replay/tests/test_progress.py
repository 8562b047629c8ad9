"""Progress of a replay execution, and the CLI that starts and follows one."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections import Counter

import pytest
from platform_replay import definition as asl
from platform_replay.cli import ReplayClients, main
from platform_replay.progress import Phase, ProgressReader

from platform_events import layout

SELECTED = {"MoneyDeposited", "MoneyWithdrawn"}


def write_accounts(world, events, count: int = 10) -> list:
    for index, stream_id in enumerate(events.stream_ids(count, seed=7)):
        world.write(events.account_stream(stream_id, movements=2 + index % 5))
    return [e for e in world.written if e.event_type in SELECTED]


def partition_counts(envelopes, target) -> dict[str, int]:
    counts = Counter(
        layout.replay_partition(e.aggregate_type, layout.replay_shard_of(e.stream_id))
        for e in envelopes
    )
    return {partition: counts.get(partition, 0) for partition in target.partitions}


def clients_of(world) -> ReplayClients:
    return ReplayClients(
        stepfunctions=world.aws.stepfunctions,
        sqs=world.aws.sqs,
        lambda_client=world.aws.lambda_client,
    )


def read_until(reader: ProgressReader, done, timeout: float = 20.0):
    readings = []
    deadline = time.monotonic() + timeout
    while True:
        readings.append(reader.read())
        if done(readings[-1]):
            return readings
        assert time.monotonic() < deadline, f"gave up waiting; last: {readings[-1].line()}"
        time.sleep(0.1)


@pytest.mark.slow
def test_progress_counts_what_was_sent_shows_the_drain_and_the_live_mapping(
    world, consumer, events
):
    expected = write_accounts(world, events)
    target = world.target(page_size=3)
    replay_consumer = consumer(paused=True)
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target), name="observed"
    )["executionArn"]
    reader = clients_of(world).reader(execution)

    # Nobody consumes yet: the replay sends everything, then waits for the queue.
    readings = read_until(reader, lambda p: p.phase is Phase.DRAINING)
    draining = readings[-1]
    assert draining.status == "RUNNING"
    assert draining.events_sent == len(expected)
    assert draining.events_sent_per_partition == partition_counts(expected, target)
    assert draining.partitions_done == draining.partitions_total == layout.REPLAY_SHARD_COUNT
    assert draining.queue_depth is not None
    assert draining.queue_depth.visible == draining.pages_sent > len(target.partitions)
    assert draining.live_mapping_state == "Disabled"
    sent = [p.events_sent for p in readings]
    assert sent == sorted(sent)

    replay_consumer.resume()
    final = read_until(reader, lambda p: p.finished)[-1]
    replay_consumer.stop()
    assert final.succeeded
    assert final.phase is Phase.DONE
    assert final.events_sent == len(expected) == len(replay_consumer.envelopes)
    assert final.pages_sent == len(replay_consumer.received)
    assert final.queue_depth is not None
    assert final.queue_depth.total == 0
    assert final.live_mapping_state == "Enabled"
    assert final.output is not None
    assert final.output["events_sent"]["total"] == len(expected)
    assert final.stopped_at is not None
    assert final.stopped_at >= final.started_at
    line = final.line()
    assert "transactions" in line
    assert "SUCCEEDED" in line
    assert f"{len(expected):,} events sent" in line
    assert "live mapping Enabled" in line

    # Reading it all at once gives what reading it bit by bit gave.
    fresh = clients_of(world).reader(execution).read()
    assert fresh.events_sent_per_partition == final.events_sent_per_partition
    assert fresh.pages_sent == final.pages_sent


class GrowingHistory:
    """A Step Functions client that shows a finished execution's history as if it were still
    being written, in AWS's manner: newest first, in pages, with tokens."""

    def __init__(self, real, execution_arn: str, page_size: int = 7) -> None:
        self.real = real
        self.events = real.get_execution_history(executionArn=execution_arn)["events"]
        self.visible = 0
        self.page_size = page_size
        self.calls = 0

    def describe_state_machine_for_execution(self, **kwargs):
        return self.real.describe_state_machine_for_execution(**kwargs)

    def describe_execution(self, **kwargs):
        described = dict(self.real.describe_execution(**kwargs))
        described.update(status="RUNNING")
        described.pop("output", None)
        described.pop("stopDate", None)
        return described

    def get_execution_history(self, **request):
        assert request["reverseOrder"]
        assert request["includeExecutionData"]
        self.calls += 1
        newest_first = list(reversed(self.events[: self.visible]))
        start = int(request.get("nextToken", 0))
        page = {"events": newest_first[start : start + self.page_size]}
        if start + self.page_size < len(newest_first):
            page["nextToken"] = str(start + self.page_size)
        return page


@pytest.mark.slow
def test_reading_a_growing_history_newest_first_counts_each_page_once(world, consumer, events):
    expected = write_accounts(world, events, count=6)
    replay_consumer = consumer()
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(world.target(page_size=2)), name="replayed"
    )["executionArn"]
    world.wait_for_end(execution)
    replay_consumer.stop()

    history = GrowingHistory(world.aws.stepfunctions, execution)
    reader = ProgressReader(execution, stepfunctions=history)
    sent_by_scheduled_bodies = 0
    phases = []
    for index, event in enumerate(history.events):
        history.visible = index + 1
        # An independent count: the bodies of the sends that have succeeded so far.
        if (
            event["type"] == "TaskStateExited"
            and event["stateExitedEventDetails"]["name"] in asl.SEND_STATES
        ):
            scheduled = next(
                e
                for e in reversed(history.events[:index])
                if e["type"] == "TaskScheduled"
                and e["taskScheduledEventDetails"]["resource"] == "sendMessage"
                and json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageGroupId"]
                == json.loads(event["stateExitedEventDetails"]["output"])["partition"]
            )
            body = json.loads(
                json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["MessageBody"]
            )
            sent_by_scheduled_bodies += len(body["replayed_events"])
        if index % 5 == 0 or index == len(history.events) - 1:
            progress = reader.read()
            assert progress.events_sent == sent_by_scheduled_bodies
            phases.append(progress.phase)
    assert sent_by_scheduled_bodies == len(expected)
    order = list(Phase)
    assert [order.index(p) for p in phases] == sorted(order.index(p) for p in phases)
    assert {Phase.READING, Phase.DRAINING, Phase.DONE} <= set(phases)
    # Each refresh read only the pages it had not seen (newest first, stopping at known events).
    assert history.calls < len(history.events)


@pytest.mark.slow
def test_cli_starts_a_replay_and_follows_it_to_the_end(world, consumer, events):
    expected = write_accounts(world, events, count=4)
    state_machine = world.deploy(world.target())
    replay_consumer = consumer()
    out = io.StringIO()
    code = main(
        ["start", "--state-machine-arn", state_machine, "--interval", "0.3"],
        clients=clients_of(world),
        out=out,
    )
    replay_consumer.stop()
    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    assert lines[0].startswith("started arn:aws:states:eu-west-1:123456789012:execution:")
    assert any("RUNNING" in line for line in lines[1:-1])
    assert lines[-1].startswith(f"replay of transactions succeeded: {len(expected)} events in")
    assert lines[-1].endswith("live mapping Enabled")
    assert world.mapping_state() == "Enabled"

    execution = lines[0].removeprefix("started ")
    out = io.StringIO()
    assert main(["progress", "--execution-arn", execution], clients=clients_of(world), out=out) == 0
    assert "SUCCEEDED  done" in out.getvalue()


@pytest.mark.slow
def test_a_failed_replay_leaves_the_live_mapping_off_and_exits_non_zero(world):
    state_machine = world.deploy(world.target(table_name="no-such-table"))
    out = io.StringIO()
    code = main(
        ["start", "--state-machine-arn", state_machine, "--name", "broken", "--interval", "0.2"],
        clients=clients_of(world),
        out=out,
    )
    assert code == 1
    summary = out.getvalue().splitlines()[-1]
    assert summary.startswith("replay of transactions FAILED:")
    assert "the live mapping was not enabled" in summary
    assert world.mapping_state() == "Disabled"

    execution = out.getvalue().splitlines()[0].removeprefix("started ")
    out = io.StringIO()
    assert main(["progress", "--execution-arn", execution], clients=clients_of(world), out=out) == 1
    assert "FAILED  stopped" in out.getvalue()


def test_module_entry_point_has_help():
    answer = subprocess.run(
        [sys.executable, "-m", "platform_replay", "progress", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert "--execution-arn" in answer.stdout
    assert "--follow" in answer.stdout


@pytest.mark.slow
def test_a_rebuild_goes_through_its_phases_in_order(world, consumer, events):
    write_accounts(world, events, count=3)
    world.enable_live()
    replay_consumer = consumer()
    target = world.target(dead_letter_queue_url=world.dead_letter_queue_url)
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target), name="rebuild", input='{"rebuild": true}'
    )["executionArn"]
    world.wait_for_end(execution)
    replay_consumer.stop()

    history = GrowingHistory(world.aws.stepfunctions, execution)
    reader = ProgressReader(execution, stepfunctions=history)
    phases = []
    for index in range(len(history.events)):
        history.visible = index + 1
        reading = reader.read()
        if not phases or phases[-1] is not reading.phase:
            phases.append(reading.phase)
    assert reading.rebuild is True
    assert "transactions (rebuild)" in reading.line()
    assert phases == [
        Phase.STARTING,
        Phase.PAUSING,
        Phase.BEGINNING,
        Phase.READING,
        Phase.DRAINING,
        Phase.PROMOTING,
        Phase.ENABLING,
        Phase.DONE,
    ]


@pytest.mark.slow
def test_cli_rebuilds_and_says_the_new_generation_is_active(world, consumer, events):
    expected = write_accounts(world, events, count=3)
    world.enable_live()
    state_machine = world.deploy(world.target(dead_letter_queue_url=world.dead_letter_queue_url))
    replay_consumer = consumer()
    out = io.StringIO()

    code = main(
        ["rebuild", "--state-machine-arn", state_machine, "--interval", "0.3"],
        clients=clients_of(world),
        out=out,
    )
    replay_consumer.stop()

    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    assert ":execution:" in lines[0]
    assert lines[0].split(":")[-1].startswith("rebuild-")
    assert lines[-1].startswith(f"rebuild of transactions succeeded: {len(expected)} events in")
    assert "the new generation is active" in lines[-1]
    assert [c["replay_control"] for c in replay_consumer.controls] == ["begin", "promote"]
    assert world.mapping_state() == "Enabled"


@pytest.mark.slow
def test_cli_reports_a_failed_rebuild_as_leaving_the_active_generation(world, consumer):
    world.enable_live()
    state_machine = world.deploy(world.target(table_name="no-such-table"))
    replay_consumer = consumer()
    out = io.StringIO()

    code = main(
        ["rebuild", "--state-machine-arn", state_machine, "--interval", "0.2"],
        clients=clients_of(world),
        out=out,
    )
    replay_consumer.stop()

    assert code == 1
    summary = out.getvalue().splitlines()[-1]
    assert summary.startswith("rebuild of transactions FAILED:")
    assert "the active generation still serves and live events flow again" in summary
    assert world.mapping_state() == "Enabled"
