"""Lambda entry point: an API Gateway HTTP API (payload 2.0) request -> the query API."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

# Lambda's init phase makes hundreds of thousands of objects that live as long as the container
# (modules, SQLAlchemy's and botocore's models, pydantic's validators). The collector's full
# passes over them while they are made free nothing and cost up to a quarter of the cold start's
# CPU: no collection while the modules load and the container is wired, and what they made is
# frozen out of every later pass (before the collector resumes: its first pass would otherwise
# walk all of it once more).
_collecting = gc.isenabled()
gc.disable()
try:
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from query_api.bootstrap import QueryApi, query_api_from_environment
    from query_api.observability import count_answer, logger, metrics
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

Handle: TypeAlias = Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Container:
    api: QueryApi
    handle: Handle


@cache
def container() -> Container:
    """The wired query API, built once per container from the environment."""
    api = query_api_from_environment()

    def handle(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        response = api.app.resolve(dict(event), context)
        count_answer(response["statusCode"])
        return response

    if api.tracer is not None:
        handle = api.tracer.capture_lambda_handler(handle, capture_response=False)
    return Container(api=api, handle=handle)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return container().handle(event, context)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    # In Lambda, wire everything during the init phase (full CPU, before the first request):
    # settings are validated and clients built before anyone waits. Elsewhere importing the
    # module has no side effects.
    gc.disable()
    try:
        container()
    finally:
        gc.freeze()
        if _collecting:
            gc.enable()
