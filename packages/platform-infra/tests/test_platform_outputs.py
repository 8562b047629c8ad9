"""Service stacks read the platform's outputs through one typed StackReference."""

from __future__ import annotations

import pytest
from platform_infra.platform_outputs import (
    PLATFORM_PROJECT,
    PlatformOutput,
    PlatformStack,
    platform_stack_name,
)
from platform_infra.testing import PulumiHarness, RecordingMocks, fake_platform_outputs

pytestmark = pytest.mark.pulumi


def test_the_platform_stack_of_the_same_environment_is_referenced_by_default(
    pulumi_harness: PulumiHarness,
) -> None:
    names: list[str] = []
    values: dict[str, object] = {}
    mocks = RecordingMocks(stack_outputs={"organization/platform/prod": fake_platform_outputs()})

    def program() -> None:
        platform = PlatformStack()
        names.append(platform.name)
        values["table"] = platform.string(PlatformOutput.EVENT_STORE_TABLE_NAME)
        values["subnets"] = platform.strings(PlatformOutput.PRIVATE_SUBNET_IDS)

    stack = pulumi_harness.run(program, project="command-api", stack="prod", mocks=mocks)
    assert names == [f"organization/{PLATFORM_PROJECT}/prod"]
    assert stack.resolve(values["table"]) == "cqrs-test-platform-events"
    assert stack.resolve(values["subnets"]) == ["subnet-0a", "subnet-0b"]
    assert stack.one("pulumi:pulumi:StackReference").id == "organization/platform/prod"


def test_config_can_point_a_service_at_another_platform_stack(
    pulumi_harness: PulumiHarness,
) -> None:
    names: list[str] = []

    def program() -> None:
        names.append(PlatformStack().name)
        names.append(platform_stack_name(stack="staging", organization="acme"))

    pulumi_harness.run(
        program, project="command-api", config={"platformStack": "acme/platform/shared"}
    )
    assert names == ["acme/platform/shared", "acme/platform/staging"]


def test_the_fake_outputs_cover_every_platform_output() -> None:
    assert set(fake_platform_outputs()) == {output.value for output in PlatformOutput}
