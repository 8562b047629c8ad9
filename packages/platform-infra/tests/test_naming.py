"""Every name fits the AWS rule of its kind, whatever the parts, and never changes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from platform_infra.naming import HASH_LENGTH, ResourceKind, resource_name

# What AWS accepts, written from the API references independently of the implementation:
# (maximum length, pattern of the whole name).
AWS_RULES: dict[ResourceKind, tuple[int, str]] = {
    ResourceKind.GENERIC: (256, r"[\w .:/=+\-@]+"),  # a tag value
    ResourceKind.LAMBDA_FUNCTION: (64, r"[a-zA-Z0-9\-_]+"),
    ResourceKind.IAM_ROLE: (64, r"[\w+=,.@-]+"),
    ResourceKind.IAM_POLICY: (128, r"[\w+=,.@-]+"),
    ResourceKind.SQS_QUEUE: (80, r"[a-zA-Z0-9\-_]+"),
    ResourceKind.SQS_FIFO_QUEUE: (80, r"[a-zA-Z0-9\-_]+\.fifo"),
    ResourceKind.SNS_TOPIC: (256, r"[a-zA-Z0-9\-_]+"),
    ResourceKind.SNS_FIFO_TOPIC: (256, r"[a-zA-Z0-9\-_]+\.fifo"),
    ResourceKind.DYNAMODB_TABLE: (255, r"[a-zA-Z0-9_.\-]{3,}"),
    ResourceKind.LOG_GROUP: (512, r"[\.\-_/#A-Za-z0-9]+"),
    ResourceKind.VENDED_LOG_GROUP: (512, r"/aws/vendedlogs/[\.\-_/#A-Za-z0-9]+"),
    ResourceKind.STATE_MACHINE: (80, r"[a-zA-Z0-9\-_]+"),
    ResourceKind.EVENT_RULE: (64, r"[\.\-_A-Za-z0-9]+"),
    ResourceKind.CLOUDWATCH_ALARM: (255, r"[^\x00-\x1f]+"),
    ResourceKind.HTTP_API: (128, r".+"),
    ResourceKind.SECURITY_GROUP: (255, r"(?!sg-)[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+"),
    ResourceKind.RDS_INSTANCE: (63, r"[a-z](?:-?[a-z0-9]+)*"),
    ResourceKind.RDS_CLUSTER: (63, r"[a-z](?:-?[a-z0-9]+)*"),
    ResourceKind.RDS_PROXY: (63, r"[a-zA-Z](?:-?[a-zA-Z0-9]+)*"),
    ResourceKind.RDS_PARAMETER_GROUP: (255, r"[a-z](?:-?[a-z0-9]+)*"),
    ResourceKind.RDS_SUBNET_GROUP: (255, r"[a-z0-9 ._\-]+"),
    ResourceKind.RDS_SNAPSHOT: (255, r"[a-z](?:-?[a-z0-9]+)*"),
    ResourceKind.KMS_ALIAS: (256, r"alias/(?!aws/)[a-zA-Z0-9/_\-]+"),
    ResourceKind.SECRETS_MANAGER: (512, r"[a-zA-Z0-9/_+=.@\-]+"),
}

part = st.text(min_size=1, max_size=120).filter(lambda text: re.search(r"[A-Za-z0-9]", text))
# Already sanitized (no hyphens to collapse), so different texts are different full names.
long_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=60, max_size=200)


def test_every_kind_has_an_independent_rule_in_this_test() -> None:
    assert set(AWS_RULES) == set(ResourceKind)


@given(project=part, stack=part, service=part, resource=part, kind=st.sampled_from(ResourceKind))
def test_a_name_always_fits_the_aws_rule_of_its_kind(
    project: str, stack: str, service: str, resource: str, kind: ResourceKind
) -> None:
    name = resource_name(project, stack, service, resource, kind)
    limit, pattern = AWS_RULES[kind]
    assert len(name) <= limit
    assert re.fullmatch(pattern, name), name


@given(project=part, stack=part, service=part, resource=part, kind=st.sampled_from(ResourceKind))
def test_a_name_is_deterministic(
    project: str, stack: str, service: str, resource: str, kind: ResourceKind
) -> None:
    assert resource_name(project, stack, service, resource, kind) == resource_name(
        project, stack, service, resource, kind
    )


@given(resource_a=long_part, resource_b=long_part)
def test_shortened_names_of_different_resources_differ(resource_a: str, resource_b: str) -> None:
    a = resource_name("cqrs", "prod", "projection-transactions", resource_a, ResourceKind.IAM_ROLE)
    b = resource_name("cqrs", "prod", "projection-transactions", resource_b, ResourceKind.IAM_ROLE)
    assert (a == b) == (resource_a == resource_b)


def test_a_name_that_fits_is_the_readable_join_of_its_parts() -> None:
    name = resource_name("cqrs", "dev", "command-api", "handler", ResourceKind.LAMBDA_FUNCTION)
    assert name == "cqrs-dev-command-api-handler"


def test_a_name_too_long_keeps_its_start_and_ends_with_a_hash_of_the_full_name() -> None:
    resource = "replay-enable-live-mapping-after-the-replay-queue-drained"
    name = resource_name("cqrs", "production", "projection-transactions", resource)
    assert len(name) <= 255  # fits as GENERIC
    role = resource_name(
        "cqrs", "production", "projection-transactions", resource, ResourceKind.IAM_ROLE
    )
    assert len(role) == 64
    assert role.startswith("cqrs-production-projection-transactions-replay")
    assert re.fullmatch(rf".+-[0-9a-f]{{{HASH_LENGTH}}}", role)


def test_fifo_names_end_in_fifo_within_the_limit_including_the_suffix() -> None:
    queue = resource_name(
        "cqrs", "prod", "projection-balances", "live", ResourceKind.SQS_FIFO_QUEUE
    )
    assert queue == "cqrs-prod-projection-balances-live.fifo"
    long_queue = resource_name(
        "cqrs", "prod", "projection-balances", "x" * 100, ResourceKind.SQS_FIFO_QUEUE
    )
    assert long_queue.endswith(".fifo")
    assert len(long_queue) == 80


def test_parts_are_lower_cased_and_reduced_to_letters_digits_and_hyphens() -> None:
    name = resource_name("CQRS", "Dev_1", "Command API", "handler!", ResourceKind.LAMBDA_FUNCTION)
    assert name == "cqrs-dev-1-command-api-handler"


def test_rds_identifiers_start_with_a_letter_even_when_the_project_does_not() -> None:
    name = resource_name("42", "dev", "platform", "db", ResourceKind.RDS_INSTANCE)
    assert name == "n42-dev-platform-db"


def test_security_group_names_never_start_with_sg() -> None:
    name = resource_name("sg", "dev", "platform", "functions", ResourceKind.SECURITY_GROUP)
    assert not name.startswith("sg-")


def test_log_groups_are_paths() -> None:
    assert (
        resource_name("cqrs", "dev", "command-api", "handler", ResourceKind.LOG_GROUP)
        == "/cqrs/dev/command-api/handler"
    )
    assert resource_name(
        "cqrs", "dev", "replay", "machine", ResourceKind.VENDED_LOG_GROUP
    ).startswith("/aws/vendedlogs/cqrs/")


@pytest.mark.parametrize("empty", ["", "---", "ééé", " "])
def test_a_part_without_any_letter_or_digit_is_refused(empty: str) -> None:
    with pytest.raises(ValueError, match="no ASCII letter or digit"):
        resource_name("cqrs", "dev", empty, "handler")
