"""A Lambda function with its own role, log group and nothing more than it was given.

The role gets exactly the statements passed in, plus what the function's own configuration needs:
writing to its own log group, X-Ray segments when tracing, network interfaces in the given subnets
and security groups when in a VPC, and sending to its on-failure destination. Runtime and
architecture come from the package, so the code and the function can never disagree::

    handler = LambdaFunction(
        "handler",
        LambdaFunctionArgs(
            context=context,
            package=build_lambda_package("command-api"),
            handler="command_api.handler.lambda_handler",
            statements=[Statement(["dynamodb:PutItem"], [table_arn])],
            environment={TABLE_NAME_ENV: table_name},
        ),
    )
    # handler.target_arn: what event source mappings and API integrations should invoke
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from platform_infra.context import StackContext
from platform_infra.iam import Statement, arn_prefix, policy_document, service_trust_policy
from platform_infra.naming import ResourceKind
from platform_infra.packaging import LambdaPackage

LIVE_ALIAS: Final = "live"
"""The alias that tracks the latest published version when versions are published."""

_SNAPSTART_MIN_PYTHON: Final = (3, 12)
_DESTINATION_ACTIONS: Final = {
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
    "lambda": "lambda:InvokeFunction",
    "events": "events:PutEvents",
}


@dataclass(frozen=True)
class VpcConfig:
    """Subnets and security groups of an in-VPC function (ids, or outputs of id lists)."""

    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]


@dataclass(frozen=True)
class FailureDestination:
    """Where asynchronous invocations that failed every retry are sent."""

    arn: pulumi.Input[str]
    service: Literal["sqs", "sns", "lambda", "events"]


@dataclass(frozen=True)
class LambdaFunctionArgs:
    context: StackContext
    package: LambdaPackage
    handler: str
    """``module.function``, e.g. ``command_api.handler.lambda_handler``."""
    statements: Sequence[Statement] = ()
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    memory_mb: int = 256
    timeout_seconds: int = 10
    log_retention_days: int = 30
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] = "INFO"
    reserved_concurrency: int | None = None
    """``None``: draw from the account's unreserved pool."""
    tracing: bool = False
    """Active X-Ray tracing."""
    snap_start: bool = False
    """Publish versions, SnapStart them, and point the ``live`` alias at the latest one."""
    vpc: VpcConfig | None = None
    on_failure: FailureDestination | None = None
    """For asynchronous invocations; stream and queue triggers configure theirs on the mapping."""
    maximum_retry_attempts: int | None = None
    """Retries of asynchronous invocations (0-2); ``None`` keeps Lambda's default of 2."""
    description: str | None = None


