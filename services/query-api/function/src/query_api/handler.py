"""Lambda entry point: an API Gateway HTTP API (payload 2.0) request -> the query API."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

from platform_lambda import init_phase

# Libraries load inside the init phase: no collector passes over what the container keeps
# for its lifetime (platform_lambda's README says why).
with init_phase():
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from query_api.bootstrap import QueryApi, query_api_from_environment
    from query_api.observability import count_answer, logger, metrics

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
    with init_phase():
        container()
