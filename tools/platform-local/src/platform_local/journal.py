"""A durable journal of the event store, so an acknowledged command survives SIGKILL.

The emulated DynamoDB lives in memory. The journal records every item the command side writes,
hooked into its boto3 client: the items of a ``TransactWriteItems``/``PutItem`` that succeeded are
appended and fsync'ed in botocore's ``after-call`` event, which runs before the call returns to
the handler, hence before the HTTP answer. On start the journal is written back into a fresh
table; its stream then carries every event again, and the projections' positions (kept in their
own database) make the redelivery harmless.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final

log = logging.getLogger(__name__)

_ITEMS_KEY: Final = "platform_local_journal_items"
_WRITE_OPERATIONS: Final = ("TransactWriteItems", "PutItem")
BATCH_WRITE_LIMIT: Final = 25


def _written_items(operation: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    if operation == "PutItem":
        return [{"TableName": params["TableName"], "Item": params["Item"]}]
    items = []
    for action in params.get("TransactItems", []):
        put = action.get("Put")
        if put is not None:
            items.append({"TableName": put["TableName"], "Item": put["Item"]})
    return items


class EventStoreJournal:
    """Append-only JSON lines of DynamoDB JSON items, fsync'ed before the write is acknowledged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None  # opened on the first append; restoring only reads
        self.appended = 0

    def __enter__(self) -> EventStoreJournal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def append(self, items: list[dict[str, Any]]) -> None:
        """Write the items of one successful call as one line and make it durable."""
        if not items:
            return
        line = json.dumps(items, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            if self._file is None:
                self._file = self.path.open("ab")
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self.appended += len(items)

    def attach(self, client: Any) -> None:
        """Journal what this boto3 DynamoDB client writes successfully."""
        events = client.meta.events
        for operation in _WRITE_OPERATIONS:
            events.register(
                f"provide-client-params.dynamodb.{operation}",
                self._remember(operation),
                unique_id=f"journal-params-{operation}-{id(self)}",
            )
            events.register(
                f"after-call.dynamodb.{operation}",
                self._record,
                unique_id=f"journal-after-{operation}-{id(self)}",
            )

    def _remember(self, operation: str) -> Any:
        def remember(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
            context[_ITEMS_KEY] = _written_items(operation, params)

        return remember

    def _record(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response is not None and http_response.status_code == 200:
            self.append(context.pop(_ITEMS_KEY, []))

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every journaled item in write order; a torn last line (a kill mid-write, whose call
        was therefore never acknowledged) is ignored."""
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    batch = json.loads(line)
                except ValueError:
                    log.warning("journal line %d is incomplete; ignoring it", number)
                    continue
                yield from batch

    def restore(self, client: Any) -> int:
        """Write every journaled item back through ``client`` (not journaled again)."""
        restored = 0
        pending: dict[str, list[dict[str, Any]]] = {}
        for entry in self.entries():
            batch = pending.setdefault(entry["TableName"], [])
            batch.append({"PutRequest": {"Item": entry["Item"]}})
            if len(batch) == BATCH_WRITE_LIMIT:
                restored += _batch_write(client, entry["TableName"], batch)
                pending[entry["TableName"]] = []
        for table, batch in pending.items():
            restored += _batch_write(client, table, batch)
        return restored


def _batch_write(client: Any, table: str, requests: list[dict[str, Any]]) -> int:
    if not requests:
        return 0
    unprocessed: dict[str, Any] = {table: requests}
    while unprocessed:
        unprocessed = client.batch_write_item(RequestItems=unprocessed).get("UnprocessedItems", {})
    return len(requests)
