"""Lambda event records built from envelopes, as the event source mappings deliver them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from platform_events import EventEnvelope, sqs_batch_entry


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
