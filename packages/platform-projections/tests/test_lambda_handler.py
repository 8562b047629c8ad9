from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from aws_lambda_powertools import Logger
from platform_projections import Projector
from platform_projections.lambda_handler import make_lambda_handler

from platform_testing.lambda_events import LambdaContext


def emf_documents(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if '"_aws"' in line]


def test_the_handler_answers_batch_item_failures_and_publishes_metrics(
    sqlite_engine, ledger, store, history, record, garbage, capsys
):
    events = history("d1", "d2")
    builds = []

    def build() -> Projector:
        builds.append(1)
        return Projector(ledger, sqlite_engine, store)

    handler = make_lambda_handler(build, projection="ledger")
    records = [record(e, message_id=f"m{e.version}") for e in events]
    bad = garbage("another-group")

    answer = handler({"Records": [*records, bad]}, LambdaContext("ledger"))
    handler({"Records": records[:1]}, LambdaContext("ledger"))

    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert builds == [1]  # one projector (engine, clients) per container
    first = emf_documents(capsys.readouterr().out)[0]
    assert first["projection"] == "ledger"
    assert first["EventsApplied"] == [3.0]
    assert first["EventsSkipped"] == [0.0]
    assert first["PoisonMessages"] == [1.0]
    assert first["FailedMessages"] == [1.0]
    assert first["ProjectionLag"][0] > 0
    names = {m["Name"] for m in first["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"EventsApplied", "EventsSkipped", "EventsRepaired", "PoisonMessages"} <= names


def test_every_stopped_group_is_logged_with_its_message_and_event_ids(
    sqlite_engine, ledger, store, history, record, garbage
):
    events = history("d1:boom")
    bad = garbage("another-group")
    output = io.StringIO()
    logger = Logger(service=f"test-{uuid.uuid4()}", logger_handler=logging.StreamHandler(output))
    handler = make_lambda_handler(
        lambda: Projector(ledger, sqlite_engine, store), projection="ledger", logger=logger
    )

    handler({"Records": [*[record(e) for e in events], bad]}, LambdaContext("ledger"))

    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    stopped = [line for line in lines if line["message"] == "projection stopped a message group"]
    assert [(s["level"], s["failure"]) for s in stopped] == [
        ("ERROR", "apply"),
        ("ERROR", "undecodable"),
    ]
    assert stopped[0]["event_id"] == str(events[1].event_id)
    assert stopped[1]["message_id"] == bad["messageId"]
    summary = next(line for line in lines if line["message"] == "batch applied")
    assert (summary["records"], summary["applied"], summary["failed"]) == (3, 1, 2)


def test_a_batch_that_fails_as_a_whole_is_logged_counted_and_raised(
    ledger, store, history, record, capsys
):
    class Broken:
        def handle(self, records):
            raise RuntimeError("database unreachable")

    output = io.StringIO()
    logger = Logger(service=f"test-{uuid.uuid4()}", logger_handler=logging.StreamHandler(output))
    handler = make_lambda_handler(Broken, projection="ledger", logger=logger)

    with pytest.raises(RuntimeError, match="unreachable"):
        handler({"Records": [record(history()[0])]}, LambdaContext("ledger"))

    assert emf_documents(capsys.readouterr().out)[0]["BatchesFailed"] == [1.0]
    assert "batch failed as a whole" in output.getvalue()
