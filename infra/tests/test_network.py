"""The network: private subnets in two zones, endpoints instead of a NAT, least-open security
groups."""

from __future__ import annotations

import pytest
from platform_infra.testing import RecordedStack

pytestmark = pytest.mark.pulumi

SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def group_id(stack: RecordedStack, role: str) -> str:
    return stack.one("aws:ec2/securityGroup:SecurityGroup", f"network-{role}").id


def test_private_subnets_span_two_availability_zones(platform: RecordedStack) -> None:
    subnets = [subnet.inputs for subnet in platform.of_type(SUBNET)]
    assert len(subnets) == 2
    assert len({subnet["availabilityZone"] for subnet in subnets}) == 2
    assert all(subnet["mapPublicIpOnLaunch"] is False for subnet in subnets)
    vpc = platform.one("aws:ec2/vpc:Vpc").inputs
    assert vpc["enableDnsSupport"] is True
    assert vpc["enableDnsHostnames"] is True


def test_nothing_in_the_vpc_can_reach_the_internet(platform: RecordedStack) -> None:
    for type_token in (
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/route:Route",
    ):
        assert not platform.of_type(type_token), type_token
    assert not [
        r for r in platform.of_type("aws:ec2/routeTable:RouteTable") if r.inputs.get("routes")
    ]


def test_dynamodb_is_reached_through_a_gateway_endpoint(platform: RecordedStack) -> None:
    (gateway,) = [
        e.inputs for e in platform.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"
    ]
    assert gateway["serviceName"] == "com.amazonaws.eu-west-1.dynamodb"
    route_table = platform.one("aws:ec2/routeTable:RouteTable")
    assert gateway["routeTableIds"] == [route_table.id]
    associations = platform.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    assert {a.inputs["subnetId"] for a in associations} == {s.id for s in platform.of_type(SUBNET)}


def test_aws_apis_are_reached_through_interface_endpoints_with_private_dns(
    platform: RecordedStack,
) -> None:
    interfaces = [
        e.inputs for e in platform.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"
    ]
    services = {endpoint["serviceName"].rsplit(".", 1)[-1] for endpoint in interfaces}
    assert services == {"secretsmanager", "sqs", "sns", "states", "logs", "monitoring"}
    subnet_ids = sorted(subnet.id for subnet in platform.of_type(SUBNET))
    for endpoint in interfaces:
        assert endpoint["privateDnsEnabled"] is True
        assert sorted(endpoint["subnetIds"]) == subnet_ids
        assert endpoint["securityGroupIds"] == [group_id(platform, "endpoints")]


def test_no_security_group_admits_an_address_range(platform: RecordedStack) -> None:
    for rule in platform.of_type(INGRESS) + platform.of_type(EGRESS):
        assert not rule.inputs.get("cidrIpv4"), rule.name
        assert not rule.inputs.get("cidrIpv6"), rule.name
    for group in platform.of_type("aws:ec2/securityGroup:SecurityGroup"):
        assert not group.inputs.get("ingress")
        assert not group.inputs.get("egress")


def test_the_database_accepts_postgres_only_from_the_functions_and_the_proxy(
    platform: RecordedStack,
) -> None:
    database = group_id(platform, "database")
    rules = [r.inputs for r in platform.of_type(INGRESS) if r.inputs["securityGroupId"] == database]
    assert {(r["fromPort"], r["toPort"], r["ipProtocol"]) for r in rules} == {(5432, 5432, "tcp")}
    assert {r["referencedSecurityGroupId"] for r in rules} == {
        group_id(platform, "functions"),
        group_id(platform, "db-proxy"),
    }


def test_the_proxy_accepts_postgres_only_from_the_functions(platform: RecordedStack) -> None:
    proxy = group_id(platform, "db-proxy")
    rules = [r.inputs for r in platform.of_type(INGRESS) if r.inputs["securityGroupId"] == proxy]
    assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in rules] == [
        (5432, group_id(platform, "functions"))
    ]


def test_functions_may_only_call_the_endpoints_dynamodb_and_the_database(
    platform: RecordedStack,
) -> None:
    functions = group_id(platform, "functions")
    rules = [r.inputs for r in platform.of_type(EGRESS) if r.inputs["securityGroupId"] == functions]
    targets = {
        (r["fromPort"], r.get("referencedSecurityGroupId") or r.get("prefixListId")) for r in rules
    }
    gateway = next(
        e for e in platform.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"
    )
    assert targets == {
        (443, group_id(platform, "endpoints")),
        (443, gateway.outputs["prefixListId"]),
        (5432, group_id(platform, "db-proxy")),
        (5432, group_id(platform, "database")),
    }


def test_zones_and_endpoints_follow_the_config(deploy_platform) -> None:
    stack = deploy_platform({"availabilityZoneCount": "3", "interfaceEndpoints": '["sqs"]'})
    assert len({s.inputs["availabilityZone"] for s in stack.of_type(SUBNET)}) == 3
    interfaces = [e for e in stack.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    assert [e.inputs["serviceName"] for e in interfaces] == ["com.amazonaws.eu-west-1.sqs"]
    assert len(stack.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]) == 3
