"""Fixtures: a moto event store with its real stream, the SNS FIFO bus and a subscribed queue."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from moto import mock_aws
from stream_relay.bootstrap import Relay, build_relay
from stream_relay.relay import PublishReport
from stream_relay.settings import RelaySettings

from platform_events import (
    EventEnvelope,
    EventPayload,
    EventRegistry,
    MessageAttr,
    decode_sqs_record,
    layout,
)
from platform_events.dynamodb import to_dynamodb_json
from platform_testing.lambda_events import LambdaContext

# The contract's names, written out: the relay is domain-neutral and imports no domain package.
ACCOUNT = "Account"
ACCOUNT_EVENT_TYPES = ("AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "AccountClosed")

# The command side writes through payload models, so money is a DynamoDB Number in the item's
# typed attributes. The tests write the same way, with models only the writer knows.
WRITER_REGISTRY = EventRegistry()


@WRITER_REGISTRY.register("AccountOpened", aggregate_type=ACCOUNT)
class AccountOpened(EventPayload):
    owner: str
    currency: str


@WRITER_REGISTRY.register("MoneyDeposited", aggregate_type=ACCOUNT)
class MoneyDeposited(EventPayload):
    amount: Decimal
    reference: str | None = None


TABLE = "event-store"
TOPIC = "event-bus.fifo"
QUEUE = "balances-live.fifo"


# ------------------------------------------------------------------------------ events
@pytest.fixture
def account_history() -> Callable[..., list[EventEnvelope]]:
    """``account_history(stream_id, deposits=2)``: AccountOpened then deposits, versions 1..n."""

    def build(stream_id: str | None = None, deposits: int = 2) -> list[EventEnvelope]:
        stream = stream_id or str(uuid4())
        correlation = str(uuid4())
        opened = EventEnvelope(
            event_id=uuid4(),
            event_type="AccountOpened",
            schema_version=1,
            stream_id=stream,
            aggregate_type=ACCOUNT,
            version=1,
            occurred_at=datetime.now(UTC),
            correlation_id=correlation,
            payload={"owner": "Ada", "currency": "EUR"},
        )
        history = [opened]
        for index in range(deposits):
            history.append(
                EventEnvelope(
                    event_id=uuid4(),
                    event_type="MoneyDeposited",
                    schema_version=1,
                    stream_id=stream,
                    aggregate_type=ACCOUNT,
                    version=index + 2,
                    occurred_at=datetime.now(UTC),
                    correlation_id=correlation,
                    causation_id=str(opened.event_id),
                    # "10.00" is stored as the DynamoDB Number 10: the relay must give the
                    # contract's decimal string back, not the integer.
                    payload={"amount": f"{10 * (index + 1)}.00", "reference": f"ref {index}"},
                )
            )
        return history

    return build


# ------------------------------------------------------------------------------ AWS (moto)
@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@dataclass
class EventStore:
    """The event store table, written the way the command side writes it, and its stream."""

    client: Any
    stream_arn: str

    def append(self, *envelopes: EventEnvelope) -> None:
        for envelope in envelopes:
            self.client.put_item(TableName=TABLE, Item=to_dynamodb_json(envelope, WRITER_REGISTRY))

    def put_raw(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=TABLE, Item=item)

    def record_idempotency(self, key: str) -> dict[str, Any]:
        """An idempotency item like the command side's, in the same table (not an event)."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        item_key = {
            layout.Attr.STREAM_ID.value: {"S": layout.idempotency_stream_id("0" * 64, digest)},
            layout.Attr.VERSION.value: {"N": str(layout.IDEMPOTENCY_VERSION)},
        }
        self.put_raw(
            {
                **item_key,
                layout.Attr.ITEM_KIND.value: {"S": layout.ItemKind.IDEMPOTENCY.value},
                layout.Attr.REQUEST_HASH.value: {"S": "0" * 64},
                layout.Attr.RESPONSE.value: {"S": json.dumps({"status": 201})},
                layout.Attr.EXPIRES_AT.value: {"N": "1999999999"},
            }
        )
        return item_key

    def stream_records(self) -> list[dict[str, Any]]:
        """Every record of the table's stream, read with the dynamodbstreams API, in Lambda's
        event shape (what an event source mapping hands the function)."""
        streams = boto3.client("dynamodbstreams")
        description = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        records: list[dict[str, Any]] = []
        for shard in description["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            ).get("ShardIterator")
            while iterator:
                page = streams.get_records(ShardIterator=iterator)
                if not page["Records"]:
                    break
                records.extend(self._lambda_shape(raw) for raw in page["Records"])
                iterator = page.get("NextShardIterator")
        return records

    def _lambda_shape(self, raw: dict[str, Any]) -> dict[str, Any]:
        change = dict(raw["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw["eventVersion"],
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": change,
            "eventSourceARN": self.stream_arn,
        }


@pytest.fixture
def event_store(aws: None) -> EventStore:
    client = boto3.client("dynamodb")
    created = client.create_table(TableName=TABLE, **layout.event_store_key_schema())
    return EventStore(client, created["TableDescription"]["LatestStreamArn"])


@dataclass
class Bus:
    """The SNS FIFO bus and one projection's SQS FIFO queue, subscribed with raw delivery and a
    filter policy on the message attributes (Account events only)."""

    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str

    def drain(self) -> list[EventEnvelope]:
        """Every message in the queue, in delivery order, checked against the messaging contract."""
        received: list[EventEnvelope] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                envelope = decode_sqs_record(message)
                assert message["Attributes"]["MessageGroupId"] == envelope.stream_id
                assert message["Attributes"]["MessageDeduplicationId"] == str(envelope.event_id)
                attributes = message["MessageAttributes"]
                assert attributes[MessageAttr.EVENT_TYPE]["StringValue"] == envelope.event_type
                assert (
                    attributes[MessageAttr.AGGREGATE_TYPE]["StringValue"] == envelope.aggregate_type
                )
                received.append(envelope)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def bus(aws: None) -> Bus:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name=TOPIC, Attributes={"FifoTopic": "true"})["TopicArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps(
                {
                    MessageAttr.AGGREGATE_TYPE.value: [ACCOUNT],
                    MessageAttr.EVENT_TYPE.value: list(ACCOUNT_EVENT_TYPES),
                }
            ),
        },
    )
    return Bus(sns, sqs, topic_arn, queue_url)


