"""Every stack of the system under Pulumi mocks, wired to each other as ``pulumi up`` wires them.

The platform stack (``infra/platform_stack/__main__.py``) runs first; each service stack then
reads the platform's *recorded* outputs through its ``PlatformStack`` reference, so the ARNs in
a service's policies are the very ARNs of the platform's resources (not independent fakes), and a
cross-cutting check can follow any ARN back to the resource and stack that made it::

    with deployed_stacks(tmp_path) as stacks:
        for name, stack in stacks.items():  # "platform", "command-api", ...
            ...
        stacks.function_statements()  # every function's role policy, by function name
"""

from __future__ import annotations

import contextlib
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from command_api.settings import MEMBER as COMMAND_API_MEMBER
from command_api_stack.program import command_api_stack
from platform_infra.packaging import LambdaPackage
from platform_infra.platform_outputs import PLATFORM_PROJECT
from platform_infra.testing import (
    IamStatement,
    RecordedResource,
    RecordedStack,
    fake_lambda_package,
    platform_mocks,
    policy_statements,
    run_program,
)
from projection_balances.settings import MEMBER as BALANCES_MEMBER
from projection_balances_stack.program import projection_balances_stack
from projection_transactions.settings import MEMBER as TRANSACTIONS_MEMBER
from projection_transactions_stack.program import projection_transactions_stack
from query_api.settings import MEMBER as QUERY_API_MEMBER
from query_api_stack.program import ConfigKey as QueryConfigKey
from query_api_stack.program import query_api_stack
from stream_relay.settings import MEMBER as RELAY_MEMBER
from stream_relay_stack.program import stream_relay_stack

PLATFORM: Final = PLATFORM_PROJECT
PLATFORM_PROGRAM: Final = "platform_stack"
"""The platform stack's package: ``python -m platform_stack`` is what its Pulumi.yaml runs."""
STACK: Final = "test"
CURSOR_SIGNING_KEY: Final = "stacks-under-mocks-cursor-signing-key-0123456789"

FUNCTION: Final = "aws:lambda/function:Function"
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
STATE_MACHINE: Final = "aws:sfn/stateMachine:StateMachine"
RDS_PROXY: Final = "aws:rds/proxy:Proxy"


@dataclass(frozen=True)
class ServiceStack:
    """A service stack's Pulumi project, its Lambda package's member, its program and the
    config it needs to deploy at all."""

    project: str
    member: str
    program: Callable[[LambdaPackage], object]
    required_config: Mapping[str, str] = field(default_factory=dict)


SERVICE_STACKS: Final = (
    ServiceStack("command-api", COMMAND_API_MEMBER, command_api_stack),
    ServiceStack("stream-relay", RELAY_MEMBER, stream_relay_stack),
    ServiceStack("projection-balances", BALANCES_MEMBER, projection_balances_stack),
    ServiceStack("projection-transactions", TRANSACTIONS_MEMBER, projection_transactions_stack),
    ServiceStack(
        "query-api",
        QUERY_API_MEMBER,
        query_api_stack,
        {QueryConfigKey.CURSOR_SIGNING_KEY.value: CURSOR_SIGNING_KEY},
    ),
)
"""Every service stack of the repository (``services/*/stack``), by its Pulumi project name."""


@dataclass(frozen=True)
class Principal:
    """A role some service assumes, and every statement of its identity policies."""

    stack: str
    """The Pulumi project that made it."""
    role: RecordedResource
    used_by: str
    """The physical name of the function, state machine or proxy that runs as it."""
    statements: tuple[IamStatement, ...]

    @property
    def resources(self) -> frozenset[str]:
        return frozenset(r for s in self.statements if s.effect == "Allow" for r in s.resources)

    def actions_on(self, arn: str) -> frozenset[str]:
        """Every action an ``Allow`` statement grants on exactly ``arn``."""
        return frozenset(
            action
            for s in self.statements
            if s.effect == "Allow" and arn in s.resources
            for action in s.actions
        )


