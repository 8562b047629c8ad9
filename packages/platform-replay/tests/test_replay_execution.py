"""The real replay definition, executed by moto's Step Functions interpreter against moto's
DynamoDB, SQS and Lambda: what reaches the replay queue, in which order, and when the live mapping
is switched on."""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict

import pytest
from platform_replay import definition as asl

from platform_events import layout

# Each test runs whole replays, drain polls included (a second each).
pytestmark = pytest.mark.slow

SELECTED = {"MoneyDeposited", "MoneyWithdrawn"}


def write_history(world, events) -> None:
    """Accounts with every kind of event, a run of events no replay here selects (a whole page
    filtered out), another aggregate type, and an idempotency record."""
    for index, stream_id in enumerate(events.stream_ids(14, seed=1)):
        world.write(
            events.account_stream(
                stream_id, movements=3 + index % 7, closed=index % 4 == 0, renamed=6 * (index == 3)
            )
        )
    for stream_id in events.stream_ids(4, seed=2):
        world.write(
            [
                events.other_event(stream_id, v, "CustomerRegistered", aggregate_type="Customer")
                for v in (1, 2)
            ]
        )
    world.write_idempotency_record()


def selected(world, event_types=SELECTED, aggregate_types=("Account",)):
    return [
        e
        for e in world.written
        if e.aggregate_type in aggregate_types and (not event_types or e.event_type in event_types)
    ]


def assert_exactly_once_in_stream_order(received_envelopes, expected) -> None:
    keys = [envelope.key for envelope in received_envelopes]
    duplicates = [key for key, count in Counter(keys).items() if count > 1]
    assert not duplicates, f"sent more than once: {duplicates[:5]}"
    assert set(keys) == {envelope.key for envelope in expected}
    versions_by_stream: dict[str, list[int]] = defaultdict(list)
    for stream_id, version in keys:
        versions_by_stream[stream_id].append(version)
    for stream_id, versions in versions_by_stream.items():
        assert versions == sorted(versions), f"stream {stream_id} out of order: {versions}"
    # What arrives is the stored envelope itself, not a re-encoding of it.
    by_key = {envelope.key: envelope for envelope in expected}
    assert all(envelope == by_key[envelope.key] for envelope in received_envelopes)


def state_names(history, event_type):
    details = (
        "stateEnteredEventDetails" if event_type.endswith("Entered") else "stateExitedEventDetails"
    )
    return [e[details]["name"] for e in history if e["type"] == event_type]


def test_replay_sends_each_selected_event_once_in_stream_order_then_enables_the_live_mapping(
    world, consumer, events
):
    write_history(world, events)
    target = world.target()
    state_machine = world.deploy(target)
    assert world.mapping_state() == "Disabled"

    reader = consumer()
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=state_machine, name="first-replay", input="{}"
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "SUCCEEDED", described.get("cause")
    expected = selected(world)
    assert len(expected) > 40
    assert_exactly_once_in_stream_order(reader.envelopes, expected)

    # Nothing else: no other event types, no other aggregate, never the idempotency record.
    assert {e.event_type for e in reader.envelopes} <= SELECTED
    assert {e.aggregate_type for e in reader.envelopes} == {"Account"}
    assert not any(
        e.stream_id.startswith(layout.IDEMPOTENCY_STREAM_PREFIX) for e in reader.envelopes
    )

    # One message per page, grouped by replay partition, several pages per partition.
    for message in reader.received:
        assert 1 <= len(message.envelopes) <= target.page_size
        partitions = {
            layout.replay_partition(e.aggregate_type, layout.replay_shard_of(e.stream_id))
            for e in message.envelopes
        }
        assert partitions == {message.group_id}
        assert re.fullmatch(r"[0-9a-f]{64}", message.deduplication_id)
    pages_per_partition = Counter(message.group_id for message in reader.received)
    assert max(pages_per_partition.values()) >= 3
    assert len({m.deduplication_id for m in reader.received}) == len(reader.received)

    # The live mapping stayed off while anything was in the replay queue, and is on now.
    assert {m.mapping_state_at_receipt for m in reader.received} == {"Disabled"}
    assert {m.mapping_state_after_delete for m in reader.received} == {"Disabled"}
    assert world.mapping_state() == "Enabled"

    output = json.loads(described["output"])
    per_partition = Counter(
        layout.replay_partition(e.aggregate_type, layout.replay_shard_of(e.stream_id))
        for e in expected
    )
    assert output["projection"] == "transactions"
    assert output["events_sent"]["total"] == len(expected)
    assert output["events_sent"]["per_shard"] == [
        {"partition": partition, "events_sent": per_partition.get(partition, 0)}
        for partition in target.partitions
    ]
    assert output["live_mapping_state"] == "Enabled"
    assert output["started_at"] <= output["finished_at"]

    history = world.history(execution)
    entered = state_names(history, "TaskStateEntered")
    # A page with nothing selected was read and skipped without a message.
    assert asl.SKIP_EMPTY_PAGE in state_names(history, "PassStateEntered")
    assert entered.count(asl.FIRST_PAGE) == len(target.partitions)
    assert entered.count(asl.SEND_PAGE) + entered.count(asl.SEND_LAST_PAGE) == len(reader.received)
    # Enabled only after the last send and two empty polls in a row.
    enable_at = next(
        e["id"]
        for e in history
        if e["type"] == "TaskStateEntered"
        and e["stateEnteredEventDetails"]["name"] == asl.ENABLE_LIVE_MAPPING
    )
    last_send = max(
        e["id"]
        for e in history
        if e["type"] == "TaskStateExited"
        and e["stateExitedEventDetails"]["name"] in asl.SEND_STATES
    )
    depths = [
        json.loads(e["stateExitedEventDetails"]["output"])["depth"]
        for e in history
        if e["type"] == "TaskStateExited"
        and e["stateExitedEventDetails"]["name"] == asl.QUEUE_DEPTH
        and e["id"] < enable_at
    ]
    assert last_send < enable_at
    empty = {"visible": "0", "in_flight": "0", "delayed": "0"}
    assert depths[-2:] == [empty, empty]


