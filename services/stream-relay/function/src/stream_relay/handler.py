"""Lambda entry point: DynamoDB stream batch -> SNS FIFO bus, with a partial batch response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_lambda import init_phase

# Libraries load inside the init phase: no collector passes over what the container keeps
# for its lifetime (platform_lambda's README says why).
with init_phase():
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from stream_relay.bootstrap import Relay, relay_from_environment
    from stream_relay.relay import RelayOutcome

logger = Logger()
metrics = Metrics()


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context
def lambda_handler(
    event: Mapping[str, Any], context: LambdaContext, relay: Relay | None = None
) -> dict[str, list[dict[str, str]]]:
    """``relay`` is for tests; Lambda passes two arguments and gets the container's relay."""
    outcome = (relay or relay_from_environment())(event.get("Records") or [])
    observe(outcome)
    return outcome.batch_response()


def observe(outcome: RelayOutcome) -> None:
    """Metrics for every batch (zeros included, so dashboards have no holes) and why-logs."""
    for name, value in (
        ("RecordsReceived", outcome.received),
        ("EventsPublished", len(outcome.published)),
        ("RecordsSkipped", len(outcome.skipped)),
        ("RecordsMalformed", len(outcome.malformed)),
        ("EventsUnpublished", len(outcome.unpublished)),
        ("RecordsRedelivered", outcome.redelivered),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for skipped in outcome.skipped:
        logger.debug(
            "skipped a record that is not an event",
            extra={"sequence_number": skipped.record.sequence_number, "reason": skipped.reason},
        )
    for malformed in outcome.malformed:
        logger.error(
            "malformed stream record: failing it, retries then the on-failure destination",
            extra={"sequence_number": malformed.record.sequence_number, "error": malformed.error},
        )
    for unpublished in outcome.unpublished:
        logger.warning(
            "event not published",
            extra={
                "sequence_number": unpublished.record.sequence_number,
                "event_id": str(unpublished.envelope.event_id),
                "stream_id": unpublished.envelope.stream_id,
                "version": unpublished.envelope.version,
                "reason": unpublished.reason,
            },
        )
    if outcome.retry_from is not None:
        logger.warning(
            "asking Lambda to redeliver from a record",
            extra={
                "sequence_number": outcome.retry_from.sequence_number,
                "position": outcome.retry_from.position,
                "redelivered": outcome.redelivered,
            },
        )
    logger.info(
        "batch relayed",
        extra={"received": outcome.received, "published": len(outcome.published)},
    )
