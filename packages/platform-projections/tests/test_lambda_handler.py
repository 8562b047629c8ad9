from __future__ import annotations

import json
from dataclasses import dataclass

from platform_projections import Projector
from platform_projections.lambda_handler import make_lambda_handler


@dataclass
class Context:
    function_name: str = "ledger"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:ledger"
    aws_request_id: str = "request-1"


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

    answer = handler({"Records": [*records, bad]}, Context())
    handler({"Records": records[:1]}, Context())

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
