"""The emulated AWS side: moto in-process, and the platform's resources created from the same
definitions the Pulumi stacks use (the table layout, the projections' filter policies, the
replay state machine), never from a hand-copied schema.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import logging
import threading
import types
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from moto import mock_aws
from platform_infra.naming import ResourceKind, resource_name
from platform_replay.definition import ReplayTarget, replay_state_machine_definition
from platform_replay.emulation import install_sdk_parameter_casing

from platform_events import layout

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID: Final = "123456789012"  # moto's account
PROJECT: Final = "cqrs"
STACK: Final = "local"
REGION: Final = "eu-west-1"
MAX_RECEIVE_COUNT: Final = 5
LIVE_VISIBILITY_TIMEOUT: Final = 30
LOCAL_ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # moto 5.2's streams answer 404 otherwise
    "MOTO_ALLOW_NONEXISTENT_REGION": "true",
}


def name(service: str, resource: str, kind: ResourceKind = ResourceKind.GENERIC) -> str:
    return resource_name(PROJECT, STACK, service, resource, kind)


_DYNAMODB_LOCK: Final = threading.RLock()


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB behave like DynamoDB for the runner's threads and stream readers.

    Two moto behaviours would lose or invent events here:

    - moto runs requests concurrently without isolation, so every DynamoDB and DynamoDB Streams
      backend call runs under one lock, as if the service handled them one at a time;
    - moto backs a ``TransactWriteItems`` up by deep-copying every table it names, stream shard
      included, and rolls a cancelled one back by swapping that copy in. Each copy costs time in
      proportion to the table and is never freed (moto's models keep every instance ever made,
      copies included, for its dashboard): under sustained load the runner slowed down and grew
      by gigabytes. Stream iterators handed out earlier would also keep reading the replaced
      shard, which holds the records of the writes the transaction undid. So no table is copied:
      the items the transaction names are remembered before it, and a cancelled transaction puts
      them back in the same table object and cuts its stream shard to its length before the
      transaction, so every iterator stays valid and no undone write is ever streamed.

    Idempotent; it patches moto's classes, so it holds for every mock in the process.
    """
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - moto internals
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend  # noqa: PLC0415

    for backend in (DynamoDBBackend, DynamoDBStreamsBackend):
        if getattr(backend, "_platform_local_serialized", False):
            continue
        for attribute, member in list(vars(backend).items()):
            if attribute.startswith("_") or not callable(member):
                continue
            wrapped = (
                _rolled_back_in_place(member) if attribute == "transact_write_items" else member
            )
            setattr(backend, attribute, _locked(wrapped))
        setattr(backend, "_platform_local_serialized", True)  # noqa: B010 - a marker on moto's class
    _query_one_partition()


def _query_one_partition() -> None:
    """moto answers a Query on a table's key by sorting every item of the table and keeping the
    partition's: each command's load of its stream cost time in proportion to the whole store,
    so a long run slowed down quadratically. The query sees only its partition instead (the
    backend's lock is held, so nothing else sees the table meanwhile). Index queries (replay)
    are left as they are."""
    from moto.dynamodb.models.table import Table  # noqa: PLC0415 - moto internals

    if getattr(Table, "_platform_local_partition_query", False):
        return
    query = Table.query

    @functools.wraps(query)
    def partition_query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = (
            args[_INDEX_NAME_POSITION]
            if len(args) > _INDEX_NAME_POSITION
            else kwargs.get("index_name")
        )
        if index_name or hash_key is None:
            return query(table, hash_key, *args, **kwargs)
        everything = table.items
        partition = everything.get(hash_key)
        table.items = {} if partition is None else {hash_key: partition}
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            table.items = everything

    setattr(Table, "query", partition_query)  # noqa: B010 - moto's class, patched on purpose
    setattr(Table, "_platform_local_partition_query", True)  # noqa: B010 - a marker


_INDEX_NAME_POSITION: Final = 6
"""``index_name``'s place among ``Table.query``'s positional arguments after ``hash_key``."""