def test_pages_of_one_event_and_pages_with_nothing_selected(world, consumer, events):
    # page_size 1: every page holds at most one event, and pages of unselected events are empty.
    for stream_id in events.stream_ids(3, seed=3):
        world.write(events.account_stream(stream_id, movements=2, closed=True, renamed=2))
    reader = consumer()
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(world.target(page_size=1)), name="one-by-one"
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "SUCCEEDED", described.get("cause")
    expected = selected(world)
    assert_exactly_once_in_stream_order(reader.envelopes, expected)
    assert all(len(m.envelopes) == 1 for m in reader.received)
    passes = state_names(world.history(execution), "PassStateEntered")
    assert asl.PACK_ONE_PAGE in passes
    assert asl.SKIP_EMPTY_PAGE in passes
    assert json.loads(described["output"])["events_sent"]["total"] == len(expected)


def test_every_event_type_of_several_aggregate_types(world, consumer, events):
    write_history(world, events)
    target = world.target(
        projection="audit", aggregate_types=("Account", "Customer"), event_types=(), page_size=25
    )
    reader = consumer()
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target, name="replay-audit"), name="audit"
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "SUCCEEDED", described.get("cause")
    expected = selected(world, event_types=(), aggregate_types=("Account", "Customer"))
    assert_exactly_once_in_stream_order(reader.envelopes, expected)
    output = json.loads(described["output"])
    assert output["events_sent"]["total"] == len(expected)
    assert len(output["events_sent"]["per_shard"]) == 2 * layout.REPLAY_SHARD_COUNT


def test_a_second_replay_of_a_live_projection_sends_everything_again(world, consumer, events):
    write_history(world, events)
    state_machine = world.deploy(world.target(page_size=50))
    expected = selected(world)
    for name in ("initial", "rebuild"):
        reader = consumer()
        execution = world.aws.stepfunctions.start_execution(
            stateMachineArn=state_machine, name=name
        )["executionArn"]
        described = world.wait_for_end(execution)
        reader.stop()
        assert described["status"] == "SUCCEEDED", described.get("cause")
        # Deduplication ids name the execution: a rebuild's pages are not dropped as repeats.
        assert_exactly_once_in_stream_order(reader.envelopes, expected)
        assert world.mapping_state() == "Enabled"


def test_the_drain_waits_while_messages_are_visible_or_in_flight(world, consumer, events):
    for stream_id in events.stream_ids(3, seed=4):
        world.write(events.account_stream(stream_id, movements=2))
    state_machine = world.deploy(world.target(page_size=2))
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=state_machine, name="slow-consumer"
    )["executionArn"]

    def polls() -> int:
        return state_names(world.history(execution), "TaskStateEntered").count(asl.QUEUE_DEPTH)

    def wait_for_polls(count: int) -> None:
        deadline = time.monotonic() + 15
        while polls() < count:
            assert time.monotonic() < deadline, "the drain loop does not poll"
            time.sleep(0.1)

    # Everything sent, nobody consuming: the messages stay visible, the replay keeps waiting.
    wait_for_polls(3)
    assert world.describe(execution)["status"] == "RUNNING"
    assert world.mapping_state() == "Disabled"
    assert world.queue_depth()["ApproximateNumberOfMessages"] > 0

    # Received but not deleted (a handler still working): in flight, still waiting.
    in_flight = []
    while True:
        batch = world.aws.sqs.receive_message(
            QueueUrl=world.replay_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=120
        ).get("Messages", [])
        if not batch:
            break
        in_flight.extend(batch)
    assert in_flight
    depth = world.queue_depth()
    assert depth["ApproximateNumberOfMessages"] == 0
    assert depth["ApproximateNumberOfMessagesNotVisible"] == len(in_flight)
    wait_for_polls(polls() + 3)
    assert world.describe(execution)["status"] == "RUNNING"
    assert world.mapping_state() == "Disabled"

    # Processed: the queue is empty, two empty polls later the live mapping is on.
    for message in in_flight:
        world.aws.sqs.delete_message(
            QueueUrl=world.replay_queue_url, ReceiptHandle=message["ReceiptHandle"]
        )
    described = world.wait_for_end(execution)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert world.mapping_state() == "Enabled"
    passes = state_names(world.history(execution), "PassStateEntered")
    assert asl.RESET_EMPTY_POLLS in passes
    assert passes.count(asl.COUNT_EMPTY_POLL) == asl.EMPTY_POLLS_TO_DRAIN


def test_an_empty_event_store_replays_nothing_and_still_goes_live(world, consumer, events):
    reader = consumer()
    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(world.target()), name="nothing-yet"
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert reader.received == []
    assert json.loads(described["output"])["events_sent"]["total"] == 0
    assert world.mapping_state() == "Enabled"
