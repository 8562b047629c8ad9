"""Fixtures for platform_infra tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from platform_infra.context import StackContext
from platform_infra.packaging import LambdaPackage
from platform_infra.testing import (
    fake_lambda_package,
    pulumi_harness,  # noqa: F401  (a pytest fixture)
)


@pytest.fixture
def context() -> StackContext:
    return StackContext(project="cqrs", stack="test", service="command-api", owner="team-a")


@pytest.fixture
def lambda_package(tmp_path: Path) -> LambdaPackage:
    """A package as the builder would describe it; under mocks nothing reads the zip."""
    return fake_lambda_package(tmp_path, "command-api")
