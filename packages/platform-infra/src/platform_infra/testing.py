"""Test Pulumi programs without a Pulumi CLI or an AWS account, and check what they would create.

Each run gets its own mocks, its own root stack, its own config and a fresh event loop, all set
before the program starts, inside a copy of the current ``contextvars`` context (where the Pulumi
SDK keeps its state), so runs never leak into each other.

In a member's ``tests/conftest.py``::

    from platform_infra.testing import pulumi_harness  # noqa: F401  (a pytest fixture)

In a test::

    @pytest.mark.pulumi
    def test_the_queue_is_fifo(pulumi_harness: PulumiHarness) -> None:
        stack = pulumi_harness.run(build_my_stack, config={"owner": "team"})
        queue = stack.one("aws:sqs/queue:Queue")
        assert queue.inputs["fifoQueue"] is True          # inputs use Pulumi's wire names
        assert_least_privilege(identity_statements(stack))

``RecordedResource.inputs`` hold what the provider would receive (resolved values, camelCase
property names); ``outputs`` what the mock answered, with plausible ARNs, ids and endpoints.
Stack exports are in ``RecordedStack.outputs``; ``RecordedStack.resolve`` resolves any other
output. Subclass ``RecordingMocks`` and override ``outputs_for`` to answer more attributes.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func

from platform_infra.iam import UNSCOPED_ACTIONS
from platform_infra.packaging import BuildTarget, LambdaPackage
from platform_infra.platform_outputs import PLATFORM_PROJECT, PlatformOutput, platform_stack_name

T = TypeVar("T")

ACCOUNT_ID: Final = "123456789012"
REGION: Final = "eu-west-1"
PARTITION: Final = "aws"
ORGANIZATION: Final = "organization"
"""What a self-managed backend calls every organization, and so our default too."""

IDENTITY_POLICY_TYPES: Final = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
"""Type tokens of resources carrying an identity policy, and the input that holds it."""
RESOURCE_POLICY_TYPES: Final = {
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
}
"""Type tokens of resources carrying a resource policy, and the input that holds it."""


@dataclass(frozen=True)
class RecordedResource:
    """One resource the program registered."""

    type: str
    """The type token, e.g. ``aws:dynamodb/table:Table``."""
    name: str
    """The logical (Pulumi) name."""
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    custom: bool


@dataclass(frozen=True)
class RecordedOptions:
    """The resource options a registration carried that its inputs do not show."""

    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    """URNs of explicit (``depends_on``) and input dependencies."""
    protect: bool


@dataclass(frozen=True)
class RecordedCall:
    """One provider function call (``aws.get_region()`` and friends)."""

    token: str
    args: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and call, answering with plausible AWS values.

    ``stack_outputs`` maps a fully qualified stack name (``organization/platform/test``) to the
    outputs a ``pulumi.StackReference`` to it reads.
    """

    def __init__(
        self,
        *,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
    ) -> None:
        self.stack_outputs = dict(stack_outputs or {})
        self.account_id = account_id
        self.region = region
        self.resources: list[RecordedResource] = []
        self.calls: list[RecordedCall] = []
        self.options: dict[tuple[str, str], RecordedOptions] = {}
        """Per (type token, logical name); filled by the harness's monitor."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            stack_name = args.resource_id or args.name
            outputs = {
                "name": stack_name,
                "outputs": dict(self.stack_outputs.get(stack_name, {})),
                "secretOutputNames": [],
            }
            resource_id = stack_name
        else:
            resource_id = args.resource_id or f"{args.name}-id"
            outputs = {**inputs, **self.outputs_for(args.typ, args.name, inputs)}
        self.resources.append(
            RecordedResource(
                type=args.typ,
                name=args.name,
                inputs=inputs,
                outputs=outputs,
                id=resource_id,
                custom=bool(args.custom),
            )
        )
        return resource_id, outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(RecordedCall(token=args.token, args=dict(args.args)))
        return self.call_result(args.token, dict(args.args)), []

    def call_result(self, function: str, args: dict[str, Any]) -> dict[str, Any]:
        """The answer to a provider function call; unknown calls answer ``{}``."""
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:{PARTITION}:iam::{self.account_id}:user/tests",
                "id": self.account_id,
                "userId": "AIDATESTS",
            }
        if function == "aws:index/getRegion:getRegion":
            return {
                "region": self.region,
                "id": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
                "description": "tests",
            }
        if function == "aws:index/getPartition:getPartition":
            return {
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": PARTITION,
            }
        if function == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{zone}" for zone in "abc"]
            return {
                "names": names,
                "zoneIds": [f"euw1-az{i}" for i in range(1, 4)],
                "id": self.region,
            }
        return {}

    def outputs_for(self, resource_type: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Computed attributes of a new resource (added to its inputs as its outputs)."""
        physical = str(inputs.get("name") or inputs.get("identifier") or name)
        unique = _short_hash(f"{resource_type}/{name}")
        prefix = f"arn:{PARTITION}"
        regional = f"{self.region}:{self.account_id}"
        arn = _arn(
            resource_type,
            physical=physical,
            unique=unique,
            prefix=prefix,
            regional=regional,
            account=self.account_id,
        )
        outputs: dict[str, Any] = {"arn": arn}
        if "name" not in inputs and resource_type.startswith("aws:"):
            outputs["name"] = physical
        if resource_type == "aws:dynamodb/table:Table" and inputs.get("streamEnabled"):
            outputs["streamArn"] = f"{arn}/stream/2026-01-01T00:00:00.000"
        elif resource_type == "aws:kms/key:Key":
            outputs["keyId"] = unique
        elif resource_type == "aws:rds/instance:Instance":
            address = f"{physical}.{unique}.{self.region}.rds.amazonaws.com"
            port = inputs.get("port", 5432)
            outputs |= {
                "address": address,
                "endpoint": f"{address}:{port}",
                "port": port,
                "resourceId": f"db-{unique.upper()}",
                "identifier": physical,
            }
            if inputs.get("manageMasterUserPassword"):
                outputs["masterUserSecrets"] = [
                    {
                        "secretArn": f"{prefix}:secretsmanager:{regional}:secret:rds!db-{unique}",
                        "secretStatus": "active",
                        "kmsKeyId": f"{prefix}:kms:{regional}:key/aws-secretsmanager",
                    }
                ]
        elif resource_type == "aws:rds/proxy:Proxy":
            outputs["endpoint"] = f"{physical}.proxy-{unique}.{self.region}.rds.amazonaws.com"
        elif resource_type == "aws:sqs/queue:Queue":
            outputs["url"] = f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{physical}"
        elif resource_type == "aws:lambda/eventSourceMapping:EventSourceMapping":
            mapping_id = str(uuid.UUID(hashlib.sha256(name.encode()).hexdigest()[:32]))
            outputs |= {
                "uuid": mapping_id,
                "arn": f"{prefix}:lambda:{regional}:event-source-mapping:{mapping_id}",
                "state": "Enabled" if inputs.get("enabled", True) else "Disabled",
            }
        elif resource_type == "aws:lambda/function:Function":
            version = "1" if inputs.get("publish") else "$LATEST"
            outputs |= {
                "version": version,
                "qualifiedArn": f"{arn}:{version}",
                "invokeArn": _invoke_arn(self.region, arn),
            }
        elif resource_type == "aws:lambda/alias:Alias":
            function = inputs.get("functionName", "function")
            outputs["arn"] = f"{prefix}:lambda:{regional}:function:{function}:{physical}"
            outputs["invokeArn"] = _invoke_arn(self.region, outputs["arn"])
        elif resource_type == "aws:ec2/vpcEndpoint:VpcEndpoint":
            outputs["prefixListId"] = f"pl-{unique}"
        elif resource_type == "aws:apigatewayv2/api:Api":
            api_id = unique[:10]
            outputs |= {
                "arn": f"{prefix}:apigateway:{self.region}::/apis/{api_id}",
                "apiEndpoint": f"https://{api_id}.execute-api.{self.region}.amazonaws.com",
                "executionArn": f"{prefix}:execute-api:{regional}:{api_id}",
            }
        return outputs


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _invoke_arn(region: str, function_arn: str) -> str:
    return (
        f"arn:{PARTITION}:apigateway:{region}:lambda:path/2015-03-31/functions/"
        f"{function_arn}/invocations"
    )


