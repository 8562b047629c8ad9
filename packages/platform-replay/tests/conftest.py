"""Fixtures: moto-emulated AWS running the real replay definition, an event store with a history,
queues, a Lambda function with a disabled live mapping, and a replay-queue consumer thread."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import boto3
import pytest
from moto import mock_aws
from platform_replay.definition import ReplayTarget, replay_state_machine_definition
from platform_replay.emulation import install_sdk_parameter_casing

import account_events
from platform_events import EventEnvelope, default_registry, layout
from platform_events.dynamodb import to_dynamodb_json
from platform_events.messaging import decode_message_envelopes

TABLE = "event-store"
EXECUTION_TIMEOUT_SECONDS = 30.0
MAX_RECEIVE_COUNT = 2
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@dataclass
class Aws:
    dynamodb: Any
    sqs: Any
    stepfunctions: Any
    lambda_client: Any
    iam: Any


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        install_sdk_parameter_casing()
        yield Aws(
            dynamodb=boto3.client("dynamodb"),
            sqs=boto3.client("sqs"),
            stepfunctions=boto3.client("stepfunctions"),
            lambda_client=boto3.client("lambda"),
            iam=boto3.client("iam"),
        )


# ------------------------------------------------------------------------------- event history
class EventFactory:
    """Builds histories for the tests (a fixture: test helpers are not importable modules)."""

    @staticmethod
    def account_stream(
        stream_id: str, movements: int, *, closed: bool = False, renamed: int = 0
    ) -> list[EventEnvelope]:
        """Opened, ``movements`` deposits/withdrawals, ``renamed`` events of a type no
        projection here selects (so that whole pages get filtered out), optionally closed."""
        payloads: list[Any] = [
            account_events.AccountOpened(owner=f"owner {stream_id}", currency="EUR")
        ]
        for index in range(movements):
            amount = Decimal(f"{index + 1}.25")
            if index % 3 == 2:
                payloads.append(account_events.MoneyWithdrawn(amount=amount, reference=None))
            else:
                payloads.append(account_events.MoneyDeposited(amount=amount, reference=f"r{index}"))
        envelopes = [
            default_registry.envelope(
                payload,
                stream_id=stream_id,
                version=version,
                occurred_at=T0 + timedelta(minutes=version),
                correlation_id=f"req-{stream_id}-{version}",
            )
            for version, payload in enumerate(payloads, start=1)
        ]
        for _ in range(renamed):
            envelopes.append(
                EventFactory.other_event(
                    stream_id, len(envelopes) + 1, "OwnerRenamed", aggregate_type="Account"
                )
            )
        if closed:
            envelopes.append(
                default_registry.envelope(
                    account_events.AccountClosed(),
                    stream_id=stream_id,
                    version=len(envelopes) + 1,
                    occurred_at=T0 + timedelta(days=1),
                    correlation_id=f"close-{stream_id}",
                )
            )
        return envelopes

    @staticmethod
    def other_event(
        stream_id: str, version: int, event_type: str, *, aggregate_type: str
    ) -> EventEnvelope:
        return EventEnvelope(
            event_id=uuid4(),
            event_type=event_type,
            schema_version=1,
            stream_id=stream_id,
            aggregate_type=aggregate_type,
            version=version,
            occurred_at=T0 + timedelta(minutes=version),
            correlation_id=f"req-{stream_id}-{version}",
            payload={"name": f"name {version}"},
        )

    @staticmethod
    def stream_ids(count: int, seed: int) -> list[str]:
        """Deterministic stream ids, so that their replay shards are the same on every run."""
        return [str(UUID(int=seed * 1_000_003 + index + 1, version=4)) for index in range(count)]


@pytest.fixture
def events() -> EventFactory:
    return EventFactory()


# ------------------------------------------------------------------------------- the world
@dataclass
class Received:
    group_id: str
    deduplication_id: str
    envelopes: list[EventEnvelope]
    mapping_state_at_receipt: str
    mapping_state_after_delete: str = ""
    control: dict[str, Any] | None = None
    """A rebuild's control message (then ``envelopes`` is empty)."""