def _locked(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return method(*args, **kwargs)

    return locked


def _rolled_back_in_place(transact_write_items: Any) -> Any:
    from moto.dynamodb import models  # noqa: PLC0415 - moto internals

    @functools.wraps(transact_write_items)
    def transact(backend: Any, transact_items: list[dict[str, Any]], *args: Any, **kw: Any) -> Any:
        undo = _TransactionUndo(backend, transact_items)
        # moto's module-level ``copy`` makes its backups; the DynamoDB lock is held, so no other
        # call sees the stand-in.
        namespace = vars(models)
        real_copy = namespace["copy"]
        namespace["copy"] = _NO_TABLE_COPIES
        try:
            return transact_write_items(backend, transact_items, *args, **kw)
        except BaseException:
            undo.apply()
            raise
        finally:
            namespace["copy"] = real_copy

    return transact


def _deepcopy_but_tables(value: Any, memo: Any = None) -> Any:
    from moto.dynamodb.models.table import Table  # noqa: PLC0415 - moto internals

    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_NO_TABLE_COPIES: Final = types.SimpleNamespace(deepcopy=_deepcopy_but_tables, copy=copy.copy)


class _TransactionUndo:
    """The items a transaction names, as they were before it, and each stream shard's length."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

        self._items: list[tuple[Any, Any, Any, Any]] = []
        self._shards: dict[int, tuple[Any, int]] = {}
        for action in transact_items:
            if not isinstance(action, dict) or len(action) != 1:
                continue  # moto refuses it before writing anything
            ((kind, operation),) = action.items()
            table = backend.tables.get((operation or {}).get("TableName"))
            if table is None:
                continue
            key = operation.get("Item" if kind == "Put" else "Key") or {}
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            before = self._lookup(table, hash_key, range_key)
            # A Put or Delete replaces the stored item object; an Update changes it in place.
            if before is not None and kind == "Update":
                before = copy.deepcopy(before)
            self._items.append((table, hash_key, range_key, before))
            if table.stream_shard is not None:
                self._shards.setdefault(id(table), (table, len(table.stream_shard.items)))

    @staticmethod
    def _lookup(table: Any, hash_key: Any, range_key: Any) -> Any:
        if range_key is None:
            return table.items.get(hash_key)
        return table.items.get(hash_key, {}).get(range_key)

    def apply(self) -> None:
        for table, hash_key, range_key, before in reversed(self._items):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            elif before is None:
                stored = table.items.get(hash_key)
                if stored is not None:
                    stored.pop(range_key, None)
                    if not stored:
                        del table.items[hash_key]
            else:
                table.items[hash_key][range_key] = before
        for table, length in self._shards.values():
            del table.stream_shard.items[length:]


class Emulator:
    """moto, started in this process with Step Functions executing real definitions."""

    def __init__(self) -> None:
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})

    def start(self) -> None:
        serialize_dynamodb()
        self._mock.start()
        install_sdk_parameter_casing()

    def stop(self) -> None:
        self._mock.stop()

    @staticmethod
    def client(service: str) -> Any:
        # One untyped entry point: the runner talks to many services through the emulator.
        factory: Any = boto3.client
        return factory(service, region_name=REGION)


@dataclass(frozen=True, slots=True)
class Platform:
    table_name: str
    stream_arn: str
    bus_arn: str


@dataclass(frozen=True, slots=True)
class Queue:
    url: str
    arn: str


@dataclass(frozen=True, slots=True)
class ProjectionResources:
    name: str
    live: Queue
    live_dlq: Queue
    replay: Queue
    replay_dlq: Queue
    live_mapping_uuid: str
    state_machine_arn: str


def create_platform() -> Platform:
    """The event store table (with its stream and replay index) and the SNS FIFO bus."""
    dynamodb = Emulator.client("dynamodb")
    table = name("platform", "events", ResourceKind.DYNAMODB_TABLE)
    description = dynamodb.create_table(TableName=table, **layout.event_store_key_schema())
    dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": layout.TTL_ATTRIBUTE.value},
    )
    bus = Emulator.client("sns").create_topic(
        Name=name("platform", "events", ResourceKind.SNS_FIFO_TOPIC),
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
    )
    return Platform(table, description["TableDescription"]["LatestStreamArn"], bus["TopicArn"])


def _fifo_queue(service: str, resource: str, attributes: Mapping[str, str] | None = None) -> Queue:
    sqs = Emulator.client("sqs")
    url = sqs.create_queue(
        QueueName=name(service, resource, ResourceKind.SQS_FIFO_QUEUE),
        Attributes={"FifoQueue": "true", **(attributes or {})},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queue(url, arn)


def _with_dlq(service: str, resource: str) -> tuple[Queue, Queue]:
    dlq = _fifo_queue(service, f"{resource}-dlq")
    queue = _fifo_queue(
        service,
        resource,
        {
            "VisibilityTimeout": str(LIVE_VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )
    return queue, dlq


def _placeholder_function(service: str) -> str:
    """A function record for the live mapping to belong to: the replay enables the mapping
    through Lambda's API, exactly as in AWS. The code itself never runs (the pollers call the
    real handler in-process)."""
    iam = Emulator.client("iam")
    role = iam.create_role(
        RoleName=name(service, "projection", ResourceKind.IAM_ROLE),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return str(
        Emulator.client("lambda").create_function(
            FunctionName=name(service, "projection", ResourceKind.LAMBDA_FUNCTION),
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
    )


def _detach_moto_invocation(queue_name: str) -> None:
    # moto invokes a mapped function itself when a message arrives (which needs Docker); the
    # local pollers play Lambda's part instead, honouring the mapping's state through its API.
    from moto.sqs.models import sqs_backends  # noqa: PLC0415 - moto internals, here only

    sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[queue_name].lambda_event_source_mappings.clear()


def create_projection(
    platform: Platform,
    projection: str,
    *,
    filter_policy: Mapping[str, Any],
    aggregate_types: tuple[str, ...],
    event_types: tuple[str, ...],
    live_enabled: bool,
    drain_poll_seconds: int = 1,
) -> ProjectionResources:
    """A projection's queues, subscription, live mapping and replay state machine."""
    service = f"projection-{projection}"
    live, live_dlq = _with_dlq(service, "live")
    replay, replay_dlq = _with_dlq(service, "replay")
    Emulator.client("sns").subscribe(
        TopicArn=platform.bus_arn,
        Protocol="sqs",
        Endpoint=live.arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(filter_policy)},
        ReturnSubscriptionArn=True,
    )
    function_arn = _placeholder_function(service)
    mapping = Emulator.client("lambda").create_event_source_mapping(
        EventSourceArn=live.arn, FunctionName=function_arn, BatchSize=10, Enabled=live_enabled
    )
    _detach_moto_invocation(live.url.rsplit("/", 1)[-1])
    definition = replay_state_machine_definition(
        ReplayTarget(
            projection=projection,
            table_name=platform.table_name,
            aggregate_types=aggregate_types,
            replay_queue_url=replay.url,
            live_mapping_uuid=mapping["UUID"],
            event_types=event_types,
            dead_letter_queue_url=replay_dlq.url,
            drain_poll_seconds=drain_poll_seconds,
        )
    )
    machine = Emulator.client("stepfunctions").create_state_machine(
        name=name(service, "replay", ResourceKind.STATE_MACHINE),
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/replay",
    )
    return ProjectionResources(
        projection,
        live,
        live_dlq,
        replay,
        replay_dlq,
        mapping["UUID"],
        machine["stateMachineArn"],
    )


def mapping_enabled(uuid: str) -> bool:
    state = Emulator.client("lambda").get_event_source_mapping(UUID=uuid)["State"]
    return str(state) == "Enabled"


def queue_depth(queue: Queue) -> dict[str, int]:
    attributes = Emulator.client("sqs").get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }
