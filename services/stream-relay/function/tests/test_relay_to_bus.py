"""The relay end to end on moto: event store, real stream records, handler, SNS FIFO, SQS FIFO."""

from __future__ import annotations

from uuid import UUID

import pytest
from botocore.exceptions import ClientError
from stream_relay import handler
from stream_relay.bootstrap import Relay
from stream_relay.handler import lambda_handler
from stream_relay.sns import SnsBusPublisher

from platform_events import EventEnvelope, EventRegistry, layout

STREAM_A = "aaaaaaaa-0000-4000-8000-000000000001"
STREAM_B = "bbbbbbbb-0000-4000-8000-000000000002"
STREAM_C = "cccccccc-0000-4000-8000-000000000003"


def failed_ids(response):
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def sequence_number(record):
    return record["dynamodb"]["SequenceNumber"]


def test_events_reach_a_filtered_fifo_queue_as_contract_envelopes_in_version_order(
    event_store, bus, relay, lambda_context, account_history
):
    first, second = account_history(deposits=3), account_history(deposits=1)
    event_store.append(*first, *second)

    response = lambda_handler(
        {"Records": event_store.stream_records()}, lambda_context, relay=relay
    )

    assert response == {"batchItemFailures": []}
    received = bus.drain()
    assert sorted(received, key=lambda e: e.key) == sorted(first + second, key=lambda e: e.key)
    for stream in (first, second):
        assert [e for e in received if e.stream_id == stream[0].stream_id] == stream
    # The body is the contract's envelope, money as the decimal string it was written as.
    assert received[received.index(first[1])].to_dict()["payload"] == {
        "amount": "10.00",
        "reference": "ref 0",
    }


def test_the_relay_needs_no_payload_models_to_relay_money_exactly(
    event_store, bus, faulty_sns, lambda_context, account_history
):
    history = account_history(deposits=2)
    event_store.append(*history)
    records = event_store.stream_records()
    assert records[1]["dynamodb"]["NewImage"]["payload"]["M"]["amount"] == {"N": "10.00"}
    knows_nothing = Relay(SnsBusPublisher(faulty_sns, bus.topic_arn), registry=EventRegistry())

    lambda_handler({"Records": records}, lambda_context, relay=knows_nothing)

    assert [e.payload.get("amount") for e in bus.drain()] == [None, "10.00", "20.00"]


def test_the_filter_policy_keeps_other_aggregates_off_the_projection_queue(
    event_store, bus, relay, lambda_context, account_history, emitted_metrics
):
    account = account_history(deposits=1)
    parcel = account_history(deposits=0)[0].model_copy(
        update={"event_type": "ParcelShipped", "aggregate_type": "Parcel", "payload": {}}
    )
    event_store.append(*account, parcel)
    emitted_metrics()

    response = lambda_handler(
        {"Records": event_store.stream_records()}, lambda_context, relay=relay
    )

    assert response == {"batchItemFailures": []}
    assert bus.drain() == account
    assert emitted_metrics()["EventsPublished"] == 3  # the parcel went to the bus, not the queue


def test_records_out_of_version_order_are_published_in_version_order(
    event_store, bus, relay, faulty_sns, lambda_context, account_history
):
    history = account_history(stream_id=STREAM_A, deposits=4)
    event_store.append(*history)
    records = event_store.stream_records()
    # Shards order records per item only; each event is its own item, so this is a legal batch.
    shuffled = [records[3], records[0], records[4], records[2], records[1]]

    response = lambda_handler({"Records": shuffled}, lambda_context, relay=relay)

    assert response == {"batchItemFailures": []}
    assert [UUID(i) for i in faulty_sns.sent_dedup_ids] == [e.event_id for e in history]
    assert bus.drain() == history


