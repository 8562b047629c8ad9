"""Cold start per Lambda: a fresh Python process imports the handler module and serves its first
invocation, beside fresh processes that only import boto3 (and that import boto3, create a client
and make one call), all in one run.

Every function the stacks deploy runs with the environment its stack sets (variable names from
the functions' own settings modules; tracing off and powertools' service and namespace as
deployed) plus what Lambda itself sets. Its AWS calls go to a moto server in another process
(``AWS_ENDPOINT_URL``), so the emulator's imports are not counted; its database calls go to
Postgres (``TEST_DATABASE_URL``), on a fresh database the projections' own migration entry points
migrated. Each migration function gets a fresh, empty database per run, as at a first deploy.

Timed inside the child, from before the handler's import: interpreter start-up (the same for
every row) is left out. Runs are interleaved round-robin, so machine load spreads over every row.
A second table lists the ``python -X importtime`` self times of the import and first invocation,
by top-level package: ours (workspace packages) against third-party and the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.error import URLError
from urllib.request import urlopen

import boto3
from command_api import settings as command_settings
from platform_local.gateway import http_api_event
from platform_projections import QUERY_READER, InMemoryEventStore, Projection, Projector
from platform_projections.migration_entry import MigrationEntryPoint
from platform_sql import DatabaseConfig, create_database_engine
from projection_balances import migrate as balances_migrate
from projection_balances import settings as balances_settings
from projection_balances.projection import PROJECTION as BALANCES
from projection_transactions import migrate as transactions_migrate
from projection_transactions import settings as transactions_settings
from projection_transactions.projection import PROJECTION as TRANSACTIONS
from query_api import settings as query_settings
from sqlalchemy.engine import URL, make_url
from stream_relay import settings as relay_settings

from account_events import AccountOpened, MoneyDeposited
from benchmarks.report import Table
from platform_events import EventEnvelope, default_registry
from platform_events import layout as event_layout
from platform_events.dynamodb import serialize, to_dynamodb_json, to_item
from platform_testing.lambda_events import sqs_record
from platform_testing.postgres import TEST_DATABASE_URL, throwaway_database

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RUNS: Final = 10
SMOKE_RUNS: Final = 1
BUDGET_RATIO: Final = 1.5
REGION: Final = "eu-west-1"
TABLE: Final = "cqrs-event-store"
BUS: Final = "cqrs-event-bus.fifo"
MASTER_SECRET: Final = "cold-start-db-master"
METRICS_NAMESPACE: Final = "cqrs-platform"
CURSOR_SIGNING_KEY: Final = "cold-start-benchmark-cursor-signing-key-0123"
TOP_CONTRIBUTORS: Final = 5
SERVER_START_TIMEOUT_SECONDS: Final = 60.0
CHILD_TIMEOUT_SECONDS: Final = 120.0

BOTO3_IMPORT: Final = "boto3 import"
BOTO3_CALL: Final = "boto3 import + client + call"
DATABASE_FLOOR: Final = "boto3 + SQLAlchemy + psycopg: call, connect, SELECT 1"
"""The least a function with a database does at a cold start: the floor for those functions."""
DATABASE_FLOOR_MODULES: Final = "boto3,sqlalchemy,psycopg"
NO_CALL: Final = "none"
CLIENT_CALL: Final = "client"
DATABASE_CALL: Final = "database"
HANDLER_CALL: Final = "handler"
"""What the child does after the import: nothing, a DynamoDB client's first call, that call and
a first database query, or the handler."""

OUR_PACKAGES: Final = frozenset(
    {
        "account_events",
        "command_api",
        "platform_events",
        "platform_projections",
        "platform_replay",
        "platform_sql",
        "projection_balances",
        "projection_transactions",
        "query_api",
        "stream_relay",
    }
)
"""Top-level packages of this workspace (what ``importtime`` counts as ours)."""

LAMBDA_ENVIRONMENT: Final = {
    # What Lambda sets in every function (a JSON log format and INFO, as the stacks configure).
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
    "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}

# The child: everything before ``started`` is the same for every row (interpreter, json).
CHILD: Final = r"""
import importlib, json, sys, time

class Context:
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/cold-start"
    log_stream_name = "cold-start"

    def __init__(self, name):
        self.function_name = name
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        self.aws_request_id = "cold-start-request"

    def get_remaining_time_in_millis(self):
        return 60_000