def _arn(
    resource_type: str, *, physical: str, unique: str, prefix: str, regional: str, account: str
) -> str:
    """An ARN shaped like the real one for the types we use, generic for the rest."""
    module = resource_type.split(":")[1] if resource_type.count(":") == 2 else resource_type
    service, _, kind = module.partition("/")
    shapes = {
        "aws:iam/role:Role": f"{prefix}:iam::{account}:role/{physical}",
        "aws:iam/policy:Policy": f"{prefix}:iam::{account}:policy/{physical}",
        "aws:lambda/function:Function": f"{prefix}:lambda:{regional}:function:{physical}",
        "aws:cloudwatch/logGroup:LogGroup": f"{prefix}:logs:{regional}:log-group:{physical}",
        "aws:sns/topic:Topic": f"{prefix}:sns:{regional}:{physical}",
        "aws:sqs/queue:Queue": f"{prefix}:sqs:{regional}:{physical}",
        "aws:kms/key:Key": f"{prefix}:kms:{regional}:key/{unique}",
        "aws:rds/instance:Instance": f"{prefix}:rds:{regional}:db:{physical}",
        "aws:rds/proxy:Proxy": f"{prefix}:rds:{regional}:db-proxy:prx-{unique}",
        "aws:sfn/stateMachine:StateMachine": f"{prefix}:states:{regional}:stateMachine:{physical}",
        "aws:dynamodb/table:Table": f"{prefix}:dynamodb:{regional}:table/{physical}",
    }
    return shapes.get(resource_type, f"{prefix}:{service}:{regional}:{kind.lower()}/{physical}")