def test_non_events_are_skipped_on_purpose_and_counted(
    event_store, bus, relay, lambda_context, account_history, emitted_metrics, caplog
):
    history = account_history(deposits=1)
    key = event_store.record_idempotency("request-1")
    event_store.append(*history)
    event_store.client.update_item(
        TableName="event-store",
        Key=key,
        UpdateExpression="SET #r = :r",
        ExpressionAttributeNames={"#r": layout.Attr.RESPONSE.value},
        ExpressionAttributeValues={":r": {"S": "{}"}},
    )  # MODIFY
    event_store.client.delete_item(TableName="event-store", Key=key)  # REMOVE
    records = event_store.stream_records()
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE"]
    emitted_metrics()
    handler.logger.setLevel("DEBUG")
    try:
        response = lambda_handler({"Records": records}, lambda_context, relay=relay)
    finally:
        handler.logger.setLevel("INFO")

    assert response == {"batchItemFailures": []}
    assert bus.drain() == history
    skip_logs = [r for r in caplog.records if r.message == "skipped a record that is not an event"]
    assert [log.sequence_number for log in skip_logs] == [
        sequence_number(records[i]) for i in (0, 3, 4)
    ]
    assert [log.reason for log in skip_logs] == [
        "item_kind is 'idempotency'",
        "stream record is 'MODIFY', not INSERT",
        "stream record is 'REMOVE', not INSERT",
    ]
    metrics = emitted_metrics()
    assert metrics["RecordsReceived"] == 5
    assert metrics["RecordsSkipped"] == 3
    assert metrics["EventsPublished"] == 2
    assert metrics["RecordsRedelivered"] == 0


def test_one_entry_failing_mid_batch_names_its_record_and_the_retry_delivers_each_event_once(
    event_store, bus, relay, faulty_sns, lambda_context, account_history, emitted_metrics
):
    """24 events over three streams: three PublishBatch calls; one entry in the middle fails.

    moto's SNS topic does not deduplicate (it accepts the re-published entries as new
    messages), but it forwards MessageDeduplicationId to the SQS FIFO queue, which drops a
    duplicate while the first copy is still in the queue. So this test asserts deduplication
    where it is real in moto (the queue), and that the relay did re-publish: in AWS the FIFO
    topic itself would drop those copies within its 5 minute deduplication window.
    """
    histories = [account_history(stream_id=s, deposits=7) for s in (STREAM_A, STREAM_B, STREAM_C)]
    events = [e for history in histories for e in history]
    event_store.append(*events)
    records = event_store.stream_records()
    position = {e.event_id: index for index, e in enumerate(events)}
    # Publish order is A1..A8 B1 B2 | B3..B8 C1..C4 | C5..C8: B2 ends the first call.
    victim = histories[1][1]
    faulty_sns.fail = {victim.event_id}
    emitted_metrics()

    response = lambda_handler({"Records": records}, lambda_context, relay=relay)

    # The second call would have been B3..B8 C1..C4; B3..B8 are held back so that they cannot
    # overtake B2 on the bus.
    assert [len(call) for call in faulty_sns.calls] == [10, 4, 4]
    assert failed_ids(response) == [sequence_number(records[position[victim.event_id]])]
    assert not {str(e.event_id) for e in histories[1][2:]} & set(faulty_sns.sent_dedup_ids)
    metrics = emitted_metrics()
    assert metrics["EventsPublished"] == 17
    assert metrics["EventsUnpublished"] == 7
    assert metrics["RecordsRedelivered"] == len(records) - position[victim.event_id]

    # Lambda redelivers from the checkpoint: the failed record and everything after it.
    faulty_sns.fail = set()
    retry = records[position[victim.event_id] :]
    assert lambda_handler({"Records": retry}, lambda_context, relay=relay) == {
        "batchItemFailures": []
    }

    received = bus.drain()
    assert len(received) == len(events)
    for history in histories:
        assert [e for e in received if e.stream_id == history[0].stream_id] == history
    sent = faulty_sns.sent_dedup_ids
    assert {str(e.event_id) for e in histories[2]} <= {i for i in sent if sent.count(i) == 2}, (
        "stream C was published, then re-published by the retry, and is still in the queue once"
    )


def test_the_first_failure_is_counted_in_stream_order_not_in_publish_order(
    event_store, bus, relay, faulty_sns, lambda_context, account_history
):
    """Within one call SNS reports each entry on its own, and whether it publishes an entry that
    follows a failed one of the same group is not documented (moto does). So an event may
    overtake its failed predecessor on the bus; the contract's consumers tolerate that (they
    fill gaps from the event store). What the relay owns is the checkpoint and exactly-once."""
    # Stream B's events come first in the batch, but sorting publishes stream A's first.
    stream_b = account_history(stream_id=STREAM_B, deposits=2)
    stream_a = account_history(stream_id=STREAM_A, deposits=2)
    event_store.append(*stream_b, *stream_a)
    records = event_store.stream_records()
    # A2 fails first in publish order (position 4), B2 comes first in the batch (position 1).
    faulty_sns.fail = {stream_a[1].event_id, stream_b[1].event_id}

    response = lambda_handler({"Records": records}, lambda_context, relay=relay)

    assert failed_ids(response) == [sequence_number(records[1])]
    assert [UUID(i) for i in faulty_sns.sent_dedup_ids] == [e.event_id for e in stream_a + stream_b]

    faulty_sns.fail = set()
    assert lambda_handler({"Records": records[1:]}, lambda_context, relay=relay) == {
        "batchItemFailures": []
    }
    received = bus.drain()
    assert sorted(e.key for e in received) == sorted(e.key for e in stream_a + stream_b)


