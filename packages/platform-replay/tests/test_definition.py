"""The definition as data: well-formed ASL, what each parameter turns into, the IAM statements, and
the totals arithmetic (executed in moto)."""

from __future__ import annotations

import json
import time

import pytest
from platform_replay import definition as asl
from platform_replay.definition import (
    ReplayTarget,
    plan_from_definition,
    replay_assume_role_policy,
    replay_role_policy,
    replay_role_statements,
    replay_state_machine_definition,
)

from platform_events import layout

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/transactions-replay.fifo"


def make_target(**overrides) -> ReplayTarget:
    settings = {
        "projection": "transactions",
        "table_name": "event-store",
        "aggregate_types": ("Account",),
        "event_types": ("MoneyWithdrawn", "MoneyDeposited"),
        "replay_queue_url": QUEUE_URL,
        "live_mapping_uuid": "0f6a1c3e-1111-4222-8333-944445555666",
    }
    settings.update(overrides)
    return ReplayTarget(**settings)


def all_states(states):
    """Every state, the Map's inner ones included, by name."""
    found = {}
    for name, state in states.items():
        found[name] = state
        if state["Type"] == "Map":
            found.update(all_states(state["ItemProcessor"]["States"]))
    return found


def transitions(state):
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return targets


def check_graph(machine) -> None:
    """Every transition lands on a state of the same level, every state is reachable, and the
    machine can end."""
    states = machine["States"]
    assert machine["StartAt"] in states
    reachable, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        for target in transitions(state):
            assert target in states, f"{name} -> {target}: no such state"
            todo.append(target)
        if state["Type"] == "Map":
            check_graph(state["ItemProcessor"])
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"
    assert any(
        state.get("End") or state["Type"] in {"Succeed", "Fail"} for state in states.values()
    )


def test_definition_is_plain_json_and_deterministic():
    target = make_target()
    definition = replay_state_machine_definition(target)
    text = json.dumps(definition, sort_keys=True)
    assert json.loads(text) == definition
    assert json.dumps(replay_state_machine_definition(make_target()), sort_keys=True) == text


@pytest.mark.parametrize(
    ("aggregate_types", "shard_count"),
    [(("Account",), 8), (("Account", "Customer"), 3), (("A",), 1)],
)
def test_every_transition_lands_somewhere_and_every_state_is_reachable(
    aggregate_types, shard_count
):
    check_graph(
        replay_state_machine_definition(
            make_target(aggregate_types=aggregate_types, shard_count=shard_count)
        )
    )


def test_only_jsonpath_and_aws_sdk_tasks():
    states = all_states(replay_state_machine_definition(make_target())["States"])
    assert "QueryLanguage" not in json.dumps(states)
    resources = {state["Resource"] for state in states.values() if state["Type"] == "Task"}
    assert resources == {
        "arn:aws:states:::aws-sdk:dynamodb:query",
        "arn:aws:states:::aws-sdk:sqs:sendMessage",
        "arn:aws:states:::aws-sdk:sqs:getQueueAttributes",
        "arn:aws:states:::aws-sdk:lambda:updateEventSourceMapping",
    }
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Retry"], f"{name} has no retry"
            assert all(r["BackoffRate"] > 1 and r["MaxAttempts"] >= 3 for r in state["Retry"])


