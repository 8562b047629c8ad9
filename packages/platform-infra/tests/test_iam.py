"""Policy statements refuse wildcards when written, and the checks find them in any document."""

from __future__ import annotations

import json

import pulumi
import pytest
from platform_infra.iam import Statement, policy_document
from platform_infra.testing import (
    PulumiHarness,
    assert_least_privilege,
    least_privilege_violations,
    policy_statements,
    public_access_violations,
)

TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/events"


@pytest.mark.parametrize("action", ["*", "dynamodb:*", "dynamodb:Get*"])
def test_a_statement_refuses_wildcard_actions(action: str) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        Statement(actions=[action], resources=[TABLE])


def test_a_statement_refuses_every_resource_for_an_action_that_can_be_scoped() -> None:
    with pytest.raises(ValueError, match="can be scoped"):
        Statement(actions=["xray:PutTraceSegments", "dynamodb:Query"], resources=["*"])


def test_a_statement_allows_every_resource_only_where_aws_allows_nothing_else() -> None:
    statement = Statement(actions=["xray:PutTraceSegments"], resources=["*"])
    assert statement.as_input()["Resource"] == ["*"]


@pytest.mark.parametrize(
    ("actions", "resources"), [([], [TABLE]), (["dynamodb:Query"], []), ("dynamodb:Query", [TABLE])]
)
def test_a_statement_needs_listed_actions_and_resources(actions, resources) -> None:
    with pytest.raises((ValueError, TypeError)):
        Statement(actions=actions, resources=resources)


@pytest.mark.pulumi
def test_a_policy_document_resolves_outputs_into_stable_json(
    pulumi_harness: PulumiHarness,
) -> None:
    documents: list[pulumi.Output[str]] = []

    def program() -> None:
        table = pulumi.Output.from_input(TABLE)
        documents.append(
            policy_document(
                [
                    Statement(
                        sid="Read",
                        actions=["dynamodb:Query", "dynamodb:GetItem", "dynamodb:Query"],
                        resources=[table, pulumi.Output.concat(table, "/index/*")],
                        conditions={"StringEquals": {"aws:ResourceAccount": table.apply(len)}},
                    )
                ]
            )
        )

    stack = pulumi_harness.run(program)
    text = stack.resolve(documents[0])
    assert text is not None
    assert json.loads(text) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": [TABLE, f"{TABLE}/index/*"],
                "Condition": {"StringEquals": {"aws:ResourceAccount": len(TABLE)}},
            }
        ],
    }


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_the_checks_find_wildcard_actions_and_unscoped_resources() -> None:
    statements = policy_statements(
        document(
            {"Effect": "Allow", "Action": "*", "Resource": TABLE},
            {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*"},
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": TABLE},
        ),
        source="role policy",
    )
    problems = least_privilege_violations(statements)
    assert len(problems) == 4
    assert any("wildcard actions ['*']" in problem for problem in problems)
    assert any("['s3:Get*']" in problem for problem in problems)
    assert any("['dynamodb:Query'] on every resource" in problem for problem in problems)
    assert any("NotAction" in problem for problem in problems)
    with pytest.raises(AssertionError, match="least privilege broken"):
        assert_least_privilege(statements)


def test_the_checks_accept_scoped_allows_and_any_deny() -> None:
    statements = policy_statements(
        {
            "Statement": {
                "Effect": "Allow",
                "Action": ["dynamodb:Query", "xray:PutTraceSegments"],
                "Resource": TABLE,
            }
        }
    ) + policy_statements(document({"Effect": "Deny", "Action": "*", "Resource": "*"}))
    assert_least_privilege(statements)


def test_the_checks_allow_every_resource_only_for_unscopable_actions() -> None:
    statements = policy_statements(
        document(
            {
                "Effect": "Allow",
                "Action": ["ec2:DescribeNetworkInterfaces", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        )
    )
    assert least_privilege_violations(statements) == []


def test_public_access_is_an_allow_to_anyone_without_a_condition() -> None:
    statements = policy_statements(
        document(
            {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "t"},
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "sqs:Send", "Resource": "q"},
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": "q",
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": "q",
                "Condition": {"ArnEquals": {"aws:SourceArn": "t"}},
            },
            {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": "t"},
        )
    )
    assert len(public_access_violations(statements)) == 2
