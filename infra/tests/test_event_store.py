"""The event store table: the layout of platform_events, streamed, recoverable, protected."""

from __future__ import annotations

import pytest
from platform_infra.testing import RecordedStack
from platform_stack.event_store import table_layout_args

from platform_events import layout

pytestmark = pytest.mark.pulumi

TABLE = "aws:dynamodb/table:Table"


def test_the_table_is_keyed_and_indexed_exactly_as_the_layout_says(platform: RecordedStack) -> None:
    table = platform.one(TABLE).inputs
    schema = layout.event_store_key_schema()
    assert table["hashKey"] == layout.PARTITION_KEY.value
    assert table["rangeKey"] == layout.SORT_KEY.value
    assert sorted((a["name"], a["type"]) for a in table["attributes"]) == sorted(
        (a["AttributeName"], a["AttributeType"]) for a in schema["AttributeDefinitions"]
    )
    (index,) = table["globalSecondaryIndexes"]
    (expected,) = schema["GlobalSecondaryIndexes"]
    assert index["name"] == layout.REPLAY_INDEX_NAME
    assert [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]] == [
        (k["AttributeName"], k["KeyType"]) for k in expected["KeySchema"]
    ]
    assert index["projectionType"] == expected["Projection"]["ProjectionType"]
    assert table["billingMode"] == "PAY_PER_REQUEST"


def test_the_table_streams_new_images(platform: RecordedStack) -> None:
    table = platform.one(TABLE).inputs
    assert table["streamEnabled"] is True
    assert table["streamViewType"] == "NEW_IMAGE"


def test_the_table_has_point_in_time_recovery(platform: RecordedStack) -> None:
    assert platform.one(TABLE).inputs["pointInTimeRecovery"] == {"enabled": True}


def test_the_table_has_deletion_protection(platform: RecordedStack) -> None:
    assert platform.one(TABLE).inputs["deletionProtectionEnabled"] is True


def test_the_table_is_encrypted_with_kms(platform: RecordedStack) -> None:
    assert platform.one(TABLE).inputs["serverSideEncryption"]["enabled"] is True


def test_idempotency_records_expire_through_the_layouts_ttl_attribute(
    platform: RecordedStack,
) -> None:
    assert platform.one(TABLE).inputs["ttl"] == {
        "attributeName": layout.TTL_ATTRIBUTE.value,
        "enabled": True,
    }


def test_a_layout_setting_the_translation_does_not_know_is_refused() -> None:
    schema = {**layout.event_store_key_schema(), "LocalSecondaryIndexes": []}
    with pytest.raises(ValueError, match="LocalSecondaryIndexes"):
        table_layout_args(schema)


def test_deletion_protection_can_be_turned_off_for_a_teardown(deploy_platform) -> None:
    stack = deploy_platform({"deletionProtection": "false"})
    assert stack.one(TABLE).inputs["deletionProtectionEnabled"] is False
    assert stack.one("aws:rds/instance:Instance").inputs["deletionProtection"] is False