class LambdaFunction(pulumi.ComponentResource):
    """One Lambda function, its execution role, its role policy and its log group."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    alias: aws.lambda_.Alias | None
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    target_arn: pulumi.Output[str]
    """The ``live`` alias when versions are published, else the function: what to invoke."""
    invoke_arn: pulumi.Output[str]
    """For API Gateway integrations, matching ``target_arn``."""
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:platform:LambdaFunction", name, None, opts)
        target = args.package.target
        architecture = target.lambda_architecture
        if architecture is None:
            raise ValueError(f"{args.package.member} was built for this machine, not for Lambda")
        version = tuple(int(part) for part in target.python_version.split("."))
        if args.snap_start and version < _SNAPSTART_MIN_PYTHON:
            raise ValueError("SnapStart needs python3.12 or newer")
        context = args.context
        child = pulumi.ResourceOptions(parent=self)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=context.name(name, ResourceKind.LOG_GROUP),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=context.name(name, ResourceKind.IAM_ROLE),
            assume_role_policy=service_trust_policy("lambda.amazonaws.com"),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            name=context.name(name, ResourceKind.IAM_POLICY),
            role=self.role.id,
            policy=policy_document([*self._own_statements(args), *args.statements]),
            opts=child,
        )

        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=context.name(name, ResourceKind.LAMBDA_FUNCTION),
            description=args.description,
            role=self.role.arn,
            code=pulumi.FileArchive(str(args.package.path)),
            source_code_hash=args.package.source_code_hash,
            handler=args.handler,
            runtime=target.lambda_runtime,
            architectures=[architecture],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment=(
                aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment))
                if args.environment
                else None
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level=args.log_level,
                system_log_level="INFO",
            ),
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config=(
                aws.lambda_.FunctionTracingConfigArgs(mode="Active") if args.tracing else None
            ),
            publish=args.snap_start,
            snap_start=(
                aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions")
                if args.snap_start
                else None
            ),
            vpc_config=(
                aws.lambda_.FunctionVpcConfigArgs(
                    subnet_ids=args.vpc.subnet_ids,
                    security_group_ids=args.vpc.security_group_ids,
                )
                if args.vpc is not None
                else None
            ),
            # The function may start the moment it exists: its logs and permissions must too.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, self.log_group]),
        )

        self.alias = None
        self.target_arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        if args.snap_start:
            self.alias = aws.lambda_.Alias(
                f"{name}-live",
                name=LIVE_ALIAS,
                function_name=self.function.name,
                function_version=self.function.version,
                opts=child,
            )
            self.target_arn = self.alias.arn
            self.invoke_arn = self.alias.invoke_arn

        if args.on_failure is not None or args.maximum_retry_attempts is not None:
            aws.lambda_.FunctionEventInvokeConfig(
                f"{name}-async",
                function_name=self.function.name,
                qualifier=self.alias.name if self.alias is not None else None,
                maximum_retry_attempts=args.maximum_retry_attempts,
                destination_config=(
                    aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                        on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                            destination=args.on_failure.arn
                        )
                    )
                    if args.on_failure is not None
                    else None
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )

        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.role_arn = self.role.arn
        self.role_name = self.role.name
        self.log_group_name = self.log_group.name
        self.log_group_arn = self.log_group.arn
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "target_arn": self.target_arn,
                "invoke_arn": self.invoke_arn,
                "role_arn": self.role_arn,
                "role_name": self.role_name,
                "log_group_name": self.log_group_name,
                "log_group_arn": self.log_group_arn,
            }
        )

    def _own_statements(self, args: LambdaFunctionArgs) -> list[Statement]:
        """What the function's configuration needs, each scoped as tightly as AWS allows."""
        statements = [
            Statement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.arn.apply(lambda arn: f"{arn}:*")],
            )
        ]
        if args.tracing:
            statements.append(
                Statement(
                    sid="SendTraces",
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    resources=["*"],
                )
            )
        if args.vpc is not None:
            statements += self._network_interface_statements(args.vpc)
        if args.on_failure is not None:
            statements.append(
                Statement(
                    sid="SendFailedInvocations",
                    actions=[_DESTINATION_ACTIONS[args.on_failure.service]],
                    resources=[args.on_failure.arn],
                )
            )
        return statements

    def _network_interface_statements(self, vpc: VpcConfig) -> list[Statement]:
        # Lambda creates the function's network interfaces with the execution role. Describe*
        # only works on "*"; creating is scoped to our subnets and security groups; the rest to
        # network interfaces of this account and region.
        ec2 = arn_prefix("ec2", parent=self)
        interfaces = ec2.apply(lambda prefix: f"{prefix}:network-interface/*")
        placed_in = pulumi.Output.all(
            ec2, pulumi.Output.from_input(vpc.subnet_ids), vpc.security_group_ids
        ).apply(
            lambda parts: [
                *(f"{parts[0]}:subnet/{subnet}" for subnet in parts[1]),
                *(f"{parts[0]}:security-group/{group}" for group in parts[2]),
            ]
        )
        return [
            Statement(
                sid="DescribeNetworkInterfaces",
                actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                resources=["*"],
            ),
            Statement(
                sid="CreateNetworkInterfacesInOurSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=pulumi.Output.all(interfaces, placed_in).apply(
                    lambda parts: [parts[0], *parts[1]]
                ),
            ),
            Statement(
                sid="ManageNetworkInterfaces",
                actions=[
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=[interfaces],
            ),
        ]
