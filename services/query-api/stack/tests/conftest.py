"""Fixtures: the stack run under Pulumi mocks, with the platform stack's outputs faked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
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
from query_api.settings import MEMBER
from query_api_stack.program import query_api_stack

PROJECT = "query-api"
STACK = "test"
SIGNING_KEY = "a-cursor-signing-key-of-48-characters-for-tests!"
API = "aws:apigatewayv2/api:Api"


class HttpApiMocks(RecordingMocks):
    """The kit's mocks, plus what API Gateway computes for an HTTP API."""

    def outputs_for(self, resource_type: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = super().outputs_for(resource_type, name, inputs)
        if resource_type == API:
            api_id = "q1r2s3t4u5"
            outputs |= {
                "apiEndpoint": f"https://{api_id}.execute-api.{self.region}.amazonaws.com",
                "executionArn": f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}",
            }
        return outputs


@pytest.fixture
def lambda_package(tmp_path: Path) -> LambdaPackage:
    """The package as the builder would describe it; under mocks nothing reads the zip."""
    path = tmp_path / f"{MEMBER}.zip"
    path.write_bytes(b"not read under mocks")
    return LambdaPackage(
        member=MEMBER,
        path=path,
        sha256="ab" * 32,
        target=BuildTarget.lambda_arm64(),
        unzipped_bytes=1,
    )


@pytest.fixture
def platform_outputs() -> dict[str, object]:
    return fake_platform_outputs()


@pytest.fixture
def deploy(
    pulumi_harness: PulumiHarness,  # noqa: F811
    lambda_package: LambdaPackage,
    platform_outputs: dict[str, object],
) -> Callable[..., RecordedStack]:
    """``deploy(config={...})``: run the stack's program as ``pulumi up`` would, with the
    required cursor signing key unless the config sets it (``None`` leaves it out)."""

    def run(config: dict[str, str | None] | None = None) -> RecordedStack:
        merged = {"cursorSigningKey": SIGNING_KEY, **(config or {})}
        platform = platform_stack_name(stack=STACK, organization=ORGANIZATION)
        mocks = HttpApiMocks(stack_outputs={platform: platform_outputs})
        return pulumi_harness.run(
            lambda: query_api_stack(lambda_package),
            project=PROJECT,
            stack=STACK,
            config={key: value for key, value in merged.items() if value is not None},
            mocks=mocks,
        )

    return run


@pytest.fixture
def signing_key() -> str:
    """The cursor signing key ``deploy`` configures."""
    return SIGNING_KEY
