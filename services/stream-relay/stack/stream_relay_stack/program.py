"""The stack's wiring, as a function so that mock tests run exactly what ``pulumi up`` runs.

``__main__.py`` builds the function's package and calls ``stream_relay_stack``; tests call it
with a package description and the platform stack's outputs mocked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import cast, get_args

import pulumi
from platform_infra.context import StackContext
from platform_infra.packaging import LambdaPackage
from platform_infra.platform_outputs import PlatformOutput, PlatformStack
from platform_infra.tags import register_standard_tags
from stream_relay.settings import SERVICE_NAME

from stream_relay_stack.stream_relay import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_ITERATOR_AGE_THRESHOLD_MS,
    DEFAULT_MAXIMUM_RECORD_AGE_SECONDS,
    DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
    DEFAULT_PARALLELIZATION_FACTOR,
    LogLevel,
    StreamRelay,
    StreamRelayArgs,
)


class ConfigKey(StrEnum):
    """This stack's optional config keys (``pulumi config set <key> <value>``)."""

    BATCH_SIZE = "batchSize"
    PARALLELIZATION_FACTOR = "parallelizationFactor"
    MAXIMUM_RETRY_ATTEMPTS = "maximumRetryAttempts"
    MAXIMUM_RECORD_AGE_SECONDS = "maximumRecordAgeSeconds"
    ITERATOR_AGE_THRESHOLD_MS = "iteratorAgeThresholdMs"
    ALARM_TOPIC_ARN = "alarmTopicArn"
    LOG_LEVEL = "logLevel"


class Export(StrEnum):
    FUNCTION_NAME = "functionName"
    FAILURE_QUEUE_ARN = "failureQueueArn"
    FAILURE_QUEUE_URL = "failureQueueUrl"
    MAPPING_ID = "eventSourceMappingId"


def stream_relay_stack(package: LambdaPackage) -> StreamRelay:
    """Everything the stack deploys, reading the platform stack's outputs by reference."""
    context = StackContext.from_pulumi(SERVICE_NAME)
    register_standard_tags(context)
    config = pulumi.Config()
    platform = PlatformStack()
    alarm_topic = config.get(ConfigKey.ALARM_TOPIC_ARN)
    relay = StreamRelay(
        "relay",
        StreamRelayArgs(
            context=context,
            package=package,
            stream_arn=platform.string(PlatformOutput.EVENT_STORE_STREAM_ARN),
            bus_topic_arn=platform.string(PlatformOutput.EVENT_BUS_TOPIC_ARN),
            bus_key_arn=platform.string(PlatformOutput.EVENT_BUS_KEY_ARN),
            batch_size=_int(config, ConfigKey.BATCH_SIZE, DEFAULT_BATCH_SIZE),
            parallelization_factor=_int(
                config, ConfigKey.PARALLELIZATION_FACTOR, DEFAULT_PARALLELIZATION_FACTOR
            ),
            maximum_retry_attempts=_int(
                config, ConfigKey.MAXIMUM_RETRY_ATTEMPTS, DEFAULT_MAXIMUM_RETRY_ATTEMPTS
            ),
            maximum_record_age_seconds=_int(
                config, ConfigKey.MAXIMUM_RECORD_AGE_SECONDS, DEFAULT_MAXIMUM_RECORD_AGE_SECONDS
            ),
            iterator_age_threshold_ms=_int(
                config, ConfigKey.ITERATOR_AGE_THRESHOLD_MS, DEFAULT_ITERATOR_AGE_THRESHOLD_MS
            ),
            log_level=_log_level(config),
            alarm_actions=[alarm_topic] if alarm_topic else [],
        ),
    )
    pulumi.export(Export.FUNCTION_NAME.value, relay.function_name)
    pulumi.export(Export.FAILURE_QUEUE_ARN.value, relay.failure_queue_arn)
    pulumi.export(Export.FAILURE_QUEUE_URL.value, relay.failure_queue_url)
    pulumi.export(Export.MAPPING_ID.value, relay.mapping_id)
    return relay


def _int(config: pulumi.Config, key: ConfigKey, default: int) -> int:
    value = config.get_int(key)
    return default if value is None else value


def _log_level(config: pulumi.Config) -> LogLevel:
    value = (config.get(ConfigKey.LOG_LEVEL) or "INFO").upper()
    if value not in get_args(LogLevel):
        raise ValueError(f"{ConfigKey.LOG_LEVEL.value} must be one of {get_args(LogLevel)}")
    return cast(LogLevel, value)
