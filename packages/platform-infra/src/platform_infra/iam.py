"""IAM policy statements as typed values, checked for least privilege when they are written.

A ``Statement`` refuses wildcard actions, and refuses ``"*"`` as a resource unless every one of its
actions is one AWS does not let you scope to a resource (``UNSCOPED_ACTIONS``). Resources may be
Pulumi outputs (ARNs of resources being created); ``policy_document`` resolves them into the JSON
text a role policy takes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

POLICY_VERSION: Final = "2012-10-17"

LOG_DELIVERY_ACTIONS: Final = frozenset(
    {
        # What a Step Functions role needs to deliver its execution logs to CloudWatch Logs
        # (docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html); CloudWatch Logs' delivery
        # API has no resource-level permissions.
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

UNSCOPED_ACTIONS: Final = LOG_DELIVERY_ACTIONS | frozenset(
    {
        # AWS documents these as supporting only "Resource": "*" (no resource-level permissions).
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcs",
        "cloudwatch:PutMetricData",
    }
)
"""Actions for which ``"Resource": "*"`` is the tightest scope AWS allows."""


@dataclass(frozen=True)
class Statement:
    """One ``Allow`` statement of an identity policy."""

    actions: Sequence[str]
    resources: pulumi.Input[Sequence[pulumi.Input[str]]]
    """ARNs; an output of a list (e.g. subnet ids from a stack reference, mapped to ARNs) too."""
    sid: str | None = None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``{"StringEquals": {"cloudwatch:namespace": "cqrs"}}``; values may be outputs."""

    def __post_init__(self) -> None:
        if isinstance(self.actions, str):
            raise TypeError("actions is a list of actions, not one string")
        if not self.actions:
            raise ValueError("a statement needs at least one action")
        if isinstance(self.resources, str):
            raise TypeError("resources is a list of ARNs, not one string")
        if isinstance(self.resources, Sequence) and not self.resources:
            raise ValueError("a statement needs at least one resource")
        wildcards = [action for action in self.actions if "*" in action]
        if wildcards:
            raise ValueError(f"wildcard actions are not allowed: {wildcards}")
        listed = self.resources if isinstance(self.resources, Sequence) else ()
        if any(isinstance(resource, str) and resource == "*" for resource in listed):
            unscopable = set(self.actions) - UNSCOPED_ACTIONS
            if unscopable:
                raise ValueError(
                    f'"Resource": "*" for actions that can be scoped: {sorted(unscopable)}'
                )

    def as_input(self) -> dict[str, Any]:
        """The statement in policy JSON vocabulary, its values possibly still outputs."""
        document: dict[str, Any] = {
            "Effect": "Allow",
            "Action": sorted(set(self.actions)),
            "Resource": self.resources,
        }
        if self.sid is not None:
            document["Sid"] = self.sid
        if self.conditions:
            document["Condition"] = {key: dict(value) for key, value in self.conditions.items()}
        return document


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The JSON policy document of ``statements`` (stable key order, so no spurious diffs)."""
    if not statements:
        raise ValueError("a policy needs at least one statement")
    resolved = pulumi.Output.from_input([statement.as_input() for statement in statements])
    return resolved.apply(
        lambda items: json.dumps({"Version": POLICY_VERSION, "Statement": items}, sort_keys=True)
    )


def service_trust_policy(service_principal: str) -> str:
    """The trust policy letting an AWS service (``lambda.amazonaws.com``) assume a role."""
    return json.dumps(
        {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service_principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        sort_keys=True,
    )


def arn_prefix(service: str, *, parent: pulumi.Resource | None = None) -> pulumi.Output[str]:
    """``arn:<partition>:<service>:<region>:<account>``, for ARNs of resources we do not create.

    ``parent`` lets the lookups use the provider of a component.
    """
    opts = pulumi.InvokeOutputOptions(parent=parent)
    return pulumi.Output.all(
        aws.get_partition_output(opts=opts).partition,
        aws.get_region_output(opts=opts).region,
        aws.get_caller_identity_output(opts=opts).account_id,
    ).apply(lambda parts: f"arn:{parts[0]}:{service}:{parts[1]}:{parts[2]}")