def test_a_publish_call_that_raises_leaves_every_unconfirmed_record_to_the_retry(
    event_store, bus, relay, faulty_sns, lambda_context, account_history
):
    skipped_first = event_store.record_idempotency("request-2")
    assert skipped_first
    history = account_history(deposits=12)
    event_store.append(*history)
    records = event_store.stream_records()
    faulty_sns.raise_error = ClientError(
        {"Error": {"Code": "Throttling", "Message": "slow down"}}, "PublishBatch"
    )

    response = lambda_handler({"Records": records}, lambda_context, relay=relay)

    # The idempotency record before the events is done; the first event is where to resume.
    assert failed_ids(response) == [sequence_number(records[1])]
    assert len(faulty_sns.calls) == 1  # no further calls once the service has failed
    assert bus.drain() == []

    assert lambda_handler({"Records": records[1:]}, lambda_context, relay=relay) == {
        "batchItemFailures": []
    }
    assert bus.drain() == history


def test_a_malformed_event_record_is_failed_not_dropped(
    event_store, bus, relay, lambda_context, account_history, emitted_metrics
):
    before, after = account_history(deposits=1), account_history(deposits=0)
    event_store.append(*before)
    event_store.put_raw(
        {  # claims to be an event but has no envelope fields: a poison record
            layout.Attr.STREAM_ID.value: {"S": "broken"},
            layout.Attr.VERSION.value: {"N": "1"},
            layout.Attr.ITEM_KIND.value: {"S": layout.ItemKind.EVENT.value},
        }
    )
    event_store.append(*after)
    records = event_store.stream_records()
    emitted_metrics()

    response = lambda_handler({"Records": records}, lambda_context, relay=relay)

    assert failed_ids(response) == [sequence_number(records[2])]
    assert emitted_metrics()["RecordsMalformed"] == 1
    # What came before is published; what follows waits for the redelivery after the poison.
    assert bus.drain() == before

    # Every redelivery fails it again, until the mapping's retries run out...
    assert failed_ids(lambda_handler({"Records": records[2:]}, lambda_context, relay=relay)) == [
        sequence_number(records[2])
    ]
    assert bus.drain() == []
    # ...and it goes to the on-failure destination; the stream moves on past it.
    assert lambda_handler({"Records": records[3:]}, lambda_context, relay=relay) == {
        "batchItemFailures": []
    }
    assert bus.drain() == after


def test_an_empty_batch_is_a_success(relay, lambda_context):
    assert lambda_handler({"Records": []}, lambda_context, relay=relay) == {"batchItemFailures": []}


@pytest.mark.parametrize("count", [1, 10, 11, 31])
def test_publish_batch_calls_never_exceed_ten_entries(
    event_store, bus, relay, faulty_sns, lambda_context, account_history, count
):
    history = account_history(deposits=count - 1)
    event_store.append(*history)

    lambda_handler({"Records": event_store.stream_records()}, lambda_context, relay=relay)

    assert [len(call) for call in faulty_sns.calls] == [
        min(10, count - start) for start in range(0, count, 10)
    ]
    assert bus.drain() == history


def test_large_events_are_split_to_respect_the_publish_batch_size_limit(
    event_store, bus, relay, faulty_sns, lambda_context, account_history
):
    history: list[EventEnvelope] = account_history(deposits=4)
    big = [
        e.model_copy(update={"payload": {**e.payload, "reference": "x" * 100_000}})
        if e.version > 1
        else e
        for e in history
    ]
    event_store.append(*big)

    lambda_handler({"Records": event_store.stream_records()}, lambda_context, relay=relay)

    sizes = [sum(len(entry["Message"]) for entry in call) for call in faulty_sns.calls]
    assert len(faulty_sns.calls) > 1
    assert all(size <= 256 * 1024 for size in sizes)
    assert bus.drain() == big
