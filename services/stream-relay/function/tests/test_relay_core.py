"""The relay's core without AWS: checkpoints, ordering and what is never acknowledged."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_relay.relay import UnidentifiableRecord, relay_records

from platform_events import layout


def seq(position: int) -> str:
    return f"{1000 + position:022d}"


def test_a_clean_batch_is_acknowledged_whole(fake_publisher, stream_record, account_history):
    history = account_history(deposits=2)
    records = [stream_record(e, seq(i)) for i, e in enumerate(history)]

    outcome = relay_records(records, fake_publisher)

    assert outcome.batch_response() == {"batchItemFailures": []}
    assert fake_publisher.published == history
    assert outcome.redelivered == 0


def test_an_event_the_publisher_does_not_confirm_is_never_acknowledged(
    fake_publisher, stream_record, account_history
):
    history = account_history(deposits=2)
    records = [stream_record(e, seq(i)) for i, e in enumerate(history)]
    fake_publisher.forget = {history[1].event_id}

    outcome = relay_records(records, fake_publisher)

    assert outcome.batch_response() == {"batchItemFailures": [{"itemIdentifier": seq(1)}]}
    assert [u.reason for u in outcome.unpublished] == ["not reported by the publisher"]


def test_events_after_a_poison_record_wait_for_its_redelivery(
    fake_publisher, stream_record, account_history
):
    first, second = account_history(deposits=0), account_history(deposits=0)
    poison = {
        layout.Attr.STREAM_ID.value: {"S": "x"},
        layout.Attr.VERSION.value: {"N": "1"},
        layout.Attr.ITEM_KIND.value: {"S": layout.ItemKind.EVENT.value},
        layout.Attr.EVENT_ID.value: {"S": "not-a-uuid"},
    }
    records = [
        stream_record(first[0], seq(0)),
        stream_record(poison, seq(1)),
        stream_record(second[0], seq(2)),
    ]

    outcome = relay_records(records, fake_publisher)

    assert outcome.batch_response() == {"batchItemFailures": [{"itemIdentifier": seq(1)}]}
    assert fake_publisher.published == first
    assert [ref.position for ref in outcome.deferred] == [2]
    assert outcome.malformed[0].error


@pytest.mark.parametrize(
    "record",
    [None, "INSERT", {"eventName": "INSERT"}, {"eventName": "INSERT", "dynamodb": {}}],
    ids=["null", "string", "no-change", "no-image"],
)
def test_records_that_are_not_even_records_are_failed(
    fake_publisher, stream_record, account_history, record
):
    history = account_history(deposits=0)
    records = [stream_record(history[0], seq(0)), record]

    outcome = relay_records(records, fake_publisher)

    assert len(outcome.malformed) == 1
    assert outcome.retry_from is not None
    assert outcome.retry_from.position == 1
    assert fake_publisher.published == history


def test_a_failure_without_a_sequence_number_fails_the_whole_invocation(
    fake_publisher, stream_record, account_history
):
    history = account_history(deposits=0)
    fake_publisher.fail = {history[0].event_id}

    outcome = relay_records([stream_record(history[0], None)], fake_publisher)

    with pytest.raises(UnidentifiableRecord):
        outcome.batch_response()


def test_skipped_records_before_a_failure_are_acknowledged(
    fake_publisher, stream_record, account_history
):
    history = account_history(deposits=0)
    idempotency = {
        layout.Attr.STREAM_ID.value: {"S": layout.idempotency_stream_id("cd", "ab")},
        layout.Attr.VERSION.value: {"N": "0"},
        layout.Attr.ITEM_KIND.value: {"S": layout.ItemKind.IDEMPOTENCY.value},
    }
    records = [
        stream_record(idempotency, seq(0)),
        stream_record(idempotency, seq(1), event_name="REMOVE"),
        stream_record(history[0], seq(2)),
    ]
    fake_publisher.fail = {history[0].event_id}

    outcome = relay_records(records, fake_publisher)

    assert [s.record.position for s in outcome.skipped] == [0, 1]
    assert outcome.batch_response() == {"batchItemFailures": [{"itemIdentifier": seq(2)}]}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=4),
    seed=st.integers(min_value=0, max_value=2**32),
    failure_rate=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_every_record_before_the_checkpoint_is_published_and_order_is_per_stream(
    fake_publisher, stream_record, account_history, lengths, seed, failure_rate
):
    """Any interleaving of streams (a shard orders items, not streams) and any failures: the
    publisher sees each stream in version order, everything before the checkpoint is published,
    and the checkpoint is the earliest record in the batch that was not."""
    rng = random.Random(seed)
    histories = [account_history(deposits=n - 1) for n in lengths]
    events = [e for history in histories for e in history]
    rng.shuffle(events)
    records = [stream_record(e, seq(i)) for i, e in enumerate(events)]
    fake_publisher.published.clear()
    fake_publisher.fail = {e.event_id for e in events if rng.random() < failure_rate}

    outcome = relay_records(records, fake_publisher)

    published = fake_publisher.published
    for history in histories:
        versions = [e.version for e in published if e.stream_id == history[0].stream_id]
        assert versions == sorted(versions)
    failed_positions = [i for i, e in enumerate(events) if e.event_id in fake_publisher.fail]
    if failed_positions:
        assert outcome.batch_response() == {
            "batchItemFailures": [{"itemIdentifier": seq(min(failed_positions))}]
        }
    else:
        assert outcome.batch_response() == {"batchItemFailures": []}
    checkpoint = min(failed_positions, default=len(events))
    assert {e.event_id for e in events[:checkpoint]} <= {e.event_id for e in published}
