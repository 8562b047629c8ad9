"""The platform stack's outputs: their names, written once, and typed access from service stacks.

``infra/__main__.py`` exports every ``PlatformOutput``; a service stack reads them with::

    platform = PlatformStack()
    table_name = platform.string(PlatformOutput.EVENT_STORE_TABLE_NAME)
    subnet_ids = platform.strings(PlatformOutput.PRIVATE_SUBNET_IDS)

``PlatformStack()`` references ``<organization>/platform/<this stack's name>`` (the platform stack
of the same environment) unless the service's config key ``platformStack`` names another one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, cast

import pulumi

PLATFORM_PROJECT: Final = "platform"
"""The Pulumi project name of infra/ (its Pulumi.yaml)."""
PLATFORM_SERVICE: Final = "platform"
"""The service part of the platform stack's resource names and tags."""
PLATFORM_STACK_CONFIG_KEY: Final = "platformStack"


class PlatformOutput(StrEnum):
    """Every output of the platform stack."""

    EVENT_STORE_TABLE_NAME = "eventStoreTableName"
    EVENT_STORE_TABLE_ARN = "eventStoreTableArn"
    EVENT_STORE_STREAM_ARN = "eventStoreStreamArn"
    EVENT_BUS_TOPIC_ARN = "eventBusTopicArn"
    EVENT_BUS_TOPIC_NAME = "eventBusTopicName"
    EVENT_BUS_KEY_ARN = "eventBusKeyArn"
    """Publishers need kms:GenerateDataKey and kms:Decrypt on it."""
    VPC_ID = "vpcId"
    PRIVATE_SUBNET_IDS = "privateSubnetIds"
    FUNCTIONS_SECURITY_GROUP_ID = "functionsSecurityGroupId"
    """The security group of every in-VPC function: reaches the endpoints, DynamoDB and the DB."""
    DATABASE_SECURITY_GROUP_ID = "databaseSecurityGroupId"
    PROXY_SECURITY_GROUP_ID = "proxySecurityGroupId"
    DB_INSTANCE_ADDRESS = "dbInstanceAddress"
    DB_INSTANCE_PORT = "dbInstancePort"
    DB_NAME = "dbName"
    DB_MASTER_USERNAME = "dbMasterUsername"
    DB_MASTER_SECRET_ARN = "dbMasterSecretArn"  # noqa: S105 - an output name, not a secret
    """The RDS-managed secret of the master user: for migrations only, connecting directly."""
    DB_PROXY_ENDPOINT = "dbProxyEndpoint"
    DB_PROXY_ARN = "dbProxyArn"
    DB_PROXY_USER_ARN_PREFIX = "dbProxyUserArnPrefix"
    """``arn:aws:rds-db:<region>:<account>:dbuser:prx-...``: append ``/<db user>`` for the
    resource of an ``rds-db:connect`` statement (IAM authentication through the proxy)."""


def platform_stack_name(stack: str | None = None, organization: str | None = None) -> str:
    """The fully qualified name of the platform stack (default: same stack name as this one)."""
    return (
        f"{organization or pulumi.get_organization()}/{PLATFORM_PROJECT}/"
        f"{stack or pulumi.get_stack()}"
    )


class PlatformStack:
    """The platform stack's outputs, read through one ``pulumi.StackReference``."""

    def __init__(self, name: str | None = None, opts: pulumi.ResourceOptions | None = None):
        self.name = name or pulumi.Config().get(PLATFORM_STACK_CONFIG_KEY) or platform_stack_name()
        self.reference = pulumi.StackReference(PLATFORM_PROJECT, stack_name=self.name, opts=opts)

    def output(self, key: PlatformOutput) -> pulumi.Output[Any]:
        """The output ``key``; the deployment fails if the platform stack lacks it."""
        return self.reference.require_output(key.value)

    def string(self, key: PlatformOutput) -> pulumi.Output[str]:
        return cast(pulumi.Output[str], self.output(key))

    def strings(self, key: PlatformOutput) -> pulumi.Output[list[str]]:
        return cast(pulumi.Output[list[str]], self.output(key))
