"""The composition root: settings, the DynamoDB client, clock and id generator are built here,
once per container, and handed to the code that uses them. Tests call :func:`build` with their
own collaborators instead of patching anything."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

from command_api.adapters.dynamodb_store import DynamoDBEventStore
from command_api.adapters.event_store import EventStore
from command_api.clock import Clock, IdGenerator, new_uuid, utc_now
from command_api.executor import CommandExecutor
from command_api.http.api import CommandApi
from command_api.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

LambdaHandler = Callable[[Mapping[str, Any], "LambdaContext"], dict[str, Any]]


def dynamodb_client() -> DynamoDBClient:
    # Short timeouts and few retries: API Gateway gives up after 30 s, and a command that cannot
    # reach DynamoDB is better answered quickly (the client retries with its Idempotency-Key).
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
        tcp_keepalive=True,
    )
    return boto3.client("dynamodb", config=config)


def build(
    settings: Settings,
    *,
    dynamodb: DynamoDBClient | None = None,
    store: EventStore | None = None,
    clock: Clock = utc_now,
    new_id: IdGenerator = new_uuid,
) -> LambdaHandler:
    """The Lambda handler, wired: resolver, executor, event store, logs, metrics and traces."""
    if store is None:
        store = DynamoDBEventStore(dynamodb or dynamodb_client(), settings.event_store_table, clock)
    executor = CommandExecutor(
        store,
        clock=clock,
        new_id=new_id,
        max_attempts=settings.max_append_attempts,
        idempotency_ttl=settings.idempotency_ttl,
    )
    logger = Logger(service=settings.service_name)
    metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
    api = CommandApi(executor, new_id=new_id, logger=logger, metrics=metrics)

    handler: LambdaHandler = api.app.resolve
    if settings.tracing_enabled:
        # Tracer imports the X-Ray SDK (about as slow as boto3 itself), so it is only loaded
        # when tracing is on; it patches botocore, so DynamoDB calls become subsegments.
        from aws_lambda_powertools import Tracer  # noqa: PLC0415

        handler = Tracer(service=settings.service_name).capture_lambda_handler(handler)
    handler = metrics.log_metrics(handler, capture_cold_start_metric=True)
    return logger.inject_lambda_context(handler, clear_state=True)


def from_environment(environ: Mapping[str, str] | None = None) -> LambdaHandler:
    return build(Settings.from_environ(os.environ if environ is None else environ))
