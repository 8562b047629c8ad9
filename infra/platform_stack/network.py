"""The network in-VPC functions and the database live in: private subnets only, no NAT.

Functions reach DynamoDB through a gateway endpoint and the AWS APIs they call through interface
endpoints; nothing in the VPC can reach the internet. Security groups allow exactly the flows we
use: functions -> endpoints (443), functions -> DynamoDB (443, its prefix list), functions ->
proxy and database (5432), proxy -> database (5432). Groups are created without inline rules (so
the provider removes AWS's default allow-all egress) and each flow is a rule resource of its own.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
from platform_infra.context import StackContext
from platform_infra.naming import ResourceKind

HTTPS: Final = 443
POSTGRES: Final = 5432
_SUBNET_BITS: Final = 4
"""Each private subnet is 1/16 of the VPC (a /20 of a /16): room for Lambda and proxy ENIs."""


@dataclass(frozen=True)
class NetworkArgs:
    context: StackContext
    cidr_block: str
    availability_zone_count: int
    interface_endpoints: Sequence[str]
    """Service names (``sqs``, ``secretsmanager``): ``com.amazonaws.<region>.<name>``."""


class Network(pulumi.ComponentResource):
    """The VPC, its private subnets, endpoints and security groups."""

    vpc: aws.ec2.Vpc
    subnets: list[aws.ec2.Subnet]
    functions_security_group: aws.ec2.SecurityGroup
    endpoints_security_group: aws.ec2.SecurityGroup
    proxy_security_group: aws.ec2.SecurityGroup
    database_security_group: aws.ec2.SecurityGroup
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cqrs:platform:Network", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[
                aws.GetAvailabilityZonesFilterArgs(
                    name="opt-in-status", values=["opt-in-not-required"]
                )
            ],
            opts=invoke,
        ).names

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            # Interface endpoints with private DNS need both.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": context.name("vpc")},
            opts=child,
        )
        blocks = list(ipaddress.ip_network(args.cidr_block).subnets(prefixlen_diff=_SUBNET_BITS))
        self.subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(blocks[index]),
                availability_zone=zones.apply(functools.partial(_zone, index=index)),
                map_public_ip_on_launch=False,
                tags={"Name": context.name(f"private-{index}")},
                opts=child,
            )
            for index in range(args.availability_zone_count)
        ]
        route_table = aws.ec2.RouteTable(
            f"{name}-private-routes",
            vpc_id=self.vpc.id,
            tags={"Name": context.name("private")},
            opts=child,
        )
        for index, subnet in enumerate(self.subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}-routes",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )

        def group(role: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{role}",
                name=context.name(role, ResourceKind.SECURITY_GROUP),
                description=description,
                vpc_id=self.vpc.id,
                tags={"Name": context.name(role)},
                opts=child,
            )

        self.functions_security_group = group("functions", "In-VPC Lambda functions")
        self.endpoints_security_group = group("endpoints", "Interface VPC endpoints")
        self.proxy_security_group = group("db-proxy", "RDS Proxy of the projection database")
        self.database_security_group = group("database", "Projection database instance")

        dynamodb = aws.ec2.VpcEndpoint(
            f"{name}-dynamodb",
            vpc_id=self.vpc.id,
            service_name=region.apply(functools.partial(_service_name, service="dynamodb")),
            vpc_endpoint_type="Gateway",
            route_table_ids=[route_table.id],
            tags={"Name": context.name("dynamodb")},
            opts=child,
        )
        subnet_ids = [subnet.id for subnet in self.subnets]
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=region.apply(functools.partial(_service_name, service=service)),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[self.endpoints_security_group.id],
                tags={"Name": context.name(service)},
                opts=child,
            )

        functions = self.functions_security_group.id
        endpoints = self.endpoints_security_group.id
        proxy = self.proxy_security_group.id
        database = self.database_security_group.id
        for rule, port, source, target in (
            ("functions-to-endpoints", HTTPS, functions, endpoints),
            ("functions-to-proxy", POSTGRES, functions, proxy),
            # Direct connections are for migrations, which run as the master user with its
            # Secrets Manager password; the services' own roles connect through the proxy.
            ("functions-to-database", POSTGRES, functions, database),
            ("proxy-to-database", POSTGRES, proxy, database),
        ):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{rule}-out",
                security_group_id=source,
                referenced_security_group_id=target,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=rule,
                opts=child,
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{rule}-in",
                security_group_id=target,
                referenced_security_group_id=source,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=rule,
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-functions-to-dynamodb-out",
            security_group_id=functions,
            prefix_list_id=dynamodb.prefix_list_id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            description="functions-to-dynamodb",
            opts=child,
        )

        self.vpc_id = self.vpc.id
        self.private_subnet_ids = pulumi.Output.all(*subnet_ids)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "functions_security_group_id": functions,
                "proxy_security_group_id": proxy,
                "database_security_group_id": database,
            }
        )


def _zone(names: Sequence[str], index: int) -> str:
    if index >= len(names):
        raise ValueError(f"the region has {len(names)} availability zones, {index + 1} requested")
    return names[index]


def _service_name(region: str, service: str) -> str:
    return f"com.amazonaws.{region}.{service}"
