"""The platform stack as a whole: outputs for services, tags, names, least privilege, config."""

from __future__ import annotations

import inspect
import re

import pulumi_aws as aws
import pytest
from platform_infra.platform_outputs import PlatformOutput
from platform_infra.testing import RecordedStack, assert_least_privilege, identity_statements

pytestmark = pytest.mark.pulumi

# Type token -> (input holding the AWS name, longest name AWS accepts, pattern AWS accepts).
NAME_LIMITS = {
    "aws:dynamodb/table:Table": ("name", 255, r"[a-zA-Z0-9_.\-]{3,}"),
    "aws:sns/topic:Topic": ("name", 256, r"[a-zA-Z0-9_\-]+\.fifo"),
    "aws:kms/alias:Alias": ("name", 256, r"alias/(?!aws/)[a-zA-Z0-9/_\-]+"),
    "aws:iam/role:Role": ("name", 64, r"[\w+=,.@\-]+"),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128, r"[\w+=,.@\-]+"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", 255, r"(?!sg-)[\w .\-:/()#,@\[\]+=&;{}!$*]+"),
    "aws:rds/instance:Instance": ("identifier", 63, r"[a-z](?:-?[a-z0-9]+)*"),
    "aws:rds/proxy:Proxy": ("name", 63, r"[a-zA-Z](?:-?[a-zA-Z0-9]+)*"),
    "aws:rds/parameterGroup:ParameterGroup": ("name", 255, r"[a-z](?:-?[a-z0-9]+)*"),
    "aws:rds/subnetGroup:SubnetGroup": ("name", 255, r"[a-z0-9 ._\-]+"),
}
STANDARD_TAGS = {"project", "stack", "service", "owner"}


def test_every_platform_output_is_exported(platform: RecordedStack) -> None:
    assert set(platform.outputs) == {output.value for output in PlatformOutput}
    assert all(value not in (None, "", []) for value in platform.outputs.values())
    assert platform.outputs["eventStoreStreamArn"].startswith(
        platform.outputs["eventStoreTableArn"]
    )
    assert platform.outputs["privateSubnetIds"] == [
        subnet.id for subnet in platform.of_type("aws:ec2/subnet:Subnet")
    ]


def accepts_tags(type_token: str) -> bool:
    """Whether the pulumi-aws resource of ``type_token`` has a ``tags`` argument."""
    _, path, class_name = type_token.split(":")
    module = path.split("/")[0]
    package = getattr(aws, module, None) or getattr(aws, f"{module}_")
    arguments = getattr(package, f"{class_name}Args")
    return "tags" in inspect.signature(arguments.__init__).parameters


def test_every_taggable_resource_carries_the_standard_tags(platform: RecordedStack) -> None:
    aws_resources = [r for r in platform.resources if r.type.startswith("aws:")]
    taggable = [r for r in aws_resources if accepts_tags(r.type)]
    assert len(taggable) > 20
    assert {r.type for r in aws_resources if not accepts_tags(r.type)} >= {
        "aws:iam/rolePolicy:RolePolicy"
    }
    for resource in taggable:
        tags = resource.inputs.get("tags") or {}
        assert set(tags) >= STANDARD_TAGS, f"{resource.type} {resource.name}"
        assert tags["service"] == "platform"
        assert tags["stack"] == "test"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"project": "a-rather-long-product-name-for-our-bank", "owner": "payments"},
    ],
)
def test_every_name_fits_its_aws_rule(deploy_platform, config: dict[str, str]) -> None:
    stack = deploy_platform(config, stack="production-eu-central-blue-green")
    named = [resource for resource in stack.resources if resource.type in NAME_LIMITS]
    assert {resource.type for resource in named} == set(NAME_LIMITS)
    for resource in named:
        key, limit, pattern = NAME_LIMITS[resource.type]
        name = resource.inputs[key]
        assert len(name) <= limit, f"{resource.type} {name}"
        assert re.fullmatch(pattern, name), f"{resource.type} {name}"


def test_no_iam_statement_has_a_wildcard_action_or_an_unscoped_resource(
    platform: RecordedStack,
) -> None:
    statements = identity_statements(platform)
    assert statements
    assert_least_privilege(statements)


def test_the_stack_creates_no_user_or_access_key(platform: RecordedStack) -> None:
    assert not [
        r for r in platform.resources if r.type.startswith(("aws:iam/user", "aws:iam/accessKey"))
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"vpcCidr": "10.0.0.0/8"}, "vpcCidr"),
        ({"availabilityZoneCount": "1"}, "availabilityZoneCount"),
        ({"interfaceEndpoints": '["https://sqs"]'}, "interfaceEndpoints"),
        ({"dbMasterUsername": "Admin-User"}, "dbMasterUsername"),
        ({"busThroughputScope": "Account"}, "busThroughputScope"),
    ],
)
def test_invalid_config_is_refused_before_anything_is_created(
    deploy_platform, config: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        deploy_platform(config)
