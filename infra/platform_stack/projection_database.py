"""The projection database: RDS PostgreSQL behind an RDS Proxy, private, encrypted, TLS only.

Services connect to the proxy with IAM authentication (``rds-db:connect`` on
``<dbProxyUserArnPrefix>/<db user>``) and the proxy connects to the instance with IAM too
(end-to-end IAM authentication), so no service ever holds a database password and adding a
projection never touches this stack. The master user's password is generated, stored and rotated
by RDS in Secrets Manager; only migrations use it, connecting to the instance directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.iam import Statement, arn_prefix, policy_document, service_trust_policy
from platform_infra.naming import ResourceKind

PORT: Final = 5432


@dataclass(frozen=True)
class ProjectionDatabaseArgs:
    context: StackContext
    subnet_ids: Sequence[pulumi.Input[str]]
    database_security_group_id: pulumi.Input[str]
    proxy_security_group_id: pulumi.Input[str]
    engine_version: str = "16"
    instance_class: str = "db.t4g.micro"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    multi_az: bool = False
    backup_retention_days: int = 7
    deletion_protection: bool = True
    db_name: str = "projections"
    master_username: str = "platform_owner"


class ProjectionDatabase(pulumi.ComponentResource):
    """The read models' PostgreSQL instance and the proxy in front of it."""

    instance: aws.rds.Instance
    proxy: aws.rds.Proxy
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    master_secret_arn: pulumi.Output[str]
    proxy_endpoint: pulumi.Output[str]
    proxy_arn: pulumi.Output[str]
    proxy_user_arn_prefix: pulumi.Output[str]

    def __init__(
        self, name: str, args: ProjectionDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:platform:ProjectionDatabase", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        major = args.engine_version.split(".")[0]

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=context.name("db", ResourceKind.RDS_SUBNET_GROUP),
            subnet_ids=list(args.subnet_ids),
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters",
            name=context.name(f"db-postgres{major}", ResourceKind.RDS_PARAMETER_GROUP),
            family=f"postgres{major}",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
            ],
            opts=child,
        )
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=context.name("db", ResourceKind.RDS_INSTANCE),
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            publicly_accessible=False,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.database_security_group_id],
            parameter_group_name=parameters.name,
            port=PORT,
            db_name=args.db_name,
            username=args.master_username,
            manage_master_user_password=True,
            iam_database_authentication_enabled=True,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=context.name("db-final", ResourceKind.RDS_SNAPSHOT),
            auto_minor_version_upgrade=True,
            opts=child,
        )

        # The proxy's own identity: IAM authentication to the instance as any of its users.
        proxy_role = aws.iam.Role(
            f"{name}-proxy-role",
            name=context.name("db-proxy", ResourceKind.IAM_ROLE),
            assume_role_policy=service_trust_policy("rds.amazonaws.com"),
            opts=child,
        )
        rds_db = arn_prefix("rds-db", parent=self)
        proxy_policy = aws.iam.RolePolicy(
            f"{name}-proxy-policy",
            name=context.name("db-proxy", ResourceKind.IAM_POLICY),
            role=proxy_role.id,
            policy=policy_document(
                [
                    Statement(
                        sid="ConnectToTheInstance",
                        actions=["rds-db:connect"],
                        resources=[
                            pulumi.Output.concat(
                                rds_db, ":dbuser:", self.instance.resource_id, "/*"
                            )
                        ],
                    )
                ]
            ),
            opts=child,
        )
        self.proxy = aws.rds.Proxy(
            f"{name}-proxy",
            name=context.name("db", ResourceKind.RDS_PROXY),
            engine_family="POSTGRESQL",
            role_arn=proxy_role.arn,
            default_auth_scheme="IAM_AUTH",
            require_tls=True,
            vpc_subnet_ids=list(args.subnet_ids),
            vpc_security_group_ids=[args.proxy_security_group_id],
            idle_client_timeout=1800,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[proxy_policy]),
        )
        target_group = aws.rds.ProxyDefaultTargetGroup(
            f"{name}-proxy-pool",
            db_proxy_name=self.proxy.name,
            connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
                # Headroom for the master user (migrations) connecting directly.
                max_connections_percent=90,
                max_idle_connections_percent=50,
                connection_borrow_timeout=30,
            ),
            opts=child,
        )
        aws.rds.ProxyTarget(
            f"{name}-proxy-target",
            db_proxy_name=self.proxy.name,
            target_group_name=target_group.name,
            db_instance_identifier=self.instance.identifier,
            opts=child,
        )

        self.address = self.instance.address
        self.port = self.instance.port
        self.master_secret_arn = self.instance.master_user_secrets.apply(_master_secret_arn)
        self.proxy_endpoint = self.proxy.endpoint
        self.proxy_arn = self.proxy.arn
        self.proxy_user_arn_prefix = self.proxy.arn.apply(proxy_user_arn_prefix)
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "master_secret_arn": self.master_secret_arn,
                "proxy_endpoint": self.proxy_endpoint,
                "proxy_arn": self.proxy_arn,
                "proxy_user_arn_prefix": self.proxy_user_arn_prefix,
            }
        )


def proxy_user_arn_prefix(proxy_arn: str) -> str:
    """``arn:aws:rds:r:a:db-proxy:prx-x`` -> ``arn:aws:rds-db:r:a:dbuser:prx-x``."""
    parts = proxy_arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] != "db-proxy":
        raise ValueError(f"not an RDS proxy ARN: {proxy_arn}")
    return f"arn:{parts[1]}:rds-db:{parts[3]}:{parts[4]}:dbuser:{parts[6]}"


def _master_secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret] | None) -> str:
    if not secrets or not secrets[0].secret_arn:
        raise ValueError("RDS reported no managed master user secret")
    return secrets[0].secret_arn