# ------------------------------------------------------------------------------ the relay
class FaultySns:
    """Wraps the real (moto) SNS client; ``PublishBatch`` reports chosen events as failed.

    Everything else goes to the real client, so what is not failed really reaches the bus.
    ``fail`` holds event ids; with ``raise_error`` set, the next call raises it instead.
    """

    def __init__(self, real: Any, fail: set[UUID] | None = None) -> None:
        self._real = real
        self.fail = fail or set()
        self.raise_error: Exception | None = None
        self.calls: list[list[dict[str, Any]]] = []

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["PublishBatchRequestEntries"]
        self.calls.append(entries)
        if self.raise_error is not None:
            error, self.raise_error = self.raise_error, None
            raise error
        refused = [e for e in entries if UUID(e["MessageDeduplicationId"]) in self.fail]
        passed = [e for e in entries if e not in refused]
        answer = (
            self._real.publish_batch(**{**request, "PublishBatchRequestEntries": passed})
            if passed
            else {"Successful": [], "Failed": []}
        )
        answer["Failed"] = answer.get("Failed", []) + [
            {
                "Id": e["Id"],
                "Code": "InternalError",
                "Message": "injected",
                "SenderFault": False,
            }
            for e in refused
        ]
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @property
    def sent_dedup_ids(self) -> list[str]:
        return [entry["MessageDeduplicationId"] for call in self.calls for entry in call]


@pytest.fixture
def faulty_sns(bus: Bus) -> FaultySns:
    return FaultySns(bus.sns)


@pytest.fixture
def relay(bus: Bus, faulty_sns: FaultySns) -> Relay:
    """The relay as the composition root builds it, on the fault-injecting (moto) client."""
    return build_relay(RelaySettings(bus_topic_arn=bus.topic_arn), sns_client=faulty_sns)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext("stream-relay")


@pytest.fixture
def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> Callable[[], dict[str, float]]:
    """The metrics the last invocations printed in CloudWatch EMF, summed by name."""

    def read() -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in capsys.readouterr().out.splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if not isinstance(document, dict) or "_aws" not in document:
                continue
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    name = metric["Name"]
                    values = document[name]
                    values = values if isinstance(values, list) else [values]
                    totals[name] = totals.get(name, 0) + sum(values)
        return totals

    return read


# ------------------------------------------------------------------------------ no I/O
@pytest.fixture
def stream_record() -> Callable[..., dict[str, Any]]:
    """``stream_record(envelope_or_image, sequence_number, event_name="INSERT")``: a record in
    Lambda's event shape, built without a stream (for the core's unit tests)."""

    def build(
        source: EventEnvelope | dict[str, Any], sequence_number: str | None, event_name="INSERT"
    ) -> dict[str, Any]:
        image = to_dynamodb_json(source) if isinstance(source, EventEnvelope) else source
        change: dict[str, Any] = {
            "Keys": {k: image[k] for k in (layout.PARTITION_KEY, layout.SORT_KEY) if k in image},
            "NewImage": image,
            "StreamViewType": "NEW_IMAGE",
        }
        if sequence_number is not None:
            change["SequenceNumber"] = sequence_number
        return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": change}

    return build


class FakePublisher:
    """An in-memory bus behind the relay's publisher port: fails or forgets chosen events."""

    def __init__(self) -> None:
        self.fail: set[UUID] = set()
        self.forget: set[UUID] = set()
        self.published: list[EventEnvelope] = []

    def publish(self, envelopes):
        sent = [e for e in envelopes if e.event_id not in self.fail]
        self.published.extend(sent)
        return PublishReport(
            frozenset(e.event_id for e in sent if e.event_id not in self.forget),
            {e.event_id: "refused" for e in envelopes if e.event_id in self.fail},
        )


@pytest.fixture
def fake_publisher() -> FakePublisher:
    return FakePublisher()
