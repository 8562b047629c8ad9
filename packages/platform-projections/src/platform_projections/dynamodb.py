"""The event store reader on DynamoDB: a strongly consistent Query on ``(stream_id, version)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from platform_events import EventEnvelope, EventRegistry, default_registry
from platform_events.dynamodb import from_dynamodb_json
from platform_events.layout import Attr, ItemKind
from platform_projections.store import EventStoreReader, EventStoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBEventStoreReader(EventStoreReader):
    """Reads a stream's version range from the event store table, paginating past 1 MB pages."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        registry: EventRegistry | None = None,
        *,
        page_size: int | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._registry = registry or default_registry
        self._page_size = page_size

    def read(self, stream_id: str, first: int, last: int) -> Sequence[EventEnvelope]:
        if last < first:
            return []
        request: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "KeyConditionExpression": "#stream = :stream AND #version BETWEEN :first AND :last",
            "ExpressionAttributeNames": {
                "#stream": Attr.STREAM_ID.value,
                "#version": Attr.VERSION.value,
            },
            "ExpressionAttributeValues": {
                ":stream": {"S": stream_id},
                ":first": {"N": str(first)},
                ":last": {"N": str(last)},
            },
        }
        if self._page_size is not None:
            request["Limit"] = self._page_size
        events: list[EventEnvelope] = []
        try:
            while True:
                page = self._client.query(**request)
                for item in page.get("Items", []):
                    if item.get(Attr.ITEM_KIND.value, {}).get("S") == ItemKind.EVENT.value:
                        events.append(from_dynamodb_json(item, self._registry))
                last_key = page.get("LastEvaluatedKey")
                if not last_key:
                    return events
                request["ExclusiveStartKey"] = last_key
        except (ClientError, BotoCoreError) as error:
            msg = f"cannot read {stream_id} v{first}..v{last} from {self._table}: {error}"
            raise EventStoreUnavailable(msg) from error
