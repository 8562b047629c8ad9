"""Fixtures: the projection-balances stack run under Pulumi mocks, with the platform stack's
outputs faked, exactly as ``pulumi up`` would run it."""

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
from projection_balances_stack.program import projection_balances_stack

PROJECT = "projection-balances"
STACK = "test"


@pytest.fixture
def lambda_package(tmp_path: Path) -> LambdaPackage:
    """The package as the builder would describe it; under mocks nothing reads the zip."""
    path = tmp_path / "projection-balances.zip"
    path.write_bytes(b"not read under mocks")
    return LambdaPackage(
        member="projection-balances",
        path=path,
        sha256="ef" * 32,
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
        mocks = RecordingMocks(stack_outputs={platform: platform_outputs})
        return pulumi_harness.run(
            lambda: projection_balances_stack(lambda_package),
            project=PROJECT,
            stack=STACK,
            config=config,
            mocks=mocks,
        )

    return run
