from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from platform_local.pollers import DynamoDbStreamEventSource, SqsEventSource

from platform_events.layout import Attr, event_store_key_schema


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def fifo_queue_with_dlq(sqs: Any, max_receives: int) -> tuple[str, str, str]:
    dlq_url = sqs.create_queue(QueueName="p-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="p.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn, dlq_url


def send(sqs: Any, url: str, group: str, body: str) -> None:
    sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
    )


def test_sqs_partial_failures_retry_only_the_failed_and_poison_reaches_the_dlq(aws: None) -> None:
    sqs = boto3.client("sqs")
    url, arn, dlq_url = fifo_queue_with_dlq(sqs, max_receives=2)
    for body in ("a1", "b1", "a2", "poison"):
        send(sqs, url, "g-poison" if body == "poison" else f"g-{body[0]}", body)
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.function_name == "projection"
        failures = []
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            assert record["eventSourceARN"] == arn
            assert record["attributes"]["MessageGroupId"]
            seen.append(record["body"])
            if record["body"] == "poison":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    source = SqsEventSource(
        name="p",
        sqs=sqs,
        queue_url=url,
        queue_arn=arn,
        handler=handler,
        function_name="projection",
        wait_seconds=0,
    )
    empty = {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        source.poll_once()
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(empty))["Attributes"]
        if depth == empty:
            break
        time.sleep(0.3)
    assert sorted(set(seen)) == ["a1", "a2", "b1", "poison"]
    assert seen.count("a1") == seen.count("a2") == seen.count("b1") == 1
    assert seen.count("poison") == 2  # maxReceiveCount
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    assert source.stats.failed_records == 2


def test_a_disabled_mapping_leaves_messages_waiting(aws: None) -> None:
    sqs = boto3.client("sqs")
    url, arn, _ = fifo_queue_with_dlq(sqs, max_receives=3)
    send(sqs, url, "g", "m1")
    enabled = False
    calls: list[int] = []
    source = SqsEventSource(
        name="live",
        sqs=sqs,
        queue_url=url,
        queue_arn=arn,
        handler=lambda event, _: calls.append(len(event["Records"])),
        function_name="projection",
        enabled=lambda: enabled,
        wait_seconds=0,
    )
    assert source.poll_once() == 0
    assert calls == []
    enabled = True
    assert source.poll_once() == 1
    assert calls == [1]


def test_a_handler_exception_fails_the_whole_batch(aws: None) -> None:
    sqs = boto3.client("sqs")
    url, arn, _ = fifo_queue_with_dlq(sqs, max_receives=5)
    send(sqs, url, "g", "m1")

    def broken(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("database down")

    source = SqsEventSource(
        name="p",
        sqs=sqs,
        queue_url=url,
        queue_arn=arn,
        handler=broken,
        function_name="projection",
        wait_seconds=0,
    )
    assert source.poll_once() == 1
    assert source.stats.handler_errors == 1
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # back after the delay


def put_events(client: Any, count: int) -> None:
    for version in range(1, count + 1):
        client.put_item(
            TableName="events",
            Item={
                Attr.STREAM_ID.value: {"S": "s"},
                Attr.VERSION.value: {"N": str(version)},
                Attr.ITEM_KIND.value: {"S": "event"},
            },
        )


def test_stream_failures_resume_at_the_reported_record_then_go_to_on_failure(aws: None) -> None:
    client = boto3.client("dynamodb")
    arn = client.create_table(TableName="events", **event_store_key_schema())["TableDescription"][
        "LatestStreamArn"
    ]
    put_events(client, 5)
    batches: list[list[str]] = []
    dead: list[str] = []

    def relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
        versions = [r["dynamodb"]["NewImage"]["version"]["N"] for r in event["Records"]]
        assert all(r["eventSourceARN"] == arn for r in event["Records"])
        batches.append(versions)
        for record, version in zip(event["Records"], versions, strict=True):
            if version == "3":  # a poison record in the middle
                return {
                    "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
                }
        return {"batchItemFailures": []}

    source = DynamoDbStreamEventSource(
        name="relay",
        streams=boto3.client("dynamodbstreams"),
        stream_arn=arn,
        handler=relay,
        function_name="relay",
        max_retries=2,
        on_failure=lambda record: dead.append(record["dynamodb"]["NewImage"]["version"]["N"]),
    )
    for _ in range(6):
        source.poll_once()
    assert batches[0] == ["1", "2", "3", "4", "5"]
    assert batches[1] == batches[2] == ["3", "4", "5"]  # resumed AT the failed record, twice
    assert dead == ["3"]
    assert batches[3] == ["4", "5"]  # then past it
    assert len(batches) == 4
