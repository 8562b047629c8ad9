"""The program of every projection service's stack, written once.

A projection stack binds it to its projection (:class:`ProjectionBinding`) and calls
:func:`projection_stack` from its ``__main__``; mock tests call the same binding, so they run
exactly what ``pulumi up`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, cast, get_args

import pulumi
from platform_projections import Projection
from platform_projections.service import (
    DATABASE_IAM_AUTH_ENV,
    DATABASE_SECRET_ARN_ENV,
    DATABASE_SSLMODE_ENV,
    DATABASE_SSLROOTCERT_ENV,
    DATABASE_URL_ENV,
    EVENT_STORE_TABLE_ENV,
    PROJECTION_SCHEMA_ENV,
)

from platform_infra.context import StackContext
from platform_infra.lambda_function import VpcConfig
from platform_infra.packaging import LambdaPackage
from platform_infra.platform_outputs import PlatformOutput, PlatformStack
from platform_infra.projection_exports import export_projection_service
from platform_infra.projection_service import LogLevel, ProjectionService, ProjectionServiceArgs
from platform_infra.tags import register_standard_tags

PROXY_PORT: Final = 5432
LAMBDA_CA_BUNDLE: Final = "/etc/pki/tls/certs/ca-bundle.crt"
"""The python3.12 runtime's trust store (Amazon Linux 2023): it holds the Amazon roots that sign
the RDS Proxy's certificate, so ``verify-full`` needs nothing shipped in the zip."""
DRIVER: Final = "postgresql+psycopg"


class ConfigKey(StrEnum):
    """This stack's optional config keys (``pulumi config set <key> <value>``)."""

    MAX_RECEIVE_COUNT = "maxReceiveCount"
    """Receives of a failing message before it moves to the dead-letter queue (default 5)."""
    BATCH_SIZE = "batchSize"
    MAXIMUM_CONCURRENCY = "maximumConcurrency"
    REPLAY_MAXIMUM_CONCURRENCY = "replayMaximumConcurrency"
    """Cap on concurrent replay batches (default: none; each replay partition is one group)."""
    REPLAY_PAGE_SIZE = "replayPageSize"
    """Events per replay page (default 100)."""
    OLDEST_MESSAGE_AGE_THRESHOLD_SECONDS = "oldestMessageAgeThresholdSeconds"
    SCHEMA = "schema"
    """The physical schema to write (default: the projection's), e.g. for a second copy in one
    database; rebuilds need no schema of their own (generations live side by side)."""
    ALARM_TOPIC_ARN = "alarmTopicArn"
    LOG_LEVEL = "logLevel"


@dataclass(frozen=True, slots=True)
class ProjectionBinding:
    """What a projection service's stack says about itself; everything else is shared."""

    projection: Projection[Any]
    schema: str
    service_name: str
    handler: str
    migration_handler: str