def test_queries_read_the_replay_index_in_order_page_by_page_filtered_by_event_type():
    target = make_target(page_size=37)
    states = all_states(replay_state_machine_definition(target)["States"])
    first, following = states[asl.FIRST_PAGE]["Parameters"], states[asl.NEXT_PAGE]["Parameters"]
    for query in (first, following):
        assert query["TableName"] == "event-store"
        assert query["IndexName"] == layout.REPLAY_INDEX_NAME
        assert query["Limit"] == 37
        assert query["ScanIndexForward"] is True
        names, values = query["ExpressionAttributeNames"], query["ExpressionAttributeValues"]
        assert query["KeyConditionExpression"] == "#shard = :shard"
        assert names["#shard"] == layout.Attr.REPLAY_SHARD
        assert values[":shard"] == {"S.$": "$.partition"}
        assert query["FilterExpression"] == "#type IN (:type0, :type1)"
        assert names["#type"] == layout.Attr.EVENT_TYPE
        assert {values[":type0"]["S"], values[":type1"]["S"]} == {
            "MoneyDeposited",
            "MoneyWithdrawn",
        }
        projected = {names[p] for p in query["ProjectionExpression"].split(", ")}
        assert projected == {layout.Attr.ENVELOPE, layout.Attr.REPLAY_SORT}
    assert "ExclusiveStartKey.$" not in first
    assert following["ExclusiveStartKey.$"] == "$.next"


def test_no_event_types_means_no_filter():
    states = all_states(replay_state_machine_definition(make_target(event_types=()))["States"])
    query = states[asl.FIRST_PAGE]["Parameters"]
    assert "FilterExpression" not in query
    assert "#type" not in query["ExpressionAttributeNames"]


def test_plan_lists_every_partition_and_is_readable_back():
    target = make_target(aggregate_types=("Account", "Customer"))
    definition = replay_state_machine_definition(target)
    plan = plan_from_definition(json.dumps(definition))
    assert plan["partitions"] == [f"Account#{i}" for i in range(8)] + [
        f"Customer#{i}" for i in range(8)
    ]
    assert plan["replay_queue_url"] == QUEUE_URL
    assert plan["live_mapping_uuid"] == target.live_mapping_uuid
    assert definition["States"][asl.REPLAY_SHARDS]["MaxConcurrency"] == layout.REPLAY_SHARD_COUNT
    with pytest.raises(ValueError, match="not a replay state machine"):
        plan_from_definition({"StartAt": "X", "States": {"X": {"Type": "Succeed"}}})


def test_pages_go_to_the_replay_queue_grouped_by_partition():
    states = all_states(replay_state_machine_definition(make_target())["States"])
    for name in asl.SEND_STATES:
        parameters = states[name]["Parameters"]
        assert parameters["QueueUrl"] == QUEUE_URL
        assert parameters["MessageGroupId.$"] == "$.carry.partition"
        assert parameters["MessageBody.$"] == "States.JsonToString($.body)"
    enable = states[asl.ENABLE_LIVE_MAPPING]["Parameters"]
    assert enable == {"Uuid": make_target().live_mapping_uuid, "Enabled": True}
    drain = states[asl.DRAIN_WAIT]
    assert drain["Seconds"] == asl.DEFAULT_DRAIN_POLL_SECONDS


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"projection": ""}, "projection is empty"),
        ({"aggregate_types": ()}, "aggregate_types"),
        ({"aggregate_types": ("Account", "Account")}, "duplicates"),
        ({"event_types": ("",)}, "event_types has an empty name"),
        ({"event_types": tuple(f"T{i}" for i in range(100))}, "more than 99"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": asl.MAX_PAGE_SIZE + 1}, "page_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"drain_poll_seconds": 0}, "drain_poll_seconds"),
        ({"shard_count": 0}, "shard_count"),
    ],
)
def test_invalid_targets_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_target(**overrides)


