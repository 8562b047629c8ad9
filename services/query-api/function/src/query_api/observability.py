"""The container's Logger and Metrics (powertools), and its Tracer when tracing is enabled.

The Tracer is built only when ``TRACING_ENABLED`` is true: powertools' Tracer imports the X-Ray
SDK even when disabled, and that SDK (with the botocore it loads) costs a cold start about as
much as ``import boto3``. With tracing on, X-Ray patches botocore only (the Secrets Manager and
RDS signer clients); database reads get subsegments through ``capture_method``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from query_api.settings import METRICS_NAMESPACE_ENV, SERVICE_NAME, SERVICE_NAME_ENV

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

PATCHED_MODULES: Final = ("botocore",)
DEFAULT_METRICS_NAMESPACE: Final = "cqrs-platform"
"""Used when the environment names none (the local runner): metrics are flushed even between
handler invocations once 100 accumulate, and a namespace-less flush would fail the request."""

SERVICE: Final = os.environ.get(SERVICE_NAME_ENV) or SERVICE_NAME

logger = Logger(service=SERVICE)
metrics = Metrics(
    service=SERVICE,
    namespace=os.environ.get(METRICS_NAMESPACE_ENV) or DEFAULT_METRICS_NAMESPACE,
)


def new_tracer() -> Tracer:
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is enabled

    return Tracer(service=SERVICE, patch_modules=PATCHED_MODULES)


def count_answer(status_code: int) -> None:
    """One count per request by status class (``Answers2xx`` ... ``Answers5xx``): 3xx is how
    often ETags save a body, and every invocation publishes at least this metric."""
    metrics.add_metric(name=f"Answers{status_code // 100}xx", unit=MetricUnit.Count, value=1)
