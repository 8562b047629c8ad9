"""Physical names of AWS resources: one function, so no name is ever written by hand.

``resource_name(project, stack, service, resource, kind)`` joins the four parts, lower-cased and
reduced to ``[a-z0-9-]``, and fits the result to the rules of ``kind`` (length, prefix, ``.fifo``
suffix, letter first). A name that is too long keeps its readable start and ends with a short hash
of the full name, so it stays deterministic and distinct from its siblings::

    resource_name("cqrs", "dev", "command-api", "handler", ResourceKind.LAMBDA_FUNCTION)
    # 'cqrs-dev-command-api-handler'
    resource_name("cqrs", "dev", "balances", "live", ResourceKind.SQS_FIFO_QUEUE)
    # 'cqrs-dev-balances-live.fifo'

This module has no Pulumi dependency, so it can be used (and property-tested) anywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

HASH_LENGTH: Final = 8
"""Hex digits of the SHA-256 of the full name appended to a shortened name (32 bits)."""

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as the name of one kind of resource."""

    max_length: int
    """Including ``prefix`` and ``suffix``."""
    prefix: str = ""
    suffix: str = ""
    separator: str = "-"
    letter_first: bool = False
    reserved_prefixes: tuple[str, ...] = ()
    """Name starts AWS refuses (e.g. ``sg-`` for security groups); such a name gets a letter in
    front."""


class ResourceKind(StrEnum):
    """The kinds of resources we name, each with its AWS naming rule (see ``rule``)."""

    GENERIC = "generic"
    """Anything without a stricter rule, e.g. the ``Name`` tag of a VPC (tag values: 256)."""
    LAMBDA_FUNCTION = "lambda-function"
    IAM_ROLE = "iam-role"
    IAM_POLICY = "iam-policy"
    SQS_QUEUE = "sqs-queue"
    SQS_FIFO_QUEUE = "sqs-fifo-queue"
    SNS_TOPIC = "sns-topic"
    SNS_FIFO_TOPIC = "sns-fifo-topic"
    DYNAMODB_TABLE = "dynamodb-table"
    LOG_GROUP = "log-group"
    VENDED_LOG_GROUP = "vended-log-group"
    """Log groups written by AWS services (Step Functions, API Gateway access logs): AWS advises
    the ``/aws/vendedlogs/`` prefix so one resource policy covers them all."""
    STATE_MACHINE = "state-machine"
    EVENT_RULE = "event-rule"
    CLOUDWATCH_ALARM = "cloudwatch-alarm"
    HTTP_API = "http-api"
    SECURITY_GROUP = "security-group"
    RDS_INSTANCE = "rds-instance"
    RDS_CLUSTER = "rds-cluster"
    RDS_PROXY = "rds-proxy"
    RDS_PARAMETER_GROUP = "rds-parameter-group"
    RDS_SUBNET_GROUP = "rds-subnet-group"
    RDS_SNAPSHOT = "rds-snapshot"
    KMS_ALIAS = "kms-alias"
    SECRETS_MANAGER = "secrets-manager"

    @property
    def rule(self) -> NameRule:
        return _RULES[self]


# Limits from the AWS API references (CreateFunction, CreateRole, CreateQueue, CreateTopic,
# CreateTable, CreateLogGroup, CreateStateMachine, PutRule, PutMetricAlarm, CreateApi,
# CreateSecurityGroup, CreateDBInstance/Cluster/Proxy/ParameterGroup/SubnetGroup, CreateAlias,
# CreateSecret). Every rule also accepts [a-z0-9-], which is all we ever emit between the affixes.
_RULES: Final[dict[ResourceKind, NameRule]] = {
    ResourceKind.GENERIC: NameRule(max_length=255),
    ResourceKind.LAMBDA_FUNCTION: NameRule(max_length=64),
    ResourceKind.IAM_ROLE: NameRule(max_length=64),
    ResourceKind.IAM_POLICY: NameRule(max_length=128),
    ResourceKind.SQS_QUEUE: NameRule(max_length=80),
    ResourceKind.SQS_FIFO_QUEUE: NameRule(max_length=80, suffix=".fifo"),
    ResourceKind.SNS_TOPIC: NameRule(max_length=256),
    ResourceKind.SNS_FIFO_TOPIC: NameRule(max_length=256, suffix=".fifo"),
    ResourceKind.DYNAMODB_TABLE: NameRule(max_length=255),
    ResourceKind.LOG_GROUP: NameRule(max_length=512, prefix="/", separator="/"),
    ResourceKind.VENDED_LOG_GROUP: NameRule(
        max_length=512, prefix="/aws/vendedlogs/", separator="/"
    ),
    ResourceKind.STATE_MACHINE: NameRule(max_length=80),
    ResourceKind.EVENT_RULE: NameRule(max_length=64),
    ResourceKind.CLOUDWATCH_ALARM: NameRule(max_length=255),
    ResourceKind.HTTP_API: NameRule(max_length=128),
    ResourceKind.SECURITY_GROUP: NameRule(max_length=255, reserved_prefixes=("sg-",)),
    ResourceKind.RDS_INSTANCE: NameRule(max_length=63, letter_first=True),
    ResourceKind.RDS_CLUSTER: NameRule(max_length=63, letter_first=True),
    ResourceKind.RDS_PROXY: NameRule(max_length=63, letter_first=True),
    ResourceKind.RDS_PARAMETER_GROUP: NameRule(max_length=255, letter_first=True),
    ResourceKind.RDS_SUBNET_GROUP: NameRule(max_length=255),
    ResourceKind.RDS_SNAPSHOT: NameRule(max_length=255, letter_first=True),
    ResourceKind.KMS_ALIAS: NameRule(max_length=256, prefix="alias/"),
    ResourceKind.SECRETS_MANAGER: NameRule(max_length=512),
}


def resource_name(
    project: str,
    stack: str,
    service: str,
    resource: str,
    kind: ResourceKind = ResourceKind.GENERIC,
) -> str:
    """The physical name of ``resource`` of ``service`` in ``stack`` of ``project``.

    Deterministic, valid for ``kind`` and never longer than its limit. Raises ``ValueError`` when a
    part has no ASCII letter or digit at all.
    """
    rule = kind.rule
    parts = [
        _sanitize(value, label)
        for label, value in (
            ("project", project),
            ("stack", stack),
            ("service", service),
            ("resource", resource),
        )
    ]
    body = rule.separator.join(parts)
    if (rule.letter_first and not body[0].isalpha()) or body.startswith(rule.reserved_prefixes):
        # A fixed letter in front keeps the name deterministic and readable.
        body = f"n{body}"
    budget = rule.max_length - len(rule.prefix) - len(rule.suffix)
    if len(body) > budget:
        digest = hashlib.sha256(body.encode()).hexdigest()[:HASH_LENGTH]
        head = body[: budget - HASH_LENGTH - 1].rstrip("-/")
        body = f"{head}-{digest}"
    return f"{rule.prefix}{body}{rule.suffix}"


def _sanitize(value: str, label: str) -> str:
    cleaned = _NOT_ALLOWED.sub("-", value.lower()).strip("-")
    if not cleaned:
        raise ValueError(f"{label} {value!r} has no ASCII letter or digit to name a resource by")
    return cleaned