spec = json.loads(sys.argv[1])
HANDLER_CALL, CLIENT_CALL, DATABASE_CALL = spec["calls"]
started, started_cpu = time.perf_counter(), time.process_time()
modules = [importlib.import_module(name) for name in spec["module"].split(",")]
module = modules[0]
imported, imported_cpu = time.perf_counter(), time.process_time()
if spec["call"] == HANDLER_CALL:
    response = getattr(module, spec["attribute"])(spec["event"], Context(spec["function"]))
elif spec["call"] == CLIENT_CALL:
    client = module.client("dynamodb")
    response = client.describe_table(TableName=spec["table"])["Table"]["TableStatus"]
elif spec["call"] == DATABASE_CALL:
    client = module.client("dynamodb")
    client.describe_table(TableName=spec["table"])
    engine = modules[1].create_engine(spec["database_url"])
    with engine.connect() as connection:
        response = connection.exec_driver_sql("SELECT 1").scalar()
else:
    response = None
served, served_cpu = time.perf_counter(), time.process_time()
with open(spec["output"], "w") as out:
    json.dump({"import": imported - started, "total": served - started,
               "import_cpu": imported_cpu - started_cpu, "total_cpu": served_cpu - started_cpu,
               "response": response}, out, default=str)
"""


# ---------------------------------------------------------------------------------- the system
@dataclass
class Deployment:
    """What the functions' environments point at: the moto server's resources and a database
    the projections' migrations prepared (with its query reader and writers able to log in)."""

    endpoint: str
    dynamodb: DynamoDBClient
    topic_arn: str
    secret_arn: str
    database: URL
    admin_url: str

    def login(self, role: str, database: URL | None = None) -> str:
        """A URL without a password: the functions log in with IAM tokens or a secret."""
        return (database or self.database).set(username=role, password=None).render_as_string()


@dataclass(frozen=True)
class Invocation:
    event: dict[str, Any]
    database: URL | None = None
    """A database just for this run (a migration's first deploy); the shared one otherwise."""


@dataclass(frozen=True)
class Function:
    """One Lambda function the stacks deploy, with what its first invocation gets."""

    name: str
    handler: str
    environment: Callable[[Deployment, Invocation], dict[str, str]]
    invocation: Callable[[Deployment, contextlib.ExitStack], Invocation]
    check: Callable[[Any], bool]
    """Whether the first invocation's answer is a success (a failing one times nothing)."""
    uses_database: bool = True

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]


def _http_event(method: str, path: str, route: str, body: Any = None) -> dict[str, Any]:
    data = b"" if body is None else json.dumps(body).encode()
    event = http_api_event(
        method=method,
        raw_path=path,
        raw_query="",
        headers={"content-type": "application/json"} if body is not None else {},
        body=data,
        source_ip="192.0.2.10",
    )
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    return event


def _account_history(stream_id: str) -> list[EventEnvelope]:
    now = datetime.now(UTC)
    return [
        default_registry.envelope(
            AccountOpened(owner="Ada", currency="EUR"),
            stream_id=stream_id,
            version=1,
            occurred_at=now,
            correlation_id=f"cold-start-{stream_id}",
        ),
        default_registry.envelope(
            MoneyDeposited(amount=Decimal("12.50"), reference="cold start"),
            stream_id=stream_id,
            version=2,
            occurred_at=now,
            correlation_id=f"cold-start-{stream_id}",
        ),
    ]


def _sqs_event(
    projection: Projection[Any],
) -> Callable[[Deployment, contextlib.ExitStack], Invocation]:
    def invocation(deployment: Deployment, _stack: contextlib.ExitStack) -> Invocation:
        # In the event store as the command API wrote them: a projection that does not handle
        # every type reads the versions it skips from the store (gap repair), as in production.
        history = _account_history(str(uuid.uuid4()))
        for envelope in history:
            deployment.dynamodb.put_item(TableName=TABLE, Item=serialize(to_item(envelope)))
        handled = set(projection.event_types)
        records = [
            sqs_record(envelope, queue=f"{projection.name}-live.fifo")
            for envelope in history
            if envelope.event_type in handled
        ]
        return Invocation({"Records": records})

    return invocation


