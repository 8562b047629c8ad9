"""Lambda entry point for API Gateway HTTP API (payload 2.0) events.

Importing this module loads every library the handler needs (during Lambda's init phase); the
composition root then runs on the first event, once per container. Building it lazily keeps the
module importable without the function's environment (tooling, the members check).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from platform_lambda import init_phase

# Libraries load inside the init phase: no collector passes over what the container keeps
# for its lifetime (platform_lambda's README says why).
with init_phase():
    from command_api.bootstrap import LambdaHandler, from_environment

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def wired() -> LambdaHandler:
    return from_environment()


def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wired()(event, context)