def projection_stack(package: LambdaPackage, binding: ProjectionBinding) -> ProjectionService:
    """Everything a projection service's stack deploys, reading the platform stack's outputs by
    reference: the one program every projection stack runs (its ``__main__`` builds the package
    and calls its binding of this)."""
    projection = binding.projection
    context = StackContext.from_pulumi(binding.service_name)
    register_standard_tags(context)
    config = pulumi.Config()
    platform = PlatformStack()
    schema = config.get(ConfigKey.SCHEMA) or binding.schema
    db_name = platform.string(PlatformOutput.DB_NAME)
    # The writer logs in through the proxy with an IAM token; the owner (migrations only)
    # connects to the instance directly with the master secret.
    writer_url = pulumi.Output.concat(
        f"{DRIVER}://{projection.writer_role}@",
        platform.string(PlatformOutput.DB_PROXY_ENDPOINT),
        f":{PROXY_PORT}/",
        db_name,
    )
    owner_url = pulumi.Output.concat(
        f"{DRIVER}://",
        platform.string(PlatformOutput.DB_MASTER_USERNAME),
        "@",
        platform.string(PlatformOutput.DB_INSTANCE_ADDRESS),
        ":",
        # Stack outputs carry numbers as JSON numbers, i.e. floats: 5432.0 is no port.
        platform.output(PlatformOutput.DB_INSTANCE_PORT).apply(lambda port: str(int(port))),
        "/",
        db_name,
    )
    alarm_topic = config.get(ConfigKey.ALARM_TOPIC_ARN)
    service = ProjectionService(
        projection.name,
        ProjectionServiceArgs(
            context=context,
            package=package,
            projection=projection.name,
            service_name=binding.service_name,
            handler=binding.handler,
            migration_handler=binding.migration_handler,
            aggregate_types=projection.aggregate_types,
            event_types=projection.event_types,
            bus_topic_arn=platform.string(PlatformOutput.EVENT_BUS_TOPIC_ARN),
            event_store_table_name=platform.string(PlatformOutput.EVENT_STORE_TABLE_NAME),
            event_store_table_arn=platform.string(PlatformOutput.EVENT_STORE_TABLE_ARN),
            vpc=VpcConfig(
                subnet_ids=platform.strings(PlatformOutput.PRIVATE_SUBNET_IDS),
                security_group_ids=[platform.string(PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID)],
            ),
            database_user_arn=pulumi.Output.concat(
                platform.string(PlatformOutput.DB_PROXY_USER_ARN_PREFIX),
                f"/{projection.writer_role}",
            ),
            migration_secret_arn=platform.string(PlatformOutput.DB_MASTER_SECRET_ARN),
            environment={
                DATABASE_URL_ENV: writer_url,
                DATABASE_IAM_AUTH_ENV: "true",
                DATABASE_SSLMODE_ENV: "verify-full",
                DATABASE_SSLROOTCERT_ENV: LAMBDA_CA_BUNDLE,
                EVENT_STORE_TABLE_ENV: platform.string(PlatformOutput.EVENT_STORE_TABLE_NAME),
                PROJECTION_SCHEMA_ENV: schema,
            },
            migration_environment={
                DATABASE_URL_ENV: owner_url,
                DATABASE_SECRET_ARN_ENV: platform.string(PlatformOutput.DB_MASTER_SECRET_ARN),
                # Encrypted but not verified: the instance's certificate chains to the RDS CA,
                # which is not in the runtime's trust store (the proxy's is).
                DATABASE_SSLMODE_ENV: "require",
                PROJECTION_SCHEMA_ENV: schema,
            },
            batch_size=_int(config, ConfigKey.BATCH_SIZE, 10),
            max_receive_count=_int(config, ConfigKey.MAX_RECEIVE_COUNT, 5),
            maximum_concurrency=config.get_int(ConfigKey.MAXIMUM_CONCURRENCY),
            replay_maximum_concurrency=config.get_int(ConfigKey.REPLAY_MAXIMUM_CONCURRENCY),
            replay_page_size=_int(config, ConfigKey.REPLAY_PAGE_SIZE, 100),
            oldest_message_age_threshold_seconds=_int(
                config, ConfigKey.OLDEST_MESSAGE_AGE_THRESHOLD_SECONDS, 300
            ),
            log_level=_log_level(config),
            alarm_actions=[alarm_topic] if alarm_topic else [],
        ),
    )
    export_projection_service(service)
    return service


def _int(config: pulumi.Config, key: ConfigKey, default: int) -> int:
    value = config.get_int(key)
    return default if value is None else value


def _log_level(config: pulumi.Config) -> LogLevel:
    value = (config.get(ConfigKey.LOG_LEVEL) or "INFO").upper()
    if value not in get_args(LogLevel):
        raise ValueError(f"{ConfigKey.LOG_LEVEL.value} must be one of {get_args(LogLevel)}")
    return cast(LogLevel, value)
