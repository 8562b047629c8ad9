"""The stack's wiring, as a function so that mock tests run exactly what ``pulumi up`` runs.

``__main__.py`` builds the function's package and calls ``query_api_stack``; tests call it with
a package description and the platform stack's outputs mocked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import cast, get_args

import pulumi
from platform_infra.context import StackContext
from platform_infra.http_api import HttpApiOptions
from platform_infra.packaging import LambdaPackage
from platform_infra.platform_outputs import PlatformOutput, PlatformStack
from platform_infra.tags import register_standard_tags
from query_api.settings import SERVICE_NAME

from query_api_stack.component import (
    DEFAULT_DATABASE_USER,
    DatabaseLogin,
    LogLevel,
    ProxyIamLogin,
    QueryApi,
    QueryApiArgs,
    SecretLogin,
)


class ConfigKey(StrEnum):
    """This stack's config keys (``pulumi config set <key> <value>``), besides the API's
    (``platform_infra.http_api.HttpApiConfigKey``: authorization, JWT, throttling)."""

    CURSOR_SIGNING_KEY = "cursorSigningKey"
    """Required, secret, at least 32 characters:
    ``pulumi config set --secret cursorSigningKey "$(openssl rand -base64 48)"``."""
    DATABASE_USER = "databaseUser"
    """The read-only database role (default ``query_reader``)."""
    DATABASE_SECRET_ARN = "databaseSecretArn"  # noqa: S105 - a config key, not a secret
    """Log in with this secret's password, directly to the instance, instead of an IAM token
    through the proxy (the default)."""
    TRACING = "tracing"
    MEMORY_MB = "memoryMb"
    RESERVED_CONCURRENCY = "reservedConcurrency"
    LOG_LEVEL = "logLevel"


class Export(StrEnum):
    API_ENDPOINT = "apiEndpoint"
    EXECUTION_ARN = "executionArn"
    """Callers need ``execute-api:Invoke`` on ``<executionArn>/*/GET/accounts*``."""
    FUNCTION_NAME = "functionName"


def query_api_stack(package: LambdaPackage) -> QueryApi:
    """Everything the stack deploys, reading the platform stack's outputs by reference."""
    context = StackContext.from_pulumi(SERVICE_NAME)
    register_standard_tags(context)
    config = pulumi.Config()
    platform = PlatformStack()
    api = QueryApi(
        "queries",
        QueryApiArgs(
            context=context,
            package=package,
            database=_database_login(config, platform),
            cursor_signing_key=config.require_secret(ConfigKey.CURSOR_SIGNING_KEY),
            subnet_ids=platform.strings(PlatformOutput.PRIVATE_SUBNET_IDS),
            security_group_ids=[platform.string(PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID)],
            api=HttpApiOptions.from_config(config),
            tracing=config.get_bool(ConfigKey.TRACING) or False,
            memory_mb=config.get_int(ConfigKey.MEMORY_MB) or 512,
            reserved_concurrency=config.get_int(ConfigKey.RESERVED_CONCURRENCY),
            log_level=_log_level(config),
        ),
    )
    pulumi.export(Export.API_ENDPOINT.value, api.endpoint)
    pulumi.export(Export.EXECUTION_ARN.value, api.execution_arn)
    pulumi.export(Export.FUNCTION_NAME.value, api.function_name)
    return api


def _database_login(config: pulumi.Config, platform: PlatformStack) -> DatabaseLogin:
    user = config.get(ConfigKey.DATABASE_USER) or DEFAULT_DATABASE_USER
    if not user.isidentifier():
        raise ValueError(f"{ConfigKey.DATABASE_USER.value} must be a plain database role name")
    database = platform.string(PlatformOutput.DB_NAME)
    secret_arn = config.get(ConfigKey.DATABASE_SECRET_ARN)
    if secret_arn:
        return SecretLogin(
            secret_arn=secret_arn,
            host=platform.string(PlatformOutput.DB_INSTANCE_ADDRESS),
            port=platform.output(PlatformOutput.DB_INSTANCE_PORT),
            database=database,
            user=user,
        )
    return ProxyIamLogin(
        proxy_endpoint=platform.string(PlatformOutput.DB_PROXY_ENDPOINT),
        database=database,
        user_arn_prefix=platform.string(PlatformOutput.DB_PROXY_USER_ARN_PREFIX),
        user=user,
    )


def _log_level(config: pulumi.Config) -> LogLevel:
    value = (config.get(ConfigKey.LOG_LEVEL) or "INFO").upper()
    if value not in get_args(LogLevel):
        raise ValueError(f"{ConfigKey.LOG_LEVEL.value} must be one of {get_args(LogLevel)}")
    return cast(LogLevel, value)