def test_role_statements_are_least_privilege():
    table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/event-store"
    queue_arn = "arn:aws:sqs:eu-west-1:123456789012:transactions-replay.fifo"
    mapping_arn = "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:0f6a1c3e"
    statements = replay_role_statements(
        table_arn=table_arn, replay_queue_arn=queue_arn, live_mapping_arn=mapping_arn
    )
    granted = {
        action: statement["Resource"] for statement in statements for action in statement["Action"]
    }
    assert granted == {
        "dynamodb:Query": [f"{table_arn}/index/replay_index"],
        "sqs:SendMessage": [queue_arn],
        "sqs:GetQueueAttributes": [queue_arn],
        "lambda:UpdateEventSourceMapping": [mapping_arn],
    }
    assert all(statement["Effect"] == "Allow" for statement in statements)
    assert not any("*" in json.dumps(statement) for statement in statements)

    with_key = replay_role_policy(
        table_arn=table_arn,
        replay_queue_arn=queue_arn,
        live_mapping_arn=mapping_arn,
        replay_queue_kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
    )
    assert with_key["Version"] == "2012-10-17"
    assert with_key["Statement"][-1]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    trust = replay_assume_role_policy()["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}


@pytest.mark.parametrize("partitions", [1, 2, 3, 5, 8, 16, 17])
def test_totals_add_up_for_any_number_of_partitions(aws, partitions):
    # The real counting states, cut out of the definition and run by moto's interpreter.
    definition = replay_state_machine_definition(
        make_target(aggregate_types=("Account",), shard_count=partitions)
    )
    states = {
        name: state
        for name, state in definition["States"].items()
        if name == asl.COUNT_SHARDS or name.startswith(asl.SUM_LEVEL_PREFIX)
    }
    states[asl.START_DRAIN] = {"Type": "Succeed"}
    machine = {"StartAt": asl.COUNT_SHARDS, "States": states}
    role = aws.iam.create_role(RoleName="sums", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = aws.stepfunctions.create_state_machine(
        name="sums", definition=json.dumps(machine), roleArn=role
    )["stateMachineArn"]
    counts = [index * 7 + 1 for index in range(partitions)]
    shards = [{"partition": f"Account#{i}", "events_sent": n} for i, n in enumerate(counts)]
    execution = aws.stepfunctions.start_execution(
        stateMachineArn=arn, input=json.dumps({"shards": shards})
    )["executionArn"]
    for _ in range(100):
        described = aws.stepfunctions.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["totals"]["values"] == [sum(counts)]


DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/transactions-replay-dlq.fifo"


@pytest.mark.parametrize("dead_letter_queue_url", [None, DLQ_URL])
def test_both_modes_are_one_graph_with_or_without_the_dead_letter_check(dead_letter_queue_url):
    definition = replay_state_machine_definition(
        make_target(dead_letter_queue_url=dead_letter_queue_url)
    )
    check_graph(definition)
    states = definition["States"]
    watching = {asl.DEAD_LETTER_BASELINE, asl.DEAD_LETTERS, asl.REPLAY_DEAD_LETTERED}
    assert watching <= set(states) if dead_letter_queue_url else not watching & set(states)
    assert states[asl.PLAN]["Next"] == (
        asl.DEAD_LETTER_BASELINE if dead_letter_queue_url else asl.MODE
    )


def test_the_mode_comes_from_the_input_and_a_rebuild_pauses_live_first():
    states = replay_state_machine_definition(make_target())["States"]
    mode = states[asl.MODE]
    rebuild, unclear = mode["Choices"]
    assert rebuild["Next"] == asl.REBUILD_MODE
    assert {"Variable": "$.request.rebuild", "BooleanEquals": True} in rebuild["And"]
    assert unclear["Next"] == asl.INVALID_INPUT
    assert mode["Default"] == asl.NEW_PROJECTION_MODE
    assert states[asl.NEW_PROJECTION_MODE]["Next"] == asl.REPLAY_SHARDS
    assert states[asl.REBUILD_MODE]["Next"] == asl.PAUSE_LIVE
    assert states[asl.PAUSE_LIVE]["Parameters"] == {
        "Uuid": make_target().live_mapping_uuid,
        "Enabled": False,
    }
    assert states[asl.PAUSE_LIVE]["Next"] == asl.PACK_BEGIN


def test_control_messages_name_the_execution_and_go_to_the_control_group():
    states = replay_state_machine_definition(make_target())["States"]
    for action, pack, send in (
        ("begin", asl.PACK_BEGIN, asl.SEND_BEGIN),
        ("promote", asl.PACK_PROMOTE, asl.SEND_PROMOTE),
        ("abort", asl.PACK_ABORT, asl.SEND_ABORT),
    ):
        assert states[pack]["Parameters"] == {
            "replay_control": action,
            "rebuild.$": "$$.Execution.Name",
        }
        sent = states[send]["Parameters"]
        assert sent["QueueUrl"] == QUEUE_URL
        assert sent["MessageGroupId"] == "replay-control"
        assert sent["MessageBody.$"] == "States.JsonToString($.control)"
        assert action in sent["MessageDeduplicationId.$"]
    # begin and promote are each followed by a drain; abort goes straight to resuming live.
    assert states[asl.SEND_BEGIN]["Next"] == "BeginStartDrain"
    assert states[asl.SEND_PROMOTE]["Next"] == "PromoteStartDrain"
    assert states[asl.SEND_ABORT]["Next"] == asl.RESUME_LIVE
    assert states["BeginIsDrained"]["Choices"][0]["Next"] == asl.REPLAY_SHARDS
    assert states[asl.IS_DRAINED]["Choices"][0]["Next"] == asl.AFTER_REPLAY
    assert states[asl.AFTER_REPLAY]["Choices"][0]["Next"] == asl.PACK_PROMOTE
    assert states[asl.AFTER_REPLAY]["Default"] == asl.ENABLE_LIVE_MAPPING
    assert states["PromoteIsDrained"]["Choices"][0]["Next"] == asl.ENABLE_LIVE_MAPPING


def test_every_task_before_the_end_is_caught_and_a_rebuild_failure_resumes_live():
    top = replay_state_machine_definition(make_target(dead_letter_queue_url=DLQ_URL))["States"]
    states = all_states(top)
    uncaught = {
        name
        for name, state in top.items()
        if state["Type"] in {"Task", "Map"} and not state.get("Catch")
    }
    # Enabling live is the last step of both modes: failing it fails the execution as it is.
    assert uncaught == {asl.ENABLE_LIVE_MAPPING}
    assert states[asl.ON_FAILURE]["Choices"][0]["Next"] == asl.PACK_ABORT
    assert states[asl.ON_FAILURE]["Default"] == asl.REPLAY_FAILED
    assert states[asl.RESUME_LIVE]["Parameters"]["Enabled"] is True
    assert states[asl.REBUILD_FAILED]["ErrorPath"] == "$.failure.Error"
    assert states[asl.REPLAY_FAILED]["CausePath"] == "$.failure.Cause"


def test_dead_letters_are_counted_against_the_count_at_the_start():
    states = replay_state_machine_definition(make_target(dead_letter_queue_url=DLQ_URL))["States"]
    baseline = states[asl.DEAD_LETTER_BASELINE]
    assert baseline["Parameters"]["QueueUrl"] == DLQ_URL
    assert baseline["ResultPath"] == "$.dead_letters_before"
    for prefix, ok in (
        ("", asl.AFTER_REPLAY),
        ("Begin", asl.REPLAY_SHARDS),
        ("Promote", asl.ENABLE_LIVE_MAPPING),
    ):
        (rule,) = states[f"{prefix}AnyDeadLettered"]["Choices"]
        assert rule["Variable"] == "$.dead_letters.count"
        assert rule["NumericGreaterThanPath"] == "$.dead_letters_before.count"
        assert states[f"{prefix}AnyDeadLettered"]["Default"] == ok
    assert states[asl.ON_DEAD_LETTERS]["Default"] == asl.REPLAY_DEAD_LETTERED


def test_the_dead_letter_queue_is_only_watched():
    dlq_arn = "arn:aws:sqs:eu-west-1:123456789012:transactions-replay-dlq.fifo"
    statements = replay_role_statements(
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/event-store",
        replay_queue_arn="arn:aws:sqs:eu-west-1:123456789012:transactions-replay.fifo",
        live_mapping_arn="arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:x",
        dead_letter_queue_arn=dlq_arn,
    )
    watch = [s for s in statements if dlq_arn in s["Resource"]]
    assert watch == [
        {
            "Sid": "WatchDeadLetters",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueAttributes"],
            "Resource": [dlq_arn],
        }
    ]
