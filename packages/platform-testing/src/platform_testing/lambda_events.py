"""Lambda event records built from envelopes, as the event source mappings deliver them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from platform_events import EventEnvelope, sqs_batch_entry

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"


@dataclass(frozen=True)
class LambdaContext:
    """The parts of Lambda's context object that powertools reads, for invoking a handler."""

    function_name: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_record(
    envelope: EventEnvelope,
    *,
    sns: bool = False,
    message_id: str | None = None,
    queue: str = "projection-live.fifo",
) -> dict[str, Any]:
    """One record of Lambda's SQS event carrying ``envelope`` from the FIFO queue ``queue``:
    raw delivery, or wrapped in an SNS notification with ``sns=True``."""
    entry = sqs_batch_entry(envelope, "0")
    body = entry["MessageBody"]
    if sns:
        body = json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": body})
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body,
        "attributes": {
            "MessageGroupId": entry["MessageGroupId"],
            "MessageDeduplicationId": entry["MessageDeduplicationId"],
            "ApproximateReceiveCount": "1",
        },
        "messageAttributes": {
            name: {"stringValue": value["StringValue"], "dataType": "String"}
            for name, value in entry["MessageAttributes"].items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{queue}",
        "awsRegion": "eu-west-1",
    }
