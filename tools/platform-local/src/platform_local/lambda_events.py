"""Lambda's event shapes, built from what the emulated services return.

The real handlers cannot tell these events from the ones Lambda sends: same keys, same casing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

SQS_EVENT_SOURCE: Final = "aws:sqs"
DYNAMODB_EVENT_SOURCE: Final = "aws:dynamodb"
BATCH_ITEM_FAILURES: Final = "batchItemFailures"
ITEM_IDENTIFIER: Final = "itemIdentifier"


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as ``receive_message`` returns it -> a record of Lambda's SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": SQS_EVENT_SOURCE,
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def dynamodb_stream_record(
    record: Mapping[str, Any], stream_arn: str, region: str
) -> dict[str, Any]:
    """A record as ``dynamodbstreams.get_records`` returns it -> a record of Lambda's event."""
    change = dict(record["dynamodb"])
    # Lambda sends ApproximateCreationDateTime as epoch seconds, boto3 parses it to a datetime.
    created = change.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": DYNAMODB_EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def failed_identifiers(response: object) -> list[str] | None:
    """The ``itemIdentifier`` values of a partial batch response; None when the response is not
    one (Lambda then treats the whole batch as failed)."""
    if response is None:
        return []
    if not isinstance(response, Mapping):
        return None
    failures = response.get(BATCH_ITEM_FAILURES, [])
    if not isinstance(failures, list):
        return None
    identifiers = []
    for failure in failures:
        if not isinstance(failure, Mapping) or not isinstance(failure.get(ITEM_IDENTIFIER), str):
            return None
        identifiers.append(failure[ITEM_IDENTIFIER])
    return identifiers
