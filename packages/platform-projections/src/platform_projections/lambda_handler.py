"""The Lambda entry point around a :class:`~platform_projections.runtime.Projector`.

Why not powertools' ``SqsFifoPartialProcessor``: it calls a record handler one record at a time,
while a projection's unit of work is the whole batch (one transaction, one set-based write). We
keep powertools for what fits: structured logs and EMF metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from platform_projections.runtime import POISON_KINDS, BatchResult, FailureKind, Projector

LambdaHandler = Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]]

EVENTS_APPLIED: Final = "EventsApplied"
EVENTS_SKIPPED: Final = "EventsSkipped"
EVENTS_REPAIRED: Final = "EventsRepaired"
POISON_MESSAGES: Final = "PoisonMessages"
GAP_REPAIR_FAILURES: Final = "GapRepairFailures"
FAILED_MESSAGES: Final = "FailedMessages"
LAG: Final = "ProjectionLag"
BATCHES_FAILED: Final = "BatchesFailed"


def make_lambda_handler(
    build: Callable[[], Projector[Any]],
    *,
    projection: str,
    service: str | None = None,
    logger: Logger | None = None,
    metrics: EphemeralMetrics | None = None,
) -> LambdaHandler:
    """A Lambda handler that builds its projector on first use and keeps it for the container.

    ``build`` is the composition root: settings, engine and event store client are made there
    once, never per invocation. Tests pass a ``build`` returning a projector on test resources.
    """
    log = logger or Logger(service=service or f"projection-{projection}")
    # Ephemeral: powertools' Metrics shares its state across instances, and the local runner
    # hosts several projections in one process.
    meter = metrics or EphemeralMetrics()
    meter.set_default_dimensions(projection=projection)
    copy_config_to_registered_loggers(source_logger=log, include={"platform_projections"})
    projector = functools.cache(build)

    def handle(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        records = event.get("Records") or []
        try:
            result = projector().handle(records)
        except Exception:
            # The whole batch returns to the queue; say so before Lambda reports the error.
            meter.add_metric(name=BATCHES_FAILED, unit=MetricUnit.Count, value=1)
            log.exception("batch failed as a whole", extra={"records": len(records)})
            raise
        publish(meter, result)
        for failure in result.failures:
            # Poison needs a person (it ends in the DLQ); a gap the store could not fill yet
            # heals on redelivery.
            report = log.error if failure.kind in POISON_KINDS else log.warning
            report(
                "projection stopped a message group",
                extra={
                    "failure": failure.kind.value,
                    "group_id": failure.group_id,
                    "message_id": failure.message_id,
                    "stream_id": failure.stream_id,
                    "event_id": failure.event_id,
                    "version": failure.version,
                    "reason": failure.reason,
                },
            )
        for control in result.controls:
            state = control.generations
            log.info(
                "replay control applied",
                extra={
                    "action": control.action.value,
                    "rebuild": control.rebuild,
                    "active": state.active if state else None,
                    "building": state.building if state else None,
                    "caught_up": control.caught_up,
                },
            )
        log.info(
            "batch applied",
            extra={
                "records": len(records),
                "applied": result.applied,
                "skipped": result.skipped,
                "repaired": result.repaired,
                "failed": len(result.failed_message_ids),
                "lag_seconds": result.lag_seconds,
                "old_generation_rows_deleted": result.cleaned,
            },
        )
        return result.response()

    handler: LambdaHandler = meter.log_metrics(log.inject_lambda_context(handle))
    return handler


def publish(metrics: EphemeralMetrics, result: BatchResult) -> None:
    """The batch's counts as metrics (zeros too, so alarms see a steady series)."""
    metrics.add_metric(name=EVENTS_APPLIED, unit=MetricUnit.Count, value=result.applied)
    metrics.add_metric(name=EVENTS_SKIPPED, unit=MetricUnit.Count, value=result.skipped)
    metrics.add_metric(name=EVENTS_REPAIRED, unit=MetricUnit.Count, value=result.repaired)
    metrics.add_metric(name=POISON_MESSAGES, unit=MetricUnit.Count, value=result.poisoned)
    gaps = sum(1 for failure in result.failures if failure.kind is FailureKind.GAP)
    metrics.add_metric(name=GAP_REPAIR_FAILURES, unit=MetricUnit.Count, value=gaps)
    failed = len(result.failed_message_ids)
    metrics.add_metric(name=FAILED_MESSAGES, unit=MetricUnit.Count, value=failed)
    metrics.add_metric(name=BATCHES_FAILED, unit=MetricUnit.Count, value=0)
    if result.lag_seconds is not None:
        metrics.add_metric(name=LAG, unit=MetricUnit.Seconds, value=result.lag_seconds)
