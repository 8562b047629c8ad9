"""The event bus: SNS FIFO, deduplicated by the ids publishers set, encrypted, account-only."""

from __future__ import annotations

import json

import pytest
from platform_infra.testing import (
    ACCOUNT_ID,
    RecordedStack,
    public_access_violations,
    resource_policy_statements,
)

pytestmark = pytest.mark.pulumi

TOPIC = "aws:sns/topic:Topic"


def test_the_bus_is_a_fifo_topic(platform: RecordedStack) -> None:
    topic = platform.one(TOPIC).inputs
    assert topic["fifoTopic"] is True
    assert topic["name"].endswith(".fifo")


def test_deduplication_is_by_the_event_id_not_the_content(platform: RecordedStack) -> None:
    assert platform.one(TOPIC).inputs["contentBasedDeduplication"] is False


def test_throughput_is_scoped_per_message_group(platform: RecordedStack) -> None:
    assert platform.one(TOPIC).inputs["fifoThroughputScope"] == "MessageGroup"


def test_the_bus_is_encrypted_with_its_own_rotating_key(platform: RecordedStack) -> None:
    key = platform.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert platform.one(TOPIC).inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert platform.one("aws:kms/alias:Alias").inputs["name"].startswith("alias/cqrs-test-")


def test_the_topic_policy_denies_other_accounts_and_plain_http(platform: RecordedStack) -> None:
    topic_arn = platform.one(TOPIC).outputs["arn"]
    policy = json.loads(platform.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["DenyOtherAccounts"]["Effect"] == "Deny"
    assert by_sid["DenyOtherAccounts"]["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": ACCOUNT_ID}
    }
    assert by_sid["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert by_sid["OwnerAccountUsesTheBus"]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"
    }
    assert {statement["Resource"] for statement in policy["Statement"]} == {topic_arn}


def test_no_resource_policy_of_the_platform_is_open_to_anyone(platform: RecordedStack) -> None:
    statements = resource_policy_statements(platform)
    assert statements
    assert public_access_violations(statements) == []
    allowed = [s for s in statements if s.effect == "Allow"]
    assert all("*" not in action for statement in allowed for action in statement.actions)
