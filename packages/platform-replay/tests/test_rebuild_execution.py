"""The real definition's rebuild mode, executed by moto's Step Functions interpreter: the live
mapping is paused for the whole rebuild and switched on at the end, ``begin`` is applied before
any page is sent, ``promote`` comes after every page was applied; a rebuild that fails aborts and
resumes live, and a replay that dead-lettered anything never reports success."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict

import pytest
from platform_replay import definition as asl
from platform_replay.control import CONTROL_GROUP

pytestmark = pytest.mark.slow

SELECTED = {"MoneyDeposited", "MoneyWithdrawn"}
REBUILD = json.dumps({"rebuild": True})


def write_accounts(world, events, count: int = 8) -> list:
    for index, stream_id in enumerate(events.stream_ids(count, seed=21)):
        world.write(events.account_stream(stream_id, movements=2 + index % 5))
    return [e for e in world.written if e.event_type in SELECTED]


def assert_each_once_in_stream_order(envelopes, expected) -> None:
    keys = [envelope.key for envelope in envelopes]
    assert Counter(keys).most_common(1)[0][1] == 1
    assert set(keys) == {envelope.key for envelope in expected}
    versions: dict[str, list[int]] = defaultdict(list)
    for stream_id, version in keys:
        versions[stream_id].append(version)
    assert all(found == sorted(found) for found in versions.values())


def control(action: str, rebuild: str) -> dict:
    return {"replay_control": action, "rebuild": rebuild}


def history_states(world, execution):
    """(event id, kind, state name, data) of every state entered or exited, in order."""
    found = []
    for event in world.history(execution):
        for key, kind in (
            ("stateEnteredEventDetails", "entered"),
            ("stateExitedEventDetails", "exited"),
        ):
            details = event.get(key)
            if details is not None:
                data = details.get("input" if kind == "entered" else "output")
                found.append((event["id"], kind, details["name"], json.loads(data or "null")))
    return found


def first_id(states, kind, names):
    return min(event_id for event_id, k, name, _ in states if k == kind and name in names)


def last_id(states, kind, names):
    return max(event_id for event_id, k, name, _ in states if k == kind and name in names)


def empty_polls_before(states, prefix, before):
    """The drain's queue readings (``<prefix>QueueDepth``) before event id ``before``."""
    depth = asl.drain_state_names(prefix)[2]
    return [
        data["depth"]
        for event_id, kind, name, data in states
        if kind == "exited" and name == depth and event_id < before
    ]


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_a_rebuild_pauses_live_begins_replays_promotes_and_resumes_live(world, consumer, events):
    expected = write_accounts(world, events)
    world.enable_live()
    target = world.target(page_size=3, dead_letter_queue_url=world.dead_letter_queue_url)
    reader = consumer()

    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target), name="rebuild-1", input=REBUILD
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "SUCCEEDED", described.get("cause")
    # begin first, promote last, every page in between, each event once in stream order.
    assert reader.received[0].control == control("begin", "rebuild-1")
    assert reader.received[-1].control == control("promote", "rebuild-1")
    assert reader.controls == [control("begin", "rebuild-1"), control("promote", "rebuild-1")]
    assert {m.group_id for m in reader.received if m.control} == {CONTROL_GROUP}
    assert_each_once_in_stream_order(reader.envelopes, expected)
    # Live was paused before begin and stayed paused until promote was applied; it is on now.
    assert {m.mapping_state_at_receipt for m in reader.received} == {"Disabled"}
    assert {m.mapping_state_after_delete for m in reader.received} == {"Disabled"}
    assert world.mapping_state() == "Enabled"
    output = json.loads(described["output"])
    assert output["rebuild"] is True
    assert output["events_sent"]["total"] == len(expected)
    assert output["live_mapping_state"] == "Enabled"

    states = history_states(world, execution)
    empty = {"visible": "0", "in_flight": "0", "delayed": "0"}
    # No page left before begin was applied: the queue was empty twice after begin was sent.
    first_page = first_id(states, "entered", asl.SEND_STATES)
    assert last_id(states, "exited", {asl.SEND_BEGIN}) < first_page
    assert empty_polls_before(states, asl.BEGIN_PREFIX, first_page)[-2:] == [empty, empty]
    # Promote was sent only once every page was applied (the replay's own drain), and live was
    # enabled only once promote was applied (its drain).
    promote_sent = first_id(states, "entered", {asl.SEND_PROMOTE})
    assert last_id(states, "exited", asl.SEND_STATES) < promote_sent
    assert empty_polls_before(states, "", promote_sent)[-2:] == [empty, empty]
    enabled = first_id(states, "entered", {asl.ENABLE_LIVE_MAPPING})
    assert empty_polls_before(states, asl.PROMOTE_PREFIX, enabled)[-2:] == [empty, empty]
    paused = first_id(states, "entered", {asl.PAUSE_LIVE})
    assert paused < first_id(states, "entered", {asl.SEND_BEGIN})


