"""What the harness hands a service stack's tests: platform mocks, a package, HTTP API values."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from platform_infra.platform_outputs import PlatformOutput, PlatformStack
from platform_infra.testing import (
    ACCOUNT_ID,
    REGION,
    PulumiHarness,
    fake_lambda_package,
    fake_platform_outputs,
    platform_mocks,
)

pytestmark = pytest.mark.pulumi


def test_platform_mocks_answer_the_platform_stack_of_the_same_stack(
    pulumi_harness: PulumiHarness,
) -> None:
    def program() -> None:
        platform = PlatformStack()
        pulumi.export("table", platform.string(PlatformOutput.EVENT_STORE_TABLE_NAME))

    outputs = {**fake_platform_outputs(), PlatformOutput.EVENT_STORE_TABLE_NAME.value: "mine"}
    stack = pulumi_harness.run(
        program, project="svc", stack="dev", mocks=platform_mocks(outputs, stack="dev")
    )
    default = pulumi_harness.run(program, project="svc", mocks=platform_mocks())

    assert stack.outputs["table"] == "mine"
    assert default.outputs["table"] == fake_platform_outputs()["eventStoreTableName"]


def test_an_http_api_gets_an_endpoint_and_an_execution_arn(pulumi_harness: PulumiHarness) -> None:
    stack = pulumi_harness.run(
        lambda: aws.apigatewayv2.Api("api", name="api", protocol_type="HTTP")
    )

    outputs = stack.one("aws:apigatewayv2/api:Api").outputs
    api_id = outputs["apiEndpoint"].removeprefix("https://").split(".")[0]
    assert outputs["apiEndpoint"] == f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
    assert outputs["executionArn"] == f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}"


def test_a_fake_lambda_package_is_an_arm64_package_with_a_zip(tmp_path: Path) -> None:
    package = fake_lambda_package(tmp_path, "query-api")

    assert package.member == "query-api"
    assert package.path == tmp_path / "query-api.zip"
    assert package.path.is_file()
    assert package.target.lambda_architecture == "arm64"
