"""One call tags every taggable AWS resource of a stack; the stack's context names everything."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest
from platform_infra.context import DEFAULT_OWNER, DEFAULT_PROJECT, StackContext
from platform_infra.naming import ResourceKind
from platform_infra.tags import register_standard_tags
from platform_infra.testing import PulumiHarness

pytestmark = pytest.mark.pulumi

STANDARD = {"project": "cqrs", "stack": "test", "service": "command-api", "owner": "team-a"}


def test_the_context_comes_from_the_stack_and_its_config(pulumi_harness: PulumiHarness) -> None:
    seen: list[StackContext] = []
    pulumi_harness.run(
        lambda: seen.append(StackContext.from_pulumi("command-api")),
        project="command-api",
        stack="prod",
        config={"owner": "team-a", "project": "bank"},
    )
    assert seen == [
        StackContext(project="bank", stack="prod", service="command-api", owner="team-a")
    ]


def test_the_context_has_defaults_for_project_and_owner(pulumi_harness: PulumiHarness) -> None:
    seen: list[StackContext] = []
    pulumi_harness.run(lambda: seen.append(StackContext.from_pulumi("query-api")), stack="dev")
    assert seen[0].project == DEFAULT_PROJECT
    assert seen[0].owner == DEFAULT_OWNER


def test_the_context_names_resources_with_the_naming_function(context: StackContext) -> None:
    assert context.name("live", ResourceKind.SQS_FIFO_QUEUE) == "cqrs-test-command-api-live.fifo"


@pytest.mark.parametrize("owner", ["aws:platform", "a" * 257, "team<a>"])
def test_a_context_refuses_what_cannot_be_a_tag_value(owner: str) -> None:
    with pytest.raises(ValueError, match="tag value"):
        StackContext(project="cqrs", stack="dev", service="x", owner=owner)


def test_every_taggable_aws_resource_gets_the_standard_tags(
    pulumi_harness: PulumiHarness, context: StackContext
) -> None:
    def program() -> None:
        register_standard_tags(context)
        aws.sqs.Queue("plain")
        aws.sns.Topic("own-tags", tags={"cost-centre": "42"})
        aws.cloudwatch.LogGroup("output-tags", tags=pulumi.Output.from_input({"team": "b"}))
        role = aws.iam.Role("role", assume_role_policy="{}")
        aws.iam.RolePolicy("untaggable", role=role.id, policy="{}")

    stack = pulumi_harness.run(program)
    assert stack.one("aws:sqs/queue:Queue").inputs["tags"] == STANDARD
    assert stack.one("aws:sns/topic:Topic").inputs["tags"] == {**STANDARD, "cost-centre": "42"}
    assert stack.one("aws:cloudwatch/logGroup:LogGroup").inputs["tags"] == {**STANDARD, "team": "b"}
    assert stack.one("aws:iam/role:Role").inputs["tags"] == STANDARD
    assert "tags" not in stack.one("aws:iam/rolePolicy:RolePolicy").inputs


def test_a_resource_may_override_a_standard_tag(
    pulumi_harness: PulumiHarness, context: StackContext
) -> None:
    def program() -> None:
        register_standard_tags(context)
        aws.sqs.Queue("shared", tags={"owner": "team-b"})

    stack = pulumi_harness.run(program)
    assert stack.one("aws:sqs/queue:Queue").inputs["tags"]["owner"] == "team-b"


def test_resources_created_before_registering_are_not_tagged(
    pulumi_harness: PulumiHarness, context: StackContext
) -> None:
    def program() -> None:
        aws.sqs.Queue("early")
        register_standard_tags(context)

    stack = pulumi_harness.run(program)
    assert not stack.one("aws:sqs/queue:Queue").inputs.get("tags")


def test_tags_reach_resources_inside_components(
    pulumi_harness: PulumiHarness, context: StackContext
) -> None:
    class Holder(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("tests:index:Holder", name)
            aws.sqs.Queue(f"{name}-queue", opts=pulumi.ResourceOptions(parent=self))
            self.register_outputs({})

    def program() -> None:
        register_standard_tags(context)
        Holder("holder")

    stack = pulumi_harness.run(program)
    assert stack.one("aws:sqs/queue:Queue").inputs["tags"] == STANDARD
    assert stack.one("tests:index:Holder").inputs == {}
