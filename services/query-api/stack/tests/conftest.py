"""Fixtures: the stack run under Pulumi mocks, with the platform stack's outputs faked."""

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
from query_api.settings import MEMBER
from query_api_stack.program import query_api_stack

PROJECT = "query-api"
SIGNING_KEY = "a-cursor-signing-key-of-48-characters-for-tests!"


@pytest.fixture
def lambda_package(tmp_path: Path) -> LambdaPackage:
    """The package as the builder would describe it; under mocks nothing reads the zip."""
    return fake_lambda_package(tmp_path, MEMBER)


@pytest.fixture
def deploy(
    pulumi_harness: PulumiHarness,  # noqa: F811
    lambda_package: LambdaPackage,
    platform_outputs: dict[str, object],  # noqa: F811
) -> Callable[..., RecordedStack]:
    """``deploy(config={...})``: run the stack's program as ``pulumi up`` would, with the
    required cursor signing key unless the config sets it (``None`` leaves it out)."""

    def run(config: dict[str, str | None] | None = None) -> RecordedStack:
        merged = {"cursorSigningKey": SIGNING_KEY, **(config or {})}
        return pulumi_harness.run(
            lambda: query_api_stack(lambda_package),
            project=PROJECT,
            config={key: value for key, value in merged.items() if value is not None},
            mocks=platform_mocks(platform_outputs),
        )

    return run


@pytest.fixture
def signing_key() -> str:
    """The cursor signing key ``deploy`` configures."""
    return SIGNING_KEY
