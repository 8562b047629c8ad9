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