def test_a_rebuild_whose_page_is_dead_lettered_aborts_resumes_live_and_fails(
    world, consumer, events
):
    expected = write_accounts(world, events, count=6)
    world.enable_live()
    poison = expected[0].stream_id
    target = world.target(page_size=2, dead_letter_queue_url=world.dead_letter_queue_url)
    # The projector fails on every page holding one stream's events: they reach the DLQ.
    reader = consumer(reject=lambda m: any(e.stream_id == poison for e in m.envelopes))

    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target), name="rebuild-2", input=REBUILD
    )["executionArn"]
    described = world.wait_for_end(execution)
    wait_for(lambda: control("abort", "rebuild-2") in reader.controls)
    reader.stop()

    assert described["status"] == "FAILED"
    assert described["error"] == asl.REBUILD_DEAD_LETTER_ERROR
    assert "not promoted" in described["cause"]
    assert reader.controls == [control("begin", "rebuild-2"), control("abort", "rebuild-2")]
    assert reader.rejected
    assert world.dead_letters()
    # The active generation never changed; live events flow into it again.
    assert world.mapping_state() == "Enabled"


def test_a_rebuild_that_fails_reading_aborts_and_resumes_live(world, consumer, events):
    write_accounts(world, events, count=2)
    world.enable_live()
    target = world.target(
        table_name="no-such-table", dead_letter_queue_url=world.dead_letter_queue_url
    )
    reader = consumer()

    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target), name="rebuild-3", input=REBUILD
    )["executionArn"]
    described = world.wait_for_end(execution)
    wait_for(lambda: len(reader.controls) == 2)
    reader.stop()

    assert described["status"] == "FAILED"
    # The error that stopped it, not a generic one.
    assert described["error"].startswith("DynamoDb.")
    assert reader.controls == [control("begin", "rebuild-3"), control("abort", "rebuild-3")]
    assert reader.envelopes == []
    assert world.mapping_state() == "Enabled"
    names = {name for _, kind, name, _ in history_states(world, execution) if kind == "entered"}
    assert {asl.PACK_ABORT, asl.SEND_ABORT, asl.RESUME_LIVE} <= names
    assert asl.SEND_PROMOTE not in names


def test_a_first_replay_that_dead_lettered_a_page_leaves_live_off_and_fails(
    world, consumer, events
):
    expected = write_accounts(world, events, count=4)
    poison = expected[0].stream_id
    target = world.target(page_size=2, dead_letter_queue_url=world.dead_letter_queue_url)
    reader = consumer(reject=lambda m: any(e.stream_id == poison for e in m.envelopes))

    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(target), name="first"
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "FAILED"
    assert described["error"] == asl.DEAD_LETTER_ERROR
    assert reader.controls == []
    assert world.mapping_state() == "Disabled"


def test_dead_letters_from_before_the_replay_do_not_count(world, consumer, events):
    expected = write_accounts(world, events, count=3)
    world.aws.sqs.send_message(
        QueueUrl=world.dead_letter_queue_url,
        MessageBody="an old poison message, not redriven yet",
        MessageGroupId="Account#0",
        MessageDeduplicationId="old",
    )
    reader = consumer()

    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(
            world.target(dead_letter_queue_url=world.dead_letter_queue_url)
        ),
        name="despite-old-dead-letters",
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert_each_once_in_stream_order(reader.envelopes, expected)
    assert world.mapping_state() == "Enabled"


def test_an_input_that_is_neither_mode_is_refused_before_anything_happens(world, consumer):
    world.enable_live()
    reader = consumer()

    execution = world.aws.stepfunctions.start_execution(
        stateMachineArn=world.deploy(world.target()), name="unclear", input='{"rebuild": "yes"}'
    )["executionArn"]
    described = world.wait_for_end(execution)
    reader.stop()

    assert described["status"] == "FAILED"
    assert described["error"] == asl.INVALID_INPUT_ERROR
    assert reader.received == []
    assert world.mapping_state() == "Enabled"
