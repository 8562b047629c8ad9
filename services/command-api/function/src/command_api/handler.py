"""Lambda entry point for API Gateway HTTP API (payload 2.0) events.

Importing this module loads every library the handler needs (during Lambda's init phase); the
composition root then runs on the first event, once per container. Building it lazily keeps the
module importable without the function's environment (tooling, the members check).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

# Lambda's init phase makes hundreds of thousands of objects that live as long as the container
# (modules, botocore's service models, pydantic's validators). The collector's full passes over
# them while they are made free nothing and cost up to a quarter of the cold start's CPU: no
# collection while the modules load, and what they made is frozen out of every later pass
# (before the collector resumes: its first pass would otherwise walk all of it once more).
_collecting = gc.isenabled()
gc.disable()
try:
    from command_api.bootstrap import LambdaHandler, from_environment
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def wired() -> LambdaHandler:
    return from_environment()


def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wired()(event, context)
