"""Fixtures: the stream-relay stack run under Pulumi mocks, with the platform stack's outputs faked,
exactly as ``pulumi up`` would run it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from platform_infra.packaging import LambdaPackage
from platform_infra.testing import (
    PulumiHarness,
    RecordedStack,
    fake_lambda_package,
    platform_mocks,
    platform_outputs,  # noqa: F401  (a pytest fixture)
    pulumi_harness,  # noqa: F401  (a pytest fixture)
)
from stream_relay_stack.program import stream_relay_stack

PROJECT = "stream-relay"


@pytest.fixture
def lambda_package(tmp_path: Path) -> LambdaPackage:
    """The package as the builder would describe it; under mocks nothing reads the zip."""
    return fake_lambda_package(tmp_path, "stream-relay", sha256="cd" * 32)


@pytest.fixture
def deploy(
    pulumi_harness: PulumiHarness,  # noqa: F811
    lambda_package: LambdaPackage,
    platform_outputs: dict[str, object],  # noqa: F811
) -> Callable[..., RecordedStack]:
    """``deploy(config={...})``: run the stack's program as ``pulumi up`` would."""

    def run(config: dict[str, str] | None = None) -> RecordedStack:
        return pulumi_harness.run(
            lambda: stream_relay_stack(lambda_package),
            project=PROJECT,
            config=config,
            mocks=platform_mocks(platform_outputs),
        )

    return run
