"""The projection database: private, encrypted, TLS only, passwords nobody handles."""

from __future__ import annotations

import json

import pytest
from platform_infra.testing import RecordedStack

pytestmark = pytest.mark.pulumi

INSTANCE = "aws:rds/instance:Instance"
PROXY = "aws:rds/proxy:Proxy"


def test_the_database_is_not_publicly_accessible(platform: RecordedStack) -> None:
    instance = platform.one(INSTANCE).inputs
    assert instance["publiclyAccessible"] is False
    assert instance["vpcSecurityGroupIds"] == [
        platform.one("aws:ec2/securityGroup:SecurityGroup", "network-database").id
    ]
    subnet_group = platform.one("aws:rds/subnetGroup:SubnetGroup")
    assert instance["dbSubnetGroupName"] == subnet_group.outputs["name"]
    assert sorted(subnet_group.inputs["subnetIds"]) == sorted(
        subnet.id for subnet in platform.of_type("aws:ec2/subnet:Subnet")
    )


def test_the_database_is_encrypted_at_rest(platform: RecordedStack) -> None:
    assert platform.one(INSTANCE).inputs["storageEncrypted"] is True


def test_the_master_password_is_managed_by_secrets_manager(platform: RecordedStack) -> None:
    instance = platform.one(INSTANCE)
    assert instance.inputs["manageMasterUserPassword"] is True
    assert "password" not in instance.inputs
    assert instance.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert (
        platform.outputs["dbMasterSecretArn"]
        == instance.outputs["masterUserSecrets"][0]["secretArn"]
    )


def test_the_parameter_group_forces_tls(platform: RecordedStack) -> None:
    group = platform.one("aws:rds/parameterGroup:ParameterGroup")
    assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"} in group.inputs[
        "parameters"
    ]
    assert group.inputs["family"] == "postgres16"
    assert platform.one(INSTANCE).inputs["parameterGroupName"] == group.outputs["name"]


def test_the_database_keeps_backups_and_a_final_snapshot(platform: RecordedStack) -> None:
    instance = platform.one(INSTANCE).inputs
    assert instance["backupRetentionPeriod"] >= 1
    assert instance["skipFinalSnapshot"] is False
    assert instance["finalSnapshotIdentifier"]
    assert instance["deletionProtection"] is True


def test_the_proxy_requires_tls_and_iam_authentication_end_to_end(platform: RecordedStack) -> None:
    proxy = platform.one(PROXY).inputs
    assert proxy["requireTls"] is True
    assert proxy["defaultAuthScheme"] == "IAM_AUTH"
    assert proxy["engineFamily"] == "POSTGRESQL"
    assert proxy["vpcSecurityGroupIds"] == [
        platform.one("aws:ec2/securityGroup:SecurityGroup", "network-db-proxy").id
    ]
    target = platform.one("aws:rds/proxyTarget:ProxyTarget").inputs
    assert target["dbInstanceIdentifier"] == platform.one(INSTANCE).inputs["identifier"]


def test_the_proxy_may_connect_to_its_own_instance_only(platform: RecordedStack) -> None:
    role = platform.one("aws:iam/role:Role", "projection-database-proxy-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "rds.amazonaws.com"}
    policy = json.loads(platform.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    (statement,) = policy["Statement"]
    resource_id = platform.one(INSTANCE).outputs["resourceId"]
    assert statement["Action"] == ["rds-db:connect"]
    assert statement["Resource"] == [
        f"arn:aws:rds-db:eu-west-1:123456789012:dbuser:{resource_id}/*"
    ]


def test_services_get_the_iam_resource_prefix_of_the_proxy(platform: RecordedStack) -> None:
    proxy_id = platform.outputs["dbProxyArn"].rsplit(":", 1)[-1]
    assert proxy_id.startswith("prx-")
    assert platform.outputs["dbProxyUserArnPrefix"] == (
        f"arn:aws:rds-db:eu-west-1:123456789012:dbuser:{proxy_id}"
    )


def test_database_settings_follow_the_config(deploy_platform) -> None:
    stack = deploy_platform(
        {"dbEngineVersion": "17.2", "dbInstanceClass": "db.r7g.large", "dbMultiAz": "true"}
    )
    instance = stack.one(INSTANCE).inputs
    assert instance["engineVersion"] == "17.2"
    assert instance["instanceClass"] == "db.r7g.large"
    assert instance["multiAz"] is True
    assert stack.one("aws:rds/parameterGroup:ParameterGroup").inputs["family"] == "postgres17"
