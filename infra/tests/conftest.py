"""Fixtures for the platform stack's tests: the real infra/platform_stack/__main__.py under
Pulumi mocks."""

from __future__ import annotations

import runpy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from platform_infra.platform_outputs import PLATFORM_PROJECT
from platform_infra.testing import RecordedStack, pulumi_harness, run_program  # noqa: F401

PROGRAM = Path(__file__).resolve().parents[1] / "platform_stack" / "__main__.py"


def run_platform(config: dict[str, str] | None = None, stack: str = "test") -> RecordedStack:
    return run_program(
        lambda: runpy.run_path(str(PROGRAM)), project=PLATFORM_PROJECT, stack=stack, config=config
    )


@pytest.fixture(scope="module")
def platform() -> Iterator[RecordedStack]:
    """The platform stack with its default configuration (shared by a module's tests)."""
    recorded = run_platform()
    yield recorded
    recorded.close()


@pytest.fixture
def deploy_platform() -> Iterator[Callable[..., RecordedStack]]:
    """Runs the platform stack with a given config; closes every run after the test."""
    runs: list[RecordedStack] = []

    def deploy(config: dict[str, str] | None = None, stack: str = "test") -> RecordedStack:
        runs.append(run_platform(config, stack))
        return runs[-1]

    yield deploy
    for recorded in runs:
        recorded.close()
