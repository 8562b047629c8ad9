"""The stack's wiring, as a function so that mock tests run exactly what ``pulumi up`` runs.

``__main__.py`` builds the function's package and calls ``command_api_stack``; tests call it
with a package description and the platform stack's outputs mocked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import cast, get_args

import pulumi
from command_api.settings import DEFAULT_SERVICE_NAME
from platform_infra.context import StackContext
from platform_infra.http_api import HttpApiOptions
from platform_infra.packaging import LambdaPackage
from platform_infra.platform_outputs import PlatformOutput, PlatformStack
from platform_infra.tags import register_standard_tags

from command_api_stack.component import CommandApi, CommandApiArgs, LogLevel


class ConfigKey(StrEnum):
    """This stack's optional config keys (``pulumi config set <key> <value>``), besides the
    API's (``platform_infra.http_api.HttpApiConfigKey``: authorization, JWT, throttling)."""

    IDEMPOTENCY_TTL_SECONDS = "idempotencyTtlSeconds"
    MAX_APPEND_ATTEMPTS = "maxAppendAttempts"
    TRACING = "tracing"
    MEMORY_MB = "memoryMb"
    RESERVED_CONCURRENCY = "reservedConcurrency"
    LOG_LEVEL = "logLevel"


class Export(StrEnum):
    API_ENDPOINT = "apiEndpoint"
    EXECUTION_ARN = "executionArn"
    """Callers need ``execute-api:Invoke`` on ``<executionArn>/*/<METHOD>/<path>``."""
    FUNCTION_NAME = "functionName"


def command_api_stack(package: LambdaPackage) -> CommandApi:
    """Everything the stack deploys, reading the platform stack's outputs by reference."""
    context = StackContext.from_pulumi(DEFAULT_SERVICE_NAME)
    register_standard_tags(context)
    config = pulumi.Config()
    platform = PlatformStack()
    api = CommandApi(
        "commands",
        CommandApiArgs(
            context=context,
            package=package,
            event_store_table_name=platform.string(PlatformOutput.EVENT_STORE_TABLE_NAME),
            event_store_table_arn=platform.string(PlatformOutput.EVENT_STORE_TABLE_ARN),
            api=HttpApiOptions.from_config(config),
            idempotency_ttl_seconds=_int(config, ConfigKey.IDEMPOTENCY_TTL_SECONDS) or 24 * 3600,
            max_append_attempts=_int(config, ConfigKey.MAX_APPEND_ATTEMPTS) or 5,
            tracing=config.get_bool(ConfigKey.TRACING) or False,
            memory_mb=_int(config, ConfigKey.MEMORY_MB) or 512,
            reserved_concurrency=_int(config, ConfigKey.RESERVED_CONCURRENCY),
            log_level=_log_level(config),
        ),
    )
    pulumi.export(Export.API_ENDPOINT.value, api.endpoint)
    pulumi.export(Export.EXECUTION_ARN.value, api.execution_arn)
    pulumi.export(Export.FUNCTION_NAME.value, api.function_name)
    return api


def _int(config: pulumi.Config, key: ConfigKey) -> int | None:
    return config.get_int(key)


def _log_level(config: pulumi.Config) -> LogLevel:
    value = (config.get(ConfigKey.LOG_LEVEL) or "INFO").upper()
    if value not in get_args(LogLevel):
        raise ValueError(f"{ConfigKey.LOG_LEVEL.value} must be one of {get_args(LogLevel)}")
    return cast(LogLevel, value)
