from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_events import (
    EventEnvelope,
    MalformedMessage,
    decode_message_body,
    decode_message_envelopes,
    decode_sqs_record,
    decode_sqs_record_envelopes,
    replay_page_body,
    sns_batch_entry,
    sqs_batch_entry,
)
from platform_events.messaging import decode_document_envelopes
from platform_testing.strategies import envelopes


def lambda_sqs_record(body: str) -> dict[str, Any]:
    return {"messageId": "m-1", "body": body, "attributes": {}, "eventSource": "aws:sqs"}


def sns_wrapped(envelope: EventEnvelope) -> str:
    entry = sns_batch_entry(envelope, "0")
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "x",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:bus.fifo",
            "Message": entry["Message"],
            "MessageAttributes": {
                k: {"Type": "String", "Value": v["StringValue"]}
                for k, v in entry["MessageAttributes"].items()
            },
        }
    )


@given(envelopes())
def test_envelope_to_message_to_envelope_is_identity(envelope: EventEnvelope) -> None:
    entry = sns_batch_entry(envelope, "0")
    assert decode_sqs_record(lambda_sqs_record(entry["Message"])) == envelope
    assert decode_sqs_record({"Body": sqs_batch_entry(envelope, "0")["MessageBody"]}) == envelope


@given(envelopes())
def test_the_sns_wrapped_form_decodes_to_the_same_envelope(envelope: EventEnvelope) -> None:
    assert decode_sqs_record(lambda_sqs_record(sns_wrapped(envelope))) == envelope


def test_fifo_and_filter_attributes(envelope: EventEnvelope) -> None:
    entry = sns_batch_entry(envelope, "7")
    assert entry["Id"] == "7"
    assert entry["MessageGroupId"] == envelope.stream_id
    assert entry["MessageDeduplicationId"] == str(envelope.event_id)
    assert entry["MessageAttributes"] == {
        "event_type": {"DataType": "String", "StringValue": "MoneyDeposited"},
        "aggregate_type": {"DataType": "String", "StringValue": "Account"},
    }
    assert "S" not in json.loads(entry["Message"])["payload"]  # no DynamoDB type descriptors


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"event_id": "x"}',
        '{"Type": "Notification", "Message": 42}',
        '{"Type": "Notification", "Message": "{\\"broken\\": "}',
    ],
)
def test_malformed_messages_raise_malformed_message(body: str) -> None:
    with pytest.raises(MalformedMessage):
        decode_message_body(body)


def test_a_record_without_a_body_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="body"):
        decode_sqs_record({"messageId": "1"})


@given(st.lists(envelopes(), max_size=5))
def test_a_replay_page_decodes_to_its_envelopes_in_order(page: list[EventEnvelope]) -> None:
    assert decode_sqs_record_envelopes({"body": replay_page_body(page)}) == page


@given(envelopes())
def test_a_single_event_message_decodes_to_a_list_of_one(envelope: EventEnvelope) -> None:
    body = sns_batch_entry(envelope, "0")["Message"]
    assert decode_message_envelopes(body) == [envelope]
    assert decode_message_envelopes(sns_wrapped(envelope)) == [envelope]


@pytest.mark.parametrize(
    "body",
    [
        '{"replayed_events": "x"}',
        '{"replayed_events": [1]}',
        '{"replayed_events": ["{}"]}',
        "nope",
    ],
)
def test_malformed_replay_pages_raise_malformed_message(body: str) -> None:
    with pytest.raises(MalformedMessage):
        decode_message_envelopes(body)


@given(st.lists(envelopes(), min_size=1, max_size=5))
def test_a_body_parsed_once_decodes_as_the_text_does(page: list[EventEnvelope]) -> None:
    # What a consumer that looked into the body first gets: the same envelopes, page or event.
    for body in (replay_page_body(page), page[0].to_json(), sns_wrapped(page[0])):
        assert decode_document_envelopes(json.loads(body)) == decode_message_envelopes(body)


@pytest.mark.parametrize("document", [[], "text", {"replayed_events": [1]}, {"Type": "x"}])
def test_a_parsed_document_that_is_no_message_raises_malformed_message(document: Any) -> None:
    with pytest.raises(MalformedMessage):
        decode_document_envelopes(document)
