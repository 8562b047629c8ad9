"""A poison message fails only its FIFO group; the rest of the batch is applied."""

from __future__ import annotations

import io
import json
import logging
import uuid
from decimal import Decimal

from aws_lambda_powertools import Logger
from platform_projections import Projector
from platform_projections.lambda_handler import make_lambda_handler
from projection_balances.projection import PROJECTION


def test_a_poison_message_fails_only_its_group_and_the_rest_of_the_batch_is_applied(
    engine, store, account, record, context, model, capsys
):
    output = io.StringIO()
    logger = Logger(service=f"test-{uuid.uuid4()}", logger_handler=logging.StreamHandler(output))
    garbled = account("d10", "d20")  # its v2 message arrives garbled
    buggy = account("c", "d5")  # v3 is a deposit on a closed account: the model refuses it
    healthy = account("d7", "w2")
    undecodable = record(garbled[1], message_id="garbled-2")
    undecodable["body"] = undecodable["body"][:40]
    batch = [
        record(garbled[0], message_id="garbled-1"),
        record(buggy[0], message_id="buggy-1"),
        undecodable,
        record(healthy[0], message_id="healthy-1"),
        record(buggy[1], message_id="buggy-2"),
        record(garbled[2], message_id="garbled-3"),
        record(buggy[2], message_id="buggy-3"),
        record(healthy[1], message_id="healthy-2"),
        record(healthy[2], message_id="healthy-3"),
    ]
    handler = make_lambda_handler(
        lambda: Projector(PROJECTION, engine, store), projection="balances", logger=logger
    )

    answer = handler({"Records": batch}, context)

    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    assert failed == ["garbled-2", "garbled-3", "buggy-3"]
    rows = model(engine)
    assert rows[healthy[0].stream_id]["balance"] == Decimal("5.00")
    assert rows[healthy[0].stream_id]["version"] == 3
    assert (rows[garbled[0].stream_id]["version"], rows[garbled[0].stream_id]["balance"]) == (
        1,
        Decimal("0.00"),
    )
    assert (rows[buggy[0].stream_id]["version"], rows[buggy[0].stream_id]["status"]) == (
        2,
        "closed",
    )

    # What CloudWatch receives: JSON log lines, and EMF metric documents.
    logs = [json.loads(line) for line in output.getvalue().splitlines()]
    stopped = [line for line in logs if line["message"] == "projection stopped a message group"]
    assert [
        (s["level"], s["failure"], s.get("message_id"), s.get("event_id")) for s in stopped
    ] == [
        ("ERROR", "undecodable", "garbled-2", None),
        ("ERROR", "apply", None, str(buggy[2].event_id)),
    ]
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert metrics[-1]["PoisonMessages"] == [2.0]
    assert metrics[-1]["EventsApplied"] == [6.0]


def test_after_the_poison_left_for_the_dlq_the_group_goes_on_from_the_event_store(
    engine, store, account, record, model
):
    events = account("d10", "d20")
    projector = Projector(PROJECTION, engine, store)
    garbled = record(events[1], message_id="garbled")
    garbled["body"] = "{}"
    projector.handle([record(events[0]), garbled])

    # The garbled copy went to the DLQ; the next message shows the gap, the store fills it.
    result = projector.handle([record(events[2])])

    assert result.failed_message_ids == ()
    assert result.repaired == 1
    assert model(engine)[events[0].stream_id]["balance"] == Decimal("30.00")