class Stacks(dict[str, RecordedStack]):
    """The recorded stacks by Pulumi project name (``platform`` first)."""

    @property
    def platform(self) -> RecordedStack:
        return self[PLATFORM]

    @property
    def services(self) -> dict[str, RecordedStack]:
        return {name: stack for name, stack in self.items() if name != PLATFORM}

    def principals(self) -> list[Principal]:
        """Every role of every stack with what runs as it and its policies' statements."""
        return [principal for name, stack in self.items() for principal in _principals(name, stack)]

    def principal(self, used_by_suffix: str) -> Principal:
        """The one principal whose user's physical name ends with ``used_by_suffix``
        (``-command-api-handler``)."""
        found = [p for p in self.principals() if p.used_by.endswith(used_by_suffix)]
        if len(found) != 1:
            names = sorted(p.used_by for p in self.principals())
            raise AssertionError(f"expected one principal ending {used_by_suffix}: {names}")
        return found[0]

    def created_arns(self, project: str) -> frozenset[str]:
        """The ARNs of every resource ``project``'s stack created (as the mocks answered)."""
        return frozenset(
            str(resource.outputs["arn"])
            for resource in self[project].resources
            if isinstance(resource.outputs.get("arn"), str)
        )

    def close(self) -> None:
        for stack in self.values():
            stack.close()


def _principals(project: str, stack: RecordedStack) -> list[Principal]:
    roles = {str(role.outputs["arn"]): role for role in stack.of_type(ROLE)}
    users: dict[str, str] = {}
    for resource in stack.resources:
        role_arn = resource.inputs.get("role") or resource.inputs.get("roleArn")
        if resource.type in (FUNCTION, STATE_MACHINE, RDS_PROXY) and role_arn in roles:
            users[str(role_arn)] = str(resource.inputs["name"])
    found = []
    for arn, role in roles.items():
        statements: list[IamStatement] = []
        for policy in stack.of_type(ROLE_POLICY):
            if policy.inputs.get("role") == role.id:
                statements += policy_statements(policy.inputs["policy"], f"{project} {arn}")
        for inline in role.inputs.get("inlinePolicies") or []:
            statements += policy_statements(inline["policy"], f"{project} {arn}")
        found.append(
            Principal(
                stack=project,
                role=role,
                used_by=users.get(arn, "(nothing)"),
                statements=tuple(statements),
            )
        )
    return found


def run_platform(config: Mapping[str, str] | None = None) -> RecordedStack:
    """The real platform program (what ``pulumi up`` in ``infra/`` runs) under mocks."""
    return run_program(
        lambda: runpy.run_module(PLATFORM_PROGRAM, run_name="__main__"),
        project=PLATFORM,
        stack=STACK,
        config=config,
    )


def run_service(
    service: ServiceStack,
    directory: Path,
    platform_outputs: Mapping[str, object],
    config: Mapping[str, str] | None = None,
) -> RecordedStack:
    """One service stack's real program under mocks, reading ``platform_outputs``."""
    package = fake_lambda_package(directory, service.member)
    return run_program(
        lambda: service.program(package),
        project=service.project,
        stack=STACK,
        config={**service.required_config, **(config or {})},
        mocks=platform_mocks(dict(platform_outputs), stack=STACK),
    )


@contextlib.contextmanager
def deployed_stacks(
    directory: Path, config: Mapping[str, Mapping[str, str]] | None = None
) -> Iterator[Stacks]:
    """Every stack, the services reading the platform's recorded outputs; ``config`` by project
    (``{"query-api": {"authorization": "jwt", ...}}``). Closed on leaving the block."""
    config = config or {}
    stacks = Stacks()
    try:
        stacks[PLATFORM] = run_platform(config.get(PLATFORM))
        for service in SERVICE_STACKS:
            stacks[service.project] = run_service(
                service, directory, stacks.platform.outputs, config.get(service.project)
            )
        yield stacks
    finally:
        stacks.close()