def _stream_event() -> Invocation:
    records = []
    for number, envelope in enumerate(_account_history(str(uuid.uuid4())), start=1):
        image = to_dynamodb_json(envelope)
        keys = (event_layout.PARTITION_KEY, event_layout.SORT_KEY)
        records.append(
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {
                    "ApproximateCreationDateTime": time.time(),
                    "Keys": {key: image[key] for key in keys},
                    "NewImage": image,
                    "SequenceNumber": f"{number:021d}",
                    "SizeBytes": len(json.dumps(image)),
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}/stream/x",
            }
        )
    return Invocation({"Records": records})


def _no_failures(response: Any) -> bool:
    return isinstance(response, dict) and response.get("batchItemFailures") == []


def _status(expected: int) -> Callable[[Any], bool]:
    return lambda response: isinstance(response, dict) and response.get("statusCode") == expected


def _migrated(response: Any) -> bool:
    return isinstance(response, dict) and bool(response.get("applied"))


def _projection_environment(
    settings_module: Any, writer: str
) -> Callable[[Deployment, Invocation], dict[str, str]]:
    def environment(deployment: Deployment, _invocation: Invocation) -> dict[str, str]:
        # As the projection stack sets it, but no TLS (the local server has none; loopback).
        return {
            settings_module.SERVICE_NAME_ENV: settings_module.SERVICE_NAME,
            settings_module.METRICS_NAMESPACE_ENV: METRICS_NAMESPACE,
            settings_module.DATABASE_URL_ENV: deployment.login(writer),
            settings_module.DATABASE_IAM_AUTH_ENV: "true",
            settings_module.EVENT_STORE_TABLE_ENV: TABLE,
            settings_module.PROJECTION_SCHEMA_ENV: settings_module.Settings.default_schema,
        }

    return environment


def _migration_environment(
    settings_module: Any,
) -> Callable[[Deployment, Invocation], dict[str, str]]:
    def environment(deployment: Deployment, invocation: Invocation) -> dict[str, str]:
        return {
            settings_module.SERVICE_NAME_ENV: settings_module.SERVICE_NAME,
            settings_module.METRICS_NAMESPACE_ENV: METRICS_NAMESPACE,
            settings_module.DATABASE_URL_ENV: deployment.login("postgres", invocation.database),
            settings_module.DATABASE_SECRET_ARN_ENV: deployment.secret_arn,
            settings_module.PROJECTION_SCHEMA_ENV: settings_module.MigrationSettings.default_schema,
        }

    return environment


def _fresh_database(
    projection: Projection[Any],
) -> Callable[[Deployment, contextlib.ExitStack], Invocation]:
    def invocation(deployment: Deployment, stack: contextlib.ExitStack) -> Invocation:
        database = stack.enter_context(throwaway_database(deployment.admin_url))
        return Invocation({"projection": projection.name}, database=database)

    return invocation


def _command_environment(deployment: Deployment, _invocation: Invocation) -> dict[str, str]:
    return {
        command_settings.EVENT_STORE_TABLE_ENV: TABLE,
        command_settings.IDEMPOTENCY_TTL_SECONDS_ENV: str(24 * 3600),
        command_settings.MAX_APPEND_ATTEMPTS_ENV: "5",
        command_settings.TRACING_ENABLED_ENV: "false",
        command_settings.SERVICE_NAME_ENV: command_settings.DEFAULT_SERVICE_NAME,
        command_settings.METRICS_NAMESPACE_ENV: METRICS_NAMESPACE,
    }


def _relay_environment(deployment: Deployment, _invocation: Invocation) -> dict[str, str]:
    return {
        relay_settings.BUS_TOPIC_ARN_ENV: deployment.topic_arn,
        relay_settings.SERVICE_NAME_ENV: relay_settings.SERVICE_NAME,
        relay_settings.METRICS_NAMESPACE_ENV: METRICS_NAMESPACE,
    }


def _query_environment(deployment: Deployment, _invocation: Invocation) -> dict[str, str]:
    return {
        query_settings.DATABASE_URL_ENV: deployment.login(QUERY_READER),
        query_settings.DATABASE_IAM_AUTH_ENV: "true",
        query_settings.CURSOR_SIGNING_KEY_ENV: CURSOR_SIGNING_KEY,
        query_settings.TRACING_ENABLED_ENV: "false",
        query_settings.SERVICE_NAME_ENV: query_settings.SERVICE_NAME,
        query_settings.METRICS_NAMESPACE_ENV: METRICS_NAMESPACE,
    }


SEEDED_ACCOUNT: Final = str(uuid.UUID(int=0xC01D))
"""The account the query API's first request reads (the balances projection holds it)."""

