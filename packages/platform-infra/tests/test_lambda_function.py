"""The Lambda component: arm64, the package's runtime, its own logs, and no permission to spare."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pytest
from platform_infra.context import StackContext
from platform_infra.iam import Statement
from platform_infra.lambda_function import (
    LIVE_ALIAS,
    FailureDestination,
    LambdaFunction,
    LambdaFunctionArgs,
    VpcConfig,
)
from platform_infra.packaging import BuildTarget, LambdaPackage
from platform_infra.testing import (
    PulumiHarness,
    RecordedStack,
    assert_least_privilege,
    identity_statements,
)

pytestmark = pytest.mark.pulumi

TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/events"
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def deploy(
    harness: PulumiHarness, args: LambdaFunctionArgs, exports: bool = False
) -> RecordedStack:
    def program() -> None:
        function = LambdaFunction("handler", args)
        if exports:
            for key in ("function_name", "function_arn", "target_arn", "invoke_arn"):
                pulumi.export(key, getattr(function, key))
            for key in ("role_arn", "role_name", "log_group_name", "log_group_arn"):
                pulumi.export(key, getattr(function, key))

    return harness.run(program, project="command-api")


def statements_by_sid(stack: RecordedStack) -> dict[str, list[str]]:
    policy = json.loads(stack.one(ROLE_POLICY).inputs["policy"])
    return {statement.get("Sid", ""): statement["Action"] for statement in policy["Statement"]}


@pytest.fixture
def args(context: StackContext, lambda_package: LambdaPackage) -> LambdaFunctionArgs:
    return LambdaFunctionArgs(
        context=context,
        package=lambda_package,
        handler="command_api.handler.lambda_handler",
        statements=[Statement(sid="AppendEvents", actions=["dynamodb:PutItem"], resources=[TABLE])],
        environment={"EVENT_STORE_TABLE": "events"},
    )


def test_the_function_runs_the_package_on_arm64_with_its_runtime(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    stack = deploy(pulumi_harness, args)
    function = stack.one(FUNCTION).inputs
    assert function["architectures"] == ["arm64"]
    assert function["runtime"] == "python3.12"
    assert function["handler"] == "command_api.handler.lambda_handler"
    assert function["sourceCodeHash"] == args.package.source_code_hash
    assert function["environment"] == {"variables": {"EVENT_STORE_TABLE": "events"}}
    assert function["name"] == "cqrs-test-command-api-handler"
    assert "reservedConcurrentExecutions" not in function
    assert "tracingConfig" not in function
    assert "vpcConfig" not in function


def test_the_function_logs_to_its_own_log_group_with_retention(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    stack = deploy(pulumi_harness, dataclasses.replace(args, log_retention_days=14))
    log_group = stack.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert log_group["retentionInDays"] == 14
    assert stack.one(FUNCTION).inputs["loggingConfig"]["logGroup"] == log_group["name"]
    policy = json.loads(stack.one(ROLE_POLICY).inputs["policy"])
    (logs,) = [s for s in policy["Statement"] if s.get("Sid") == "WriteOwnLogs"]
    assert logs["Resource"] == [
        f"arn:aws:logs:eu-west-1:123456789012:log-group:{log_group['name']}:*"
    ]


def test_the_role_has_only_the_given_statements_and_its_own_log_writes(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    stack = deploy(pulumi_harness, args)
    assert statements_by_sid(stack) == {
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "AppendEvents": ["dynamodb:PutItem"],
    }
    assert len(stack.of_type(ROLE_POLICY)) == 1
    assert not stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    trust = json.loads(stack.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert_least_privilege(identity_statements(stack))


def test_vpc_permissions_come_only_with_a_vpc_and_are_scoped_to_its_subnets_and_groups(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    def program() -> None:
        # Subnet ids arrive as one output of a list when read from the platform stack.
        vpc = VpcConfig(
            subnet_ids=pulumi.Output.from_input(["subnet-a", "subnet-b"]),
            security_group_ids=["sg-functions"],
        )
        LambdaFunction("handler", dataclasses.replace(args, vpc=vpc))

    stack = pulumi_harness.run(program)
    function = stack.one(FUNCTION).inputs
    assert function["vpcConfig"] == {
        "subnetIds": ["subnet-a", "subnet-b"],
        "securityGroupIds": ["sg-functions"],
    }
    policy = json.loads(stack.one(ROLE_POLICY).inputs["policy"])
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    ec2 = "arn:aws:ec2:eu-west-1:123456789012"
    assert resources["CreateNetworkInterfacesInOurSubnets"] == [
        f"{ec2}:network-interface/*",
        f"{ec2}:subnet/subnet-a",
        f"{ec2}:subnet/subnet-b",
        f"{ec2}:security-group/sg-functions",
    ]
    assert resources["ManageNetworkInterfaces"] == [f"{ec2}:network-interface/*"]
    assert resources["DescribeNetworkInterfaces"] == ["*"]
    assert_least_privilege(identity_statements(stack))


def test_tracing_reserved_concurrency_and_failure_destination(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    dlq = "arn:aws:sqs:eu-west-1:123456789012:handler-failures"
    stack = deploy(
        pulumi_harness,
        dataclasses.replace(
            args,
            tracing=True,
            reserved_concurrency=5,
            on_failure=FailureDestination(arn=dlq, service="sqs"),
            maximum_retry_attempts=0,
        ),
    )
    function = stack.one(FUNCTION).inputs
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["reservedConcurrentExecutions"] == 5
    invoke_config = stack.one(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
    ).inputs
    assert invoke_config["destinationConfig"] == {"onFailure": {"destination": dlq}}
    assert invoke_config["maximumRetryAttempts"] == 0
    sids = statements_by_sid(stack)
    assert sids["SendTraces"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    assert sids["SendFailedInvocations"] == ["sqs:SendMessage"]
    assert_least_privilege(identity_statements(stack))


def test_snapstart_publishes_versions_behind_the_live_alias(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    stack = deploy(pulumi_harness, dataclasses.replace(args, snap_start=True), exports=True)
    function = stack.one(FUNCTION).inputs
    assert function["publish"] is True
    assert function["snapStart"] == {"applyOn": "PublishedVersions"}
    alias = stack.one("aws:lambda/alias:Alias").inputs
    assert alias == {
        "name": LIVE_ALIAS,
        "functionName": function["name"],
        "functionVersion": "1",
    }
    assert stack.outputs["target_arn"].endswith(f":function:{function['name']}:{LIVE_ALIAS}")
    assert stack.outputs["function_arn"].endswith(f":function:{function['name']}")


def test_the_component_exposes_what_services_wire_to(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    stack = deploy(pulumi_harness, args, exports=True)
    assert stack.outputs["function_name"] == "cqrs-test-command-api-handler"
    assert stack.outputs["target_arn"] == stack.outputs["function_arn"]
    assert stack.outputs["invoke_arn"].endswith(f"{stack.outputs['function_arn']}/invocations")
    assert stack.outputs["role_name"] == "cqrs-test-command-api-handler"
    assert (
        stack.outputs["role_arn"] == "arn:aws:iam::123456789012:role/cqrs-test-command-api-handler"
    )
    assert stack.outputs["log_group_name"] == "/cqrs/test/command-api/handler"


def test_every_child_belongs_to_the_component(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    stack = deploy(pulumi_harness, dataclasses.replace(args, snap_start=True, tracing=True))
    children = [r for r in stack.resources if r.type != "cqrs:platform:LambdaFunction"]
    assert len(children) == 5
    for child in children:
        assert "::cqrs:platform:LambdaFunction$" in stack.urn_of(child)


def test_names_stay_within_limits_for_long_service_and_function_names(
    pulumi_harness: PulumiHarness, lambda_package: LambdaPackage
) -> None:
    context = StackContext(
        project="cqrs", stack="production-eu", service="projection-transactions", owner="team"
    )
    args = LambdaFunctionArgs(context=context, package=lambda_package, handler="m.h")

    def program() -> None:
        LambdaFunction("replay-enable-live-mapping-after-drain", args)

    stack = pulumi_harness.run(program)
    assert len(stack.one(FUNCTION).inputs["name"]) <= 64
    assert len(stack.one("aws:iam/role:Role").inputs["name"]) <= 64
    assert len(stack.one(ROLE_POLICY).inputs["name"]) <= 128


def test_a_package_built_for_this_machine_is_refused(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    host = dataclasses.replace(args.package, target=BuildTarget.host())
    with pytest.raises(ValueError, match="not for Lambda"):
        deploy(pulumi_harness, dataclasses.replace(args, package=host))


def test_snapstart_needs_a_runtime_that_supports_it(
    pulumi_harness: PulumiHarness, args: LambdaFunctionArgs
) -> None:
    old = dataclasses.replace(args.package, target=BuildTarget.lambda_arm64("3.11"))
    with pytest.raises(ValueError, match="SnapStart"):
        deploy(pulumi_harness, dataclasses.replace(args, package=old, snap_start=True))
