"""Lambda entry point: an API Gateway HTTP API (payload 2.0) request -> the query API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from query_api.bootstrap import query_api_from_environment
from query_api.observability import count_answer, logger, metrics

# Built in the init phase, once per container: settings are validated before the first request
# and the engine's pool outlives invocations. The first query opens the first connection.
container = query_api_from_environment()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def _handle(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = container.app.resolve(dict(event), context)
    count_answer(response["statusCode"])
    return response


lambda_handler: Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]] = (
    container.tracer.capture_lambda_handler(_handle, capture_response=False)
    if container.tracer is not None
    else _handle
)
