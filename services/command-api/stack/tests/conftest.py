"""Fixtures: the command-api stack run under Pulumi mocks, with the platform stack's outputs
faked, exactly as ``pulumi up`` would run it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from command_api_stack.program import command_api_stack
from platform_infra.packaging import BuildTarget, LambdaPackage
from platform_infra.platform_outputs import platform_stack_name
from platform_infra.testing import (
    ORGANIZATION,
    PulumiHarness,
    RecordedStack,
    RecordingMocks,
    fake_platform_outputs,
    pulumi_harness,  # noqa: F401  (a pytest fixture)
)

PROJECT = "command-api"
STACK = "test"
API = "aws:apigatewayv2/api:Api"


class HttpApiMocks(RecordingMocks):
    """The kit's mocks, plus what API Gateway computes for an HTTP API."""

    def outputs_for(self, resource_type: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = super().outputs_for(resource_type, name, inputs)
        if resource_type == API:
            api_id = "a1b2c3d4e5"
            outputs |= {
                "apiEndpoint": f"https://{api_id}.execute-api.{self.region}.amazonaws.com",
                "executionArn": f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}",
            }
        return outputs


@pytest.fixture
def lambda_package(tmp_path: Path) -> LambdaPackage:
    """The package as the builder would describe it; under mocks nothing reads the zip."""
    path = tmp_path / "command-api.zip"
    path.write_bytes(b"not read under mocks")
    return LambdaPackage(
        member="command-api",
        path=path,
        sha256="ab" * 32,
        target=BuildTarget.lambda_arm64(),
        unzipped_bytes=1,
    )


@pytest.fixture
def platform_outputs() -> dict[str, Any]:
    return fake_platform_outputs()


@pytest.fixture
def deploy(
    pulumi_harness: PulumiHarness,  # noqa: F811
    lambda_package: LambdaPackage,
    platform_outputs: dict[str, Any],
) -> Callable[..., RecordedStack]:
    """``deploy(config={...})``: run the stack's program as ``pulumi up`` would."""

    def run(config: dict[str, str] | None = None) -> RecordedStack:
        platform = platform_stack_name(stack=STACK, organization=ORGANIZATION)
        mocks = HttpApiMocks(stack_outputs={platform: platform_outputs})
        return pulumi_harness.run(
            lambda: command_api_stack(lambda_package),
            project=PROJECT,
            stack=STACK,
            config=config,
            mocks=mocks,
        )

    return run
