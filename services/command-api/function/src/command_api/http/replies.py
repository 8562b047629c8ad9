"""The success answer of a command, built before the append so that the idempotency record can
carry it in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Final

from command_api.domain import CloseAccount, Command, OpenAccount
from command_api.http.models import CommandResult, RecordedEvent
from command_api.http.preconditions import etag
from command_api.reply import Reply
from platform_events import EventEnvelope

APPLICATION_JSON: Final = "application/json"


def account_location(account_id: str) -> str:
    return f"/accounts/{account_id}"


def accepted_reply(command: Command, events: Sequence[EventEnvelope]) -> Reply:
    version = events[-1].version
    result = CommandResult(
        account_id=command.account_id,
        version=version,
        events=[
            RecordedEvent(event_id=e.event_id, event_type=e.event_type, version=e.version)
            for e in events
        ],
    )
    headers = {"Content-Type": APPLICATION_JSON, "ETag": etag(version)}
    status = HTTPStatus.CREATED
    if isinstance(command, OpenAccount):
        headers["Location"] = account_location(command.account_id)
    elif isinstance(command, CloseAccount):
        status = HTTPStatus.OK
    return Reply(status.value, result.model_dump_json(), headers)