@dataclass
class ReplayWorld:
    aws: Aws
    role_arn: str
    replay_queue_url: str
    live_queue_url: str
    live_mapping_uuid: str
    dead_letter_queue_url: str
    written: list[EventEnvelope] = field(default_factory=list)

    def write(self, envelopes: list[EventEnvelope]) -> None:
        for envelope in envelopes:
            self.aws.dynamodb.put_item(TableName=TABLE, Item=to_dynamodb_json(envelope))
        self.written.extend(envelopes)

    def write_idempotency_record(self) -> str:
        stream_id = layout.idempotency_stream_id("0" * 64, "0" * 64)
        self.aws.dynamodb.put_item(
            TableName=TABLE,
            Item={
                layout.Attr.STREAM_ID.value: {"S": stream_id},
                layout.Attr.VERSION.value: {"N": str(layout.IDEMPOTENCY_VERSION)},
                layout.Attr.ITEM_KIND.value: {"S": layout.ItemKind.IDEMPOTENCY.value},
                layout.Attr.REQUEST_HASH.value: {"S": "f" * 64},
                layout.Attr.RESPONSE.value: {"S": json.dumps({"status": 201, "body": {}})},
                layout.Attr.EXPIRES_AT.value: {"N": "4102444800"},
            },
        )
        return stream_id

    def target(self, **overrides: Any) -> ReplayTarget:
        settings: dict[str, Any] = {
            "projection": "transactions",
            "table_name": TABLE,
            "aggregate_types": (account_events.ACCOUNT,),
            "event_types": ("MoneyDeposited", "MoneyWithdrawn"),
            "replay_queue_url": self.replay_queue_url,
            "live_mapping_uuid": self.live_mapping_uuid,
            "page_size": 4,
            "drain_poll_seconds": 1,
        }
        settings.update(overrides)
        return ReplayTarget(**settings)

    def deploy(self, target: ReplayTarget, name: str = "replay-transactions") -> str:
        definition = json.dumps(replay_state_machine_definition(target))
        created = self.aws.stepfunctions.create_state_machine(
            name=name, definition=definition, roleArn=self.role_arn
        )
        return str(created["stateMachineArn"])

    def enable_live(self) -> None:
        """What a projection that went live looks like: its live mapping on."""
        self.aws.lambda_client.update_event_source_mapping(
            UUID=self.live_mapping_uuid, Enabled=True
        )
        assert self.mapping_state() == "Enabled"

    def dead_letters(self) -> list[dict[str, Any]]:
        """Everything in the replay queue's dead-letter queue (received and put back)."""
        found = self.aws.sqs.receive_message(
            QueueUrl=self.dead_letter_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return list(found)

    def mapping_state(self) -> str:
        mapping = self.aws.lambda_client.get_event_source_mapping(UUID=self.live_mapping_uuid)
        return str(mapping["State"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(self.aws.stepfunctions.describe_execution(executionArn=execution_arn))

    def wait_for_end(
        self, execution_arn: str, timeout: float = EXECUTION_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                pytest.fail(f"replay still running after {timeout} s")
            time.sleep(0.1)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        answer = self.aws.stepfunctions.get_execution_history(executionArn=execution_arn)
        return list(answer["events"])

    def queue_depth(self) -> dict[str, int]:
        attributes = self.aws.sqs.get_queue_attributes(
            QueueUrl=self.replay_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {name: int(value) for name, value in attributes.items()}


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


@pytest.fixture
def world(aws: Aws) -> ReplayWorld:
    aws.dynamodb.create_table(TableName=TABLE, **layout.event_store_key_schema())
    role_arn = aws.iam.create_role(
        RoleName="replay",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    fifo = {"FifoQueue": "true"}
    dead_letter_queue_url = aws.sqs.create_queue(
        QueueName="transactions-replay-dlq.fifo", Attributes=fifo
    )["QueueUrl"]
    dead_letter_queue_arn = aws.sqs.get_queue_attributes(
        QueueUrl=dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    redrive = json.dumps(
        {"deadLetterTargetArn": dead_letter_queue_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
    )
    replay_queue_url = aws.sqs.create_queue(
        QueueName="transactions-replay.fifo", Attributes={**fifo, "RedrivePolicy": redrive}
    )["QueueUrl"]
    live_queue_url = aws.sqs.create_queue(QueueName="transactions-live.fifo", Attributes=fifo)[
        "QueueUrl"
    ]
    live_queue_arn = aws.sqs.get_queue_attributes(
        QueueUrl=live_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    # Creating a function and a mapping needs no Docker in moto; only invoking would.
    aws.lambda_client.create_function(
        FunctionName="transactions-projection",
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": _function_zip()},
    )
    mapping = aws.lambda_client.create_event_source_mapping(
        EventSourceArn=live_queue_arn, FunctionName="transactions-projection", Enabled=False
    )
    return ReplayWorld(
        aws=aws,
        role_arn=role_arn,
        replay_queue_url=replay_queue_url,
        live_queue_url=live_queue_url,
        live_mapping_uuid=mapping["UUID"],
        dead_letter_queue_url=dead_letter_queue_url,
    )


# ------------------------------------------------------------------------------- the consumer
class ReplayConsumer(threading.Thread):
    """Plays the replay handler: receives each replay page (or control message), decodes it,
    deletes it, and notes the live mapping's state at that moment; a message ``reject`` picks is
    put back instead (a handler failing on it), until the queue's redrive policy dead-letters it.
    Stops when told to and the queue has nothing left."""

    def __init__(
        self,
        world: ReplayWorld,
        *,
        paused: bool = False,
        reject: Callable[[Received], bool] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.world = world
        self.reject = reject
        self.rejected: list[Received] = []
        self.received: list[Received] = []
        self.errors: list[BaseException] = []
        self._stop_requested = threading.Event()
        self._running = threading.Event()
        if not paused:
            self._running.set()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop_requested.set()
        self._running.set()
        self.join(timeout=10)
        assert not self.is_alive(), "consumer did not stop"
        if self.errors:
            raise self.errors[0]

    @property
    def envelopes(self) -> list[EventEnvelope]:
        return [envelope for message in self.received for envelope in message.envelopes]

    @property
    def controls(self) -> list[dict[str, Any]]:
        return [message.control for message in self.received if message.control is not None]

    def run(self) -> None:
        try:
            self._consume()
        except BaseException as error:  # surfaced to the test by stop()
            self.errors.append(error)

    def _consume(self) -> None:
        sqs = self.world.aws.sqs
        while True:
            self._running.wait()
            answer = sqs.receive_message(
                QueueUrl=self.world.replay_queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                if self._stop_requested.is_set():
                    return
                time.sleep(0.05)
                continue
            for message in messages:
                document = json.loads(message["Body"])
                control = document if "replay_control" in document else None
                received = Received(
                    group_id=message["Attributes"]["MessageGroupId"],
                    deduplication_id=message["Attributes"]["MessageDeduplicationId"],
                    envelopes=[] if control else decode_message_envelopes(message["Body"]),
                    mapping_state_at_receipt=self.world.mapping_state(),
                    control=control,
                )
                if self.reject is not None and self.reject(received):
                    self.rejected.append(received)
                    sqs.change_message_visibility(
                        QueueUrl=self.world.replay_queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
                    continue
                sqs.delete_message(
                    QueueUrl=self.world.replay_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                received.mapping_state_after_delete = self.world.mapping_state()
                self.received.append(received)


@pytest.fixture
def consumer(world: ReplayWorld) -> Iterator[Callable[..., ReplayConsumer]]:
    started: list[ReplayConsumer] = []

    def start(
        *, paused: bool = False, reject: Callable[[Received], bool] | None = None
    ) -> ReplayConsumer:
        thread = ReplayConsumer(world, paused=paused, reject=reject)
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        if thread.is_alive():
            thread._stop_requested.set()
            thread._running.set()
            thread.join(timeout=10)
