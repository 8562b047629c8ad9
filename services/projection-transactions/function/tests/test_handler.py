"""The composition root against real adapters: settings from the environment, Postgres, and the
event store in (moto's) DynamoDB, from which the first deposit's AccountOpened is read."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from moto import mock_aws
from platform_projections.lambda_handler import make_lambda_handler
from projection_transactions.handler import build_projector

from platform_events.dynamodb import to_dynamodb_json
from platform_events.layout import event_store_key_schema

pytestmark = pytest.mark.postgres


def test_the_lambda_repairs_gaps_from_dynamodb_and_writes_postgres(
    postgres_engine, account, record, context, model, fold
):
    events = account("d10", "w4", "c")
    url = postgres_engine.url.render_as_string(hide_password=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(TableName="events", **event_store_key_schema())
        for envelope in events:
            dynamodb.put_item(TableName="events", Item=to_dynamodb_json(envelope))
        environ = {"DATABASE_URL": url, "EVENT_STORE_TABLE": "events"}
        built = []

        def build():
            built.append(build_projector(environ))
            return built[-1]

        handler = make_lambda_handler(build, projection="transactions")
        # What the live queue holds: the withdrawal only (the deposit's message went missing).
        answer = handler({"Records": [record(events[2])]}, context)
        built[0].engine.dispose()

    assert answer == {"batchItemFailures": []}
    rows = model(postgres_engine)[events[0].stream_id]
    assert rows == fold(events)
    assert [row["balance_after"] for row in rows] == [Decimal("10.00"), Decimal("6.00")]