class _RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, noting each registration's options for ``RecordedStack``."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self._recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method's name
        self._recording.options[(request.type, request.name)] = RecordedOptions(
            ignore_changes=tuple(request.ignoreChanges),
            dependencies=tuple(request.dependencies),
            protect=bool(request.protect),
        )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


class _EventLoops:
    """A fresh event loop for one run, plus the loops of its worker threads.

    The mock monitor answers on the loop's executor threads, and the SDK gives each of those
    threads an event loop of its own; owning the executor lets us close those loops too instead of
    leaving them to the garbage collector (and its ResourceWarnings).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread_loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(
            thread_name_prefix="pulumi-mocks", initializer=self._give_thread_a_loop
        )
        self.loop.set_default_executor(self._executor)

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run the coroutine ``make`` returns with this loop as the current one."""
        asyncio.set_event_loop(self.loop)
        try:
            return self.loop.run_until_complete(make())
        finally:
            asyncio.set_event_loop(None)

    def _give_thread_a_loop(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self._lock:
            self._thread_loops.append(loop)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._executor.shutdown(wait=True)
        for loop in self._thread_loops:
            loop.close()
        self.loop.close()


@dataclass
class RecordedStack:
    """What one run of a program registered, exported and called."""

    mocks: RecordingMocks
    outputs: dict[str, Any]
    """The stack's exports, resolved."""
    urns: list[str]
    """The URN of every registered resource; a child's type is qualified by its parent's
    (``...::cqrs:platform:LambdaFunction$aws:iam/role:Role::handler-role``)."""
    _context: contextvars.Context = field(repr=False)
    _loops: _EventLoops = field(repr=False)

    @property
    def resources(self) -> list[RecordedResource]:
        return list(self.mocks.resources)

    @property
    def calls(self) -> list[RecordedCall]:
        return list(self.mocks.calls)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """Every resource of one type token (``aws:iam/role:Role``), in registration order."""
        return [resource for resource in self.mocks.resources if resource.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> RecordedResource:
        """The only resource of ``type_token`` (and logical ``name``, if given)."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise AssertionError(f"expected one {type_token} named {name!r}, found {names}")
        return found[0]

    def options_of(self, resource: RecordedResource) -> RecordedOptions:
        """The options (``ignore_changes``, dependencies, ``protect``) it was registered with."""
        return self.mocks.options[(resource.type, resource.name)]

    def urn_of(self, resource: RecordedResource) -> str:
        """The URN of a recorded resource."""
        found = [
            urn
            for urn in self.urns
            if urn.endswith(f"::{resource.name}")
            and urn.rsplit("::", 2)[-2].split("$")[-1] == resource.type
        ]
        if len(found) != 1:
            raise AssertionError(f"expected one URN for {resource.type} {resource.name}: {found}")
        return found[0]

    def resolve(self, value: pulumi.Input[T]) -> T | None:
        """The value of an output of this run (``None`` if unknown)."""
        return self._context.run(self._loops.run, lambda: pulumi.Output.from_input(value).future())

    def close(self) -> None:
        self._context.run(self._loops.close)


def run_program(
    program: Callable[[], object],
    *,
    project: str = PLATFORM_PROJECT,
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    mocks: RecordingMocks | None = None,
    organization: str = ORGANIZATION,
) -> RecordedStack:
    """Run ``program`` under fresh mocks and return what it did; ``close()`` the result.

    ``config`` keys without a namespace belong to ``project`` (``{"owner": "x"}`` is
    ``<project>:owner``), as ``pulumi config set`` would store them.
    """
    mocks = mocks or RecordingMocks()
    monitor = _RecordingMonitor(mocks)
    context = contextvars.copy_context()
    loops = _EventLoops()
    namespaced = {
        (key if ":" in key else f"{project}:{key}"): value for key, value in (config or {}).items()
    }

    def run() -> dict[str, Any]:
        asyncio.set_event_loop(loops.loop)
        # A fresh root stack: set_mocks only creates one when none is set in this context.
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_mocks(
            mocks,
            project=project,
            stack=stack,
            preview=False,
            organization=organization,
            monitor=monitor,
        )
        pulumi.runtime.set_all_config(namespaced)
        pulumi_settings.SETTINGS.outputs.clear()

        def body() -> None:
            program()

        loops.loop.run_until_complete(run_pulumi_func(body))
        root = pulumi_settings.get_root_resource()
        exports = dict(getattr(root, "outputs", {}))
        resolved = loops.loop.run_until_complete(pulumi.Output.from_input(exports).future())
        return dict(resolved or {})

    try:
        outputs = context.run(run)
    except BaseException:
        context.run(loops.close)
        raise
    finally:
        asyncio.set_event_loop(None)
    return RecordedStack(
        mocks=mocks,
        outputs=outputs,
        urns=list(monitor.get_registered_resources()),
        _context=context,
        _loops=loops,
    )


class PulumiHarness:
    """Runs programs under mocks for one test and cleans up after it (the ``pulumi_harness``
    fixture)."""

    def __init__(self) -> None:
        self._runs: list[RecordedStack] = []

    def run(
        self,
        program: Callable[[], object],
        *,
        project: str = PLATFORM_PROJECT,
        stack: str = "test",
        config: Mapping[str, str] | None = None,
        mocks: RecordingMocks | None = None,
        organization: str = ORGANIZATION,
    ) -> RecordedStack:
        """See ``run_program``."""
        recorded = run_program(
            program,
            project=project,
            stack=stack,
            config=config,
            mocks=mocks,
            organization=organization,
        )
        self._runs.append(recorded)
        return recorded

    def close(self) -> None:
        for recorded in self._runs:
            recorded.close()


@pytest.fixture
def pulumi_harness() -> Iterator[PulumiHarness]:
    """A ``PulumiHarness`` whose runs are closed after the test."""
    harness = PulumiHarness()
    yield harness
    harness.close()


# ---------------------------------------------------------------- IAM policy documents


@dataclass(frozen=True)
class IamStatement:
    """One statement of a policy document, normalised (single values become tuples)."""

    source: str
    """``<type token> <logical name>`` of the resource carrying the policy."""
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principal: Any = None
    condition: Mapping[str, Any] = field(default_factory=dict)


def policy_statements(document: str | Mapping[str, Any], source: str = "") -> list[IamStatement]:
    """The statements of a JSON policy document (text or parsed)."""
    parsed = json.loads(document) if isinstance(document, str) else document
    raw = parsed.get("Statement", [])
    return [
        IamStatement(
            source=source,
            effect=statement.get("Effect", ""),
            actions=_as_tuple(statement.get("Action")),
            resources=_as_tuple(statement.get("Resource")),
            not_actions=_as_tuple(statement.get("NotAction")),
            not_resources=_as_tuple(statement.get("NotResource")),
            principal=statement.get("Principal"),
            condition=statement.get("Condition", {}),
        )
        for statement in ([raw] if isinstance(raw, Mapping) else raw)
    ]


def identity_statements(stack: RecordedStack) -> list[IamStatement]:
    """Every statement of every identity policy the program created (role, user, group
    policies, managed policies and roles' inline policies)."""
    found: list[IamStatement] = []
    for resource in stack.resources:
        source = f"{resource.type} {resource.name}"
        key = IDENTITY_POLICY_TYPES.get(resource.type)
        if key is not None and resource.inputs.get(key):
            found += policy_statements(resource.inputs[key], source)
        if resource.type == "aws:iam/role:Role":
            for inline in resource.inputs.get("inlinePolicies") or []:
                if inline.get("policy"):
                    found += policy_statements(inline["policy"], source)
    return found


def resource_policy_statements(stack: RecordedStack) -> list[IamStatement]:
    """Every statement of every resource policy (topic, queue, key, secret, bucket policies)."""
    found: list[IamStatement] = []
    for resource in stack.resources:
        key = RESOURCE_POLICY_TYPES.get(resource.type)
        if key is not None and resource.inputs.get(key):
            found += policy_statements(resource.inputs[key], f"{resource.type} {resource.name}")
    return found


def least_privilege_violations(
    statements: Sequence[IamStatement], unscoped_actions: frozenset[str] = UNSCOPED_ACTIONS
) -> list[str]:
    """What breaks least privilege in ``Allow`` statements: wildcard actions, ``NotAction`` or
    ``NotResource``, and ``"Resource": "*"`` for an action that can be scoped to a resource."""
    problems = []
    for statement in statements:
        if statement.effect != "Allow":
            continue
        where = f"{statement.source}: {list(statement.actions)}"
        if statement.not_actions or statement.not_resources:
            problems.append(f"{where} allows by exclusion (NotAction/NotResource)")
        wildcards = [action for action in statement.actions if "*" in action]
        if wildcards:
            problems.append(f"{where} has wildcard actions {wildcards}")
        scopable = sorted(set(statement.actions) - unscoped_actions)
        if "*" in statement.resources and scopable:
            problems.append(f"{where} allows {scopable} on every resource")
    return problems


def assert_least_privilege(
    statements: Sequence[IamStatement], unscoped_actions: frozenset[str] = UNSCOPED_ACTIONS
) -> None:
    """Fail with every ``least_privilege_violations`` at once."""
    problems = least_privilege_violations(statements, unscoped_actions)
    assert not problems, "least privilege broken:\n" + "\n".join(problems)


def public_access_violations(statements: Sequence[IamStatement]) -> list[str]:
    """Resource-policy ``Allow`` statements open to any principal without a condition."""
    return [
        f"{statement.source}: {list(statement.actions)} allowed to anyone"
        for statement in statements
        if statement.effect == "Allow"
        and _is_anyone(statement.principal)
        and not statement.condition
    ]


def _is_anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(value in ("*", ["*"]) for value in principal.values())
    return False


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


# ---------------------------------------------------------------- the platform stack's outputs


def fake_platform_outputs(account_id: str = ACCOUNT_ID, region: str = REGION) -> dict[str, Any]:
    """Plausible values for every ``PlatformOutput``: what a service stack's tests hand to
    ``RecordingMocks(stack_outputs={platform_stack_name(...): fake_platform_outputs()})``."""
    arn = f"arn:{PARTITION}"
    regional = f"{region}:{account_id}"
    DNS_SUFFIX = "rds.amazonaws.com"  # noqa: N806 - reads as the constant it is
    table_arn = f"{arn}:dynamodb:{regional}:table/cqrs-test-platform-events"
    values: dict[PlatformOutput, Any] = {
        PlatformOutput.EVENT_STORE_TABLE_NAME: "cqrs-test-platform-events",
        PlatformOutput.EVENT_STORE_TABLE_ARN: table_arn,
        PlatformOutput.EVENT_STORE_STREAM_ARN: f"{table_arn}/stream/2026-01-01T00:00:00.000",
        PlatformOutput.EVENT_BUS_TOPIC_ARN: f"{arn}:sns:{regional}:cqrs-test-platform-events.fifo",
        PlatformOutput.EVENT_BUS_TOPIC_NAME: "cqrs-test-platform-events.fifo",
        PlatformOutput.EVENT_BUS_KEY_ARN: f"{arn}:kms:{regional}:key/0000-bus",
        PlatformOutput.VPC_ID: "vpc-0test",
        PlatformOutput.PRIVATE_SUBNET_IDS: ["subnet-0a", "subnet-0b"],
        PlatformOutput.FUNCTIONS_SECURITY_GROUP_ID: "sg-0functions",
        PlatformOutput.DATABASE_SECURITY_GROUP_ID: "sg-0database",
        PlatformOutput.PROXY_SECURITY_GROUP_ID: "sg-0proxy",
        PlatformOutput.DB_INSTANCE_ADDRESS: f"cqrs-test-platform-db.x.{region}.{DNS_SUFFIX}",
        PlatformOutput.DB_INSTANCE_PORT: 5432,
        PlatformOutput.DB_NAME: "projections",
        PlatformOutput.DB_MASTER_USERNAME: "platform_owner",
        PlatformOutput.DB_MASTER_SECRET_ARN: f"{arn}:secretsmanager:{regional}:secret:rds!db-x",
        PlatformOutput.DB_PROXY_ENDPOINT: f"cqrs-test-platform-db.proxy-x.{region}.{DNS_SUFFIX}",
        PlatformOutput.DB_PROXY_ARN: f"{arn}:rds:{regional}:db-proxy:prx-0test",
        PlatformOutput.DB_PROXY_USER_ARN_PREFIX: f"{arn}:rds-db:{regional}:dbuser:prx-0test",
    }
    missing = set(PlatformOutput) - set(values)
    if missing:
        raise RuntimeError(f"fake_platform_outputs lacks {sorted(missing)}")
    return {key.value: value for key, value in values.items()}


def platform_mocks(
    platform_outputs: Mapping[str, Any] | None = None,
    *,
    stack: str = "test",
    organization: str = ORGANIZATION,
) -> RecordingMocks:
    """Mocks for a service stack: its ``PlatformStack`` reference (to the platform stack of the
    same stack name) reads ``platform_outputs`` (default ``fake_platform_outputs()``)."""
    outputs = fake_platform_outputs() if platform_outputs is None else platform_outputs
    platform = platform_stack_name(stack=stack, organization=organization)
    return RecordingMocks(stack_outputs={platform: outputs})


@pytest.fixture
def platform_outputs() -> dict[str, Any]:
    """``fake_platform_outputs()``, for a service stack's tests to hand to ``platform_mocks``
    and to compare with what the stack wired."""
    return fake_platform_outputs()


def fake_lambda_package(directory: Path, member: str, sha256: str = "ab" * 32) -> LambdaPackage:
    """A package as ``build_lambda_package`` would describe it (arm64), with a placeholder zip in
    ``directory``: under mocks nothing reads the zip."""
    path = directory / f"{member}.zip"
    path.write_bytes(b"not read under mocks")
    return LambdaPackage(
        member=member,
        path=path,
        sha256=sha256,
        target=BuildTarget.lambda_arm64(),
        unzipped_bytes=1,
    )