FUNCTIONS: Final = (
    Function(
        "command-api",
        command_settings.HANDLER,
        _command_environment,
        lambda _d, _s: Invocation(
            _http_event("POST", "/accounts", "/accounts", {"owner": "Ada", "currency": "EUR"})
        ),
        _status(201),
        uses_database=False,
    ),
    Function(
        "stream-relay",
        relay_settings.HANDLER,
        _relay_environment,
        lambda _d, _s: _stream_event(),
        _no_failures,
        uses_database=False,
    ),
    Function(
        "projection-balances",
        balances_settings.HANDLER,
        _projection_environment(balances_settings, BALANCES.writer_role),
        _sqs_event(BALANCES),
        _no_failures,
    ),
    Function(
        "projection-transactions",
        transactions_settings.HANDLER,
        _projection_environment(transactions_settings, TRANSACTIONS.writer_role),
        _sqs_event(TRANSACTIONS),
        _no_failures,
    ),
    Function(
        "query-api",
        query_settings.HANDLER,
        _query_environment,
        lambda _d, _s: Invocation(
            _http_event("GET", f"/accounts/{SEEDED_ACCOUNT}", "/accounts/{account_id}")
        ),
        _status(200),
    ),
    Function(
        "projection-balances migration",
        balances_settings.MIGRATION_HANDLER,
        _migration_environment(balances_settings),
        _fresh_database(BALANCES),
        _migrated,
    ),
    Function(
        "projection-transactions migration",
        transactions_settings.MIGRATION_HANDLER,
        _migration_environment(transactions_settings),
        _fresh_database(TRANSACTIONS),
        _migrated,
    ),
)
MIGRATIONS: Final[Sequence[MigrationEntryPoint]] = (
    balances_migrate.ENTRY_POINT,
    transactions_migrate.ENTRY_POINT,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process; yields its endpoint URL."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while True:
            try:
                with urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
                    break
            except (URLError, ConnectionError, TimeoutError) as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    msg = f"the moto server did not start on {endpoint}"
                    raise RuntimeError(msg) from error
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _deploy_aws(endpoint: str, admin_url: str, database: URL) -> Deployment:
    dynamodb = cast("DynamoDBClient", _client(endpoint, "dynamodb"))
    dynamodb.create_table(
        TableName=TABLE, **cast("dict[str, Any]", event_layout.event_store_key_schema())
    )
    topic_arn = _client(endpoint, "sns").create_topic(
        Name=BUS, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"}
    )["TopicArn"]
    admin = make_url(admin_url)
    secret_arn = _client(endpoint, "secretsmanager").create_secret(
        Name=MASTER_SECRET,
        SecretString=json.dumps({"username": admin.username, "password": admin.password or ""}),
    )["ARN"]
    return Deployment(
        endpoint=endpoint,
        dynamodb=dynamodb,
        topic_arn=str(topic_arn),
        secret_arn=str(secret_arn),
        database=database,
        admin_url=admin_url,
    )


def _prepare_database(database: URL) -> None:
    """Migrate both projections as the owner, let their roles log in, seed one account."""
    owner = database.render_as_string(hide_password=False)
    engine = create_database_engine(DatabaseConfig(url=owner))
    try:
        for entry in MIGRATIONS:
            entry.run(entry.settings(database=DatabaseConfig(url=owner)), engine=engine)
        with engine.begin() as connection:
            for role in (BALANCES.writer_role, TRANSACTIONS.writer_role, QUERY_READER):
                quoted = connection.dialect.identifier_preparer.quote(role)
                connection.exec_driver_sql(f"ALTER ROLE {quoted} LOGIN")
        projector = Projector(BALANCES, engine, InMemoryEventStore())
        records = [sqs_record(envelope) for envelope in _account_history(SEEDED_ACCOUNT)]
        result = projector.handle(records)
        if result.failed_message_ids:
            msg = f"seeding the balances read model failed: {result.failures}"
            raise RuntimeError(msg)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------- running
@dataclass(frozen=True)
class Case:
    """A row: a function, or one of the two boto3 baselines."""

    name: str
    module: str
    call: str
    function: Function | None = None


@dataclass(frozen=True)
class Clock:
    """Which of the child's clocks a table reads."""

    title: str
    import_key: str
    total_key: str
    note: str


WALL: Final = Clock(
    "wall clock",
    "import",
    "total",
    "Wall clock: what a caller waits for, AWS and database round trips included (moto answers "
    "in milliseconds, not DynamoDB's); a loaded machine stretches every row.",
)
CPU: Final = Clock(
    "CPU time of the function's process",
    "import_cpu",
    "total_cpu",
    "CPU time of the child alone (user + system): the work the function's own process does, "
    "without waiting for moto or Postgres and far less sensitive to other load on the machine.",
)


@dataclass
class Samples:
    """Every run's timings of one row, by the child's keys (``import``, ``total_cpu``, ...)."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, result: Mapping[str, Any]) -> None:
        for clock in (WALL, CPU):
            for key in (clock.import_key, clock.total_key):
                self.values.setdefault(key, []).append(float(result[key]))

    def median_ms(self, key: str) -> float:
        return statistics.median(self.values[key]) * 1000


def _base_environment(deployment: Deployment, home: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # An empty home: no developer's ~/.aws configuration reaches the function.
        "HOME": home,
        **LAMBDA_ENVIRONMENT,
        "AWS_ENDPOINT_URL": deployment.endpoint,
    }


def _run_child(
    case: Case,
    deployment: Deployment,
    home: str,
    *,
    importtime: bool = False,
) -> tuple[dict[str, Any], str]:
    """One fresh process; returns the child's timings and, with ``importtime``, its stderr."""
    with contextlib.ExitStack() as stack:
        environment = _base_environment(deployment, home)
        spec: dict[str, Any] = {
            "module": case.module,
            "call": case.call,
            "calls": [HANDLER_CALL, CLIENT_CALL, DATABASE_CALL],
            "table": TABLE,
            "database_url": deployment.login(QUERY_READER),
        }
        if case.function is not None:
            invocation = case.function.invocation(deployment, stack)
            environment |= case.function.environment(deployment, invocation)
            environment["AWS_LAMBDA_FUNCTION_NAME"] = case.function.name.replace(" ", "-")
            environment["_HANDLER"] = case.function.handler
            spec |= {
                "attribute": case.function.attribute,
                "event": invocation.event,
                "function": case.function.name.replace(" ", "-"),
            }
        output = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "result.json"
        spec["output"] = str(output)
        command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", CHILD]
        finished = subprocess.run(  # noqa: PLW1510 - the return code is checked below
            [*command, json.dumps(spec)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
        )
        if finished.returncode != 0 or not output.exists():
            tail = "\n".join(finished.stderr.splitlines()[-15:])
            msg = f"{case.name}: the child failed ({finished.returncode}):\n{tail}"
            raise RuntimeError(msg)
        result: dict[str, Any] = json.loads(output.read_text())
    if case.function is not None and not case.function.check(result["response"]):
        msg = f"{case.name}: the first invocation did not succeed: {result['response']!r}"
        raise RuntimeError(msg)
    return result, finished.stderr


def _cases() -> list[Case]:
    return [
        Case(BOTO3_IMPORT, "boto3", NO_CALL),
        Case(BOTO3_CALL, "boto3", CLIENT_CALL),
        Case(DATABASE_FLOOR, DATABASE_FLOOR_MODULES, DATABASE_CALL),
        *(Case(f.name, f.module, HANDLER_CALL, f) for f in FUNCTIONS),
    ]


@dataclass
class ImportProfile:
    """Self time of every imported module, summed by top-level package."""

    by_package: Counter[str]

    @classmethod
    def parse(cls, stderr: str) -> ImportProfile:
        by_package: Counter[str] = Counter()
        for line in stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _cumulative, name = line.removeprefix("import time:").split("|")
            by_package[name.strip().split(".")[0]] += int(self_us)
        return cls(by_package)

    def kind(self, package: str) -> str:
        if package in OUR_PACKAGES:
            return "ours"
        if package in sys.stdlib_module_names or package.startswith("_"):
            return "stdlib"
        return "third-party"

    def total_ms(self, kind: str) -> float:
        return sum(us for p, us in self.by_package.items() if self.kind(p) == kind) / 1000

    def top(self, kind: str) -> str:
        ranked = [(p, us) for p, us in self.by_package.most_common() if self.kind(p) == kind]
        return ", ".join(f"{p} {us / 1000:.0f}" for p, us in ranked[:TOP_CONTRIBUTORS])


def run(smoke: bool) -> Iterable[Table]:
    admin_url = os.environ.get(TEST_DATABASE_URL)
    if not admin_url:
        msg = f"{TEST_DATABASE_URL} must name a Postgres server (the functions' database)"
        raise RuntimeError(msg)
    runs = SMOKE_RUNS if smoke else RUNS
    cases = _cases()
    samples = {case.name: Samples() for case in cases}
    profiles: dict[str, ImportProfile] = {}
    with (
        moto_server() as endpoint,
        throwaway_database(admin_url) as database,
        tempfile.TemporaryDirectory() as home,
    ):
        _prepare_database(database)
        deployment = _deploy_aws(endpoint, admin_url, database)
        # One unmeasured round: the server's first answer per operation (moto imports its
        # service models then) and the database's caches are not any function's figure. A smoke
        # run proves the script works and reports no figures, so it saves the time.
        for case in () if smoke else cases:
            _run_child(case, deployment, home)
        for _ in range(runs):
            for case in cases:
                result, _ = _run_child(case, deployment, home)
                samples[case.name].add(result)
        for case in cases:
            if case.function is not None:
                _, stderr = _run_child(case, deployment, home, importtime=True)
                profiles[case.name] = ImportProfile.parse(stderr)
    for clock in (WALL, CPU):
        yield _timings_table(clock, cases, samples, runs)
    yield _profile_table(profiles)


def _timings_table(
    clock: Clock, cases: Sequence[Case], samples: Mapping[str, Samples], runs: int
) -> Table:
    bare = samples[BOTO3_IMPORT].median_ms(clock.import_key)
    call = samples[BOTO3_CALL].median_ms(clock.total_key)
    floor = samples[DATABASE_FLOOR].median_ms(clock.total_key)
    table = Table(
        f"Cold start per Lambda, {clock.title} (median of {runs} fresh processes)",
        [
            "function",
            "import ms",
            "import / boto3 import",
            "import + first invocation ms",
            "cold start / boto3 import",
            "cold start / boto3 + client + call",
            "cold start / database floor",
            f"within {BUDGET_RATIO}x",
        ],
    )
    for case in cases:
        found = samples[case.name]
        imported = found.median_ms(clock.import_key)
        total = imported if case.call == NO_CALL else found.median_ms(clock.total_key)
        within, over_floor = "baseline", "-"
        if case.function is not None:
            within = _verdict(imported / bare, total / call)
            if case.function.uses_database:
                over_floor = f"{total / floor:.2f}"
        table.add(
            case.name,
            imported,
            imported / bare,
            total,
            total / bare,
            total / call,
            over_floor,
            within,
        )
    table.notes.extend(
        [
            clock.note,
            "Timed in the child from just before the handler module's import (interpreter "
            "start-up excluded, the same for every row); the first invocation is the function's "
            "real first event, its AWS calls answered by a moto server in another process, its "
            "database calls by Postgres.",
            "Verdict: the import against the bare boto3 import, and import + first invocation "
            "against boto3 import + client + one call (like for like); 'cold start / boto3 "
            "import' is the strictest reading.",
            "Functions run with their stacks' environment (tracing off, powertools service and "
            "namespace as deployed, IAM database auth for projections and the query API) except "
            "TLS: the local Postgres has none.",
            "Migrations: each run migrates a fresh, empty database (a first deploy).",
            "Database floor: a process importing boto3, SQLAlchemy and psycopg, making the same "
            "DynamoDB call, connecting to Postgres and running SELECT 1; the functions with a "
            "database cannot start for less.",
        ]
    )
    return table


def _verdict(import_ratio: float, cold_start_ratio: float) -> str:
    parts = [
        f"import {'yes' if import_ratio <= BUDGET_RATIO else 'no'}",
        f"cold start {'yes' if cold_start_ratio <= BUDGET_RATIO else 'no'}",
    ]
    return ", ".join(parts)


def _profile_table(profiles: Mapping[str, ImportProfile]) -> Table:
    table = Table(
        "Import self time by package, import + first invocation (python -X importtime, one run)",
        ["function", "ours ms", "ours: top", "third-party ms", "third-party: top", "stdlib ms"],
    )
    for name, profile in profiles.items():
        table.add(
            name,
            profile.total_ms("ours"),
            profile.top("ours"),
            profile.total_ms("third-party"),
            profile.top("third-party"),
            profile.total_ms("stdlib"),
        )
    table.notes.append(
        "Self time of every module imported (module bodies included, e.g. models built at "
        "import), summed by top-level package; importtime's own overhead inflates all of it."
    )
    return table
