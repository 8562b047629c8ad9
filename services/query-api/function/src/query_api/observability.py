"""The container's Logger, Tracer and Metrics (powertools), configured from POWERTOOLS_* variables.

Tracing patches botocore only (the Secrets Manager and RDS signer clients): patching every
library X-Ray knows would import them all on a cold start. Database reads get their own
subsegments through ``tracer.capture_method`` instead.
"""

from __future__ import annotations

import os
from typing import Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from query_api.settings import METRICS_NAMESPACE_ENV, SERVICE_NAME, SERVICE_NAME_ENV

PATCHED_MODULES: Final = ("botocore",)
DEFAULT_METRICS_NAMESPACE: Final = "cqrs-platform"
"""Used when the environment names none (the local runner): metrics are flushed even between
handler invocations once 100 accumulate, and a namespace-less flush would fail the request."""

_service = os.environ.get(SERVICE_NAME_ENV) or SERVICE_NAME

logger = Logger(service=_service)
tracer = Tracer(service=_service, patch_modules=PATCHED_MODULES)
metrics = Metrics(
    service=_service,
    namespace=os.environ.get(METRICS_NAMESPACE_ENV) or DEFAULT_METRICS_NAMESPACE,
)


def count_answer(status_code: int) -> None:
    """One count per request by status class (``Answers2xx`` ... ``Answers5xx``): 3xx is how
    often ETags save a body, and every invocation publishes at least this metric."""
    metrics.add_metric(name=f"Answers{status_code // 100}xx", unit=MetricUnit.Count, value=1)
