"""The event store on DynamoDB: one item per event, idempotency records in the same table.

Appends are one ``TransactWriteItems``: every event is conditional on its ``(stream_id,
version)`` not existing, so two racing writers can never both write version N, and the
idempotency record rides in the same transaction, so a crash after the commit leaves the answer
behind for the retry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from command_api.adapters.event_store import (
    ConcurrencyConflict,
    CorruptStream,
    EventStore,
    IdempotencyKey,
    IdempotencyKeyTaken,
    IdempotencyRecord,
)
from command_api.clock import Clock, epoch_seconds
from command_api.reply import Reply
from platform_events import EventEnvelope, MalformedItem
from platform_events.dynamodb import deserialize, from_dynamodb_json, serialize, to_dynamodb_json
from platform_events.layout import (
    IDEMPOTENCY_VERSION,
    Attr,
    ItemKind,
    idempotency_stream_id,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

CONDITIONAL_CHECK_FAILED: Final = "ConditionalCheckFailed"
TRANSACTION_CONFLICT: Final = "TransactionConflict"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"
CONDITIONAL_CHECK_FAILED_EXCEPTION: Final = "ConditionalCheckFailedException"
TRANSACTION_CONFLICT_EXCEPTION: Final = "TransactionConflictException"

# Keys inside the ``response`` map of an idempotency record: the record's own value format, read
# only by this adapter (top-level attribute names live in platform_events.layout).
REPLY_STATUS: Final = "status"
REPLY_HEADERS: Final = "headers"
REPLY_BODY: Final = "body"

_NEW_ITEM: Final = "attribute_not_exists(#sid)"
# TTL deletes lazily (up to days late), so an expired record may still be there: it is free.
_FREE_IDEMPOTENCY_KEY: Final = "attribute_not_exists(#sid) OR #exp <= :now"


class DynamoDBEventStore(EventStore):
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Clock,
        *,
        page_size: int | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._page_size = page_size

    # ------------------------------------------------------------------ events
    def load(self, stream_id: str) -> list[EventEnvelope]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "#sid = :sid",
            "ExpressionAttributeNames": {"#sid": Attr.STREAM_ID.value},
            "ExpressionAttributeValues": {":sid": {"S": stream_id}},
            "ConsistentRead": True,
        }
        if self._page_size is not None:
            request["Limit"] = self._page_size
        events: list[EventEnvelope] = []
        while True:
            page = self._client.query(**request)
            events.extend(from_dynamodb_json(item) for item in page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            request["ExclusiveStartKey"] = last
        for expected, event in enumerate(events, start=1):
            if event.version != expected:
                msg = f"stream {stream_id} has version {event.version} where {expected} belongs"
                raise CorruptStream(msg)
        return events

    def append(
        self, events: Sequence[EventEnvelope], idempotency: IdempotencyRecord | None = None
    ) -> None:
        if not events:
            msg = "append needs at least one event"
            raise ValueError(msg)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_dynamodb_json(event),
                    "ConditionExpression": _NEW_ITEM,
                    "ExpressionAttributeNames": {"#sid": Attr.STREAM_ID.value},
                }
            }
            for event in events
        ]
        if idempotency is not None:
            items.append({"Put": self._idempotency_put(idempotency)})
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            code = _error_code(error)
            if code == TRANSACTION_CANCELED:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if idempotency is not None and reasons[-1:] == [CONDITIONAL_CHECK_FAILED]:
                    raise IdempotencyKeyTaken from error
                if CONDITIONAL_CHECK_FAILED in reasons or TRANSACTION_CONFLICT in reasons:
                    raise ConcurrencyConflict from error
            if code == TRANSACTION_CONFLICT_EXCEPTION:
                raise ConcurrencyConflict from error
            raise

    # ------------------------------------------------------------------ idempotency
    def idempotency_record(self, key: IdempotencyKey) -> IdempotencyRecord | None:
        answer = self._client.get_item(
            TableName=self._table,
            Key={
                Attr.STREAM_ID.value: {"S": _stream_id(key)},
                Attr.VERSION.value: {"N": str(IDEMPOTENCY_VERSION)},
            },
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None:
            return None
        return _record_from_item(key, deserialize(item))

    def record_idempotency(self, record: IdempotencyRecord) -> None:
        try:
            self._client.put_item(**self._idempotency_put(record))
        except ClientError as error:
            if _error_code(error) == CONDITIONAL_CHECK_FAILED_EXCEPTION:
                raise IdempotencyKeyTaken from error
            raise

    def _idempotency_put(self, record: IdempotencyRecord) -> Any:
        # ``Any``: the same mapping is a ``Put`` of a transaction and a ``put_item`` request,
        # two TypedDicts with identical keys that mypy will not unify.
        item = {
            Attr.STREAM_ID.value: _stream_id(record.key),
            Attr.VERSION.value: IDEMPOTENCY_VERSION,
            Attr.ITEM_KIND.value: ItemKind.IDEMPOTENCY.value,
            Attr.REQUEST_HASH.value: record.request_hash,
            Attr.RESPONSE.value: {
                REPLY_STATUS: record.reply.status,
                REPLY_HEADERS: dict(record.reply.headers),
                REPLY_BODY: record.reply.body,
            },
            Attr.EXPIRES_AT.value: record.expires_at,
        }
        return {
            "TableName": self._table,
            "Item": serialize(item),
            "ConditionExpression": _FREE_IDEMPOTENCY_KEY,
            "ExpressionAttributeNames": {
                "#sid": Attr.STREAM_ID.value,
                "#exp": Attr.EXPIRES_AT.value,
            },
            "ExpressionAttributeValues": {":now": {"N": str(epoch_seconds(self._clock()))}},
        }


def _stream_id(key: IdempotencyKey) -> str:
    return idempotency_stream_id(key.caller_digest, key.key_digest)


def _record_from_item(key: IdempotencyKey, item: Mapping[str, Any]) -> IdempotencyRecord:
    if item.get(Attr.ITEM_KIND.value) != ItemKind.IDEMPOTENCY.value:
        msg = f"item {_stream_id(key)} is not an idempotency record"
        raise MalformedItem(msg)
    response = item.get(Attr.RESPONSE.value)
    request_hash = item.get(Attr.REQUEST_HASH.value)
    expires_at = item.get(Attr.EXPIRES_AT.value)
    if not isinstance(response, Mapping) or not isinstance(request_hash, str) or expires_at is None:
        msg = f"idempotency record {_stream_id(key)} lacks its response, request hash or expiry"
        raise MalformedItem(msg)
    status = response.get(REPLY_STATUS)
    headers = response.get(REPLY_HEADERS, {})
    body = response.get(REPLY_BODY)
    if status is None or not isinstance(body, str) or not isinstance(headers, Mapping):
        msg = f"idempotency record {_stream_id(key)} has a malformed response"
        raise MalformedItem(msg)
    return IdempotencyRecord(
        key=key,
        request_hash=request_hash,
        reply=Reply(int(status), body, {str(k): str(v) for k, v in headers.items()}),
        expires_at=int(expires_at),
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
