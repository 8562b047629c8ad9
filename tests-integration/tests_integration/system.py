"""The whole system in one process: moto for AWS, a real Postgres, the real handlers.

``whole_system(database_url)`` builds, inside ``mock_aws`` (Step Functions executing its state
machines), what the stacks deploy, with the same declarations they use:

* the event store table from ``platform_events.layout.event_store_key_schema()`` and its stream;
* the SNS FIFO bus;
* per projection (:meth:`System.deploy`): a live FIFO queue and a replay FIFO queue, each with a
  DLQ and a redrive policy, the live queue subscribed to the bus with raw delivery and the
  filter policy of the projection's declaration, a Lambda function with the live queue's event
  source mapping (enabled or not), the replay state machine (``platform_replay``'s definition)
  with its role, and the schema migrated by the projection's own migration entry point, as the
  database owner;
* the handlers, each built by its function's composition root with moto-backed clients and
  engines that log in as the roles the migrations grant (the projection's writer,
  ``query_reader``): the command API, the relay, the projections, the query API;
* platform-local's pollers playing the event source mappings: the relay's on the table's
  stream, each projection's on its live queue (honouring the mapping's state, which the replay
  state machine switches on) and on its replay queue.

Pollers run step by step in the calling thread (:meth:`System.settle`) or on threads
(:meth:`System.running`); either way every invocation and every AWS call takes its turn
(:mod:`tests_integration.turns`).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import boto3
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from command_api.bootstrap import build as build_command_api
from command_api.settings import Settings as CommandSettings
from moto import mock_aws
from platform_local.pollers import DynamoDbStreamEventSource, PollerThreads, SqsEventSource
from platform_projections import QUERY_READER, MigrationReport, Projection, Projector
from platform_projections.lambda_handler import make_lambda_handler
from platform_replay import (
    ReplayTarget,
    replay_assume_role_policy,
    replay_role_policy,
    replay_state_machine_definition,
)
from platform_replay.emulation import install_sdk_parameter_casing
from platform_sql import DATABASE_URL_ENV, DatabaseConfig, create_database_engine
from projection_balances import handler as balances_handler
from projection_balances import migrate as balances_migrate
from projection_balances import settings as balances_settings
from projection_balances.projection import PROJECTION as BALANCES_PROJECTION
from projection_transactions import handler as transactions_handler
from projection_transactions import migrate as transactions_migrate
from projection_transactions import settings as transactions_settings
from projection_transactions.projection import PROJECTION as TRANSACTIONS_PROJECTION
from query_api.bootstrap import build_query_api
from query_api.observability import count_answer, logger, metrics
from query_api.settings import CURSOR_SIGNING_KEY_ENV, QuerySettings
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from stream_relay.bootstrap import build_relay
from stream_relay.handler import lambda_handler as relay_handler
from stream_relay.settings import RelaySettings

import account_events  # noqa: F401 - registers the account event types
from platform_events import EventEnvelope
from platform_events.dynamodb import deserialize, from_item
from platform_events.layout import Attr, ItemKind, event_store_key_schema
from tests_integration.apis import COMMAND_ROUTES, QUERY_ROUTES, CommandApi, QueryApi
from tests_integration.emulation import CurrentShardStreams, detach_moto_invocation
from tests_integration.turns import Turns

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

REGION: Final = "eu-west-1"
TABLE: Final = "cqrs-event-store"
BUS: Final = "cqrs-event-bus.fifo"
MAX_RECEIVE_COUNT: Final = 5
"""Deliveries of a message before its queue moves it to the DLQ (the stacks' redrive policy)."""
VISIBILITY_TIMEOUT_SECONDS: Final = 30
CURSOR_SIGNING_KEY: Final = "integration-tests-cursor-signing-key-0123456789"
LOGIN_PASSWORD: Final = "integration-tests-only"
"""The writer and reader roles' password: roles are cluster-wide, so every test sets the same."""

Handler = Callable[[dict[str, Any], Any], Any]
HandlerWrapper = Callable[[Handler], Handler]


# ---------------------------------------------------------------------------------- services
@dataclass(frozen=True)
class ProjectionService:
    """A projection service as its stack deploys it: the declaration, the migration entry point
    (owner URL, writer password, settings environment) and the handler's composition root."""

    projection: Projection[Any]
    service_name: str
    migrate: Callable[[Mapping[str, str], str], MigrationReport]
    build_projector: Callable[[Mapping[str, str]], Projector[Any]]
    event_store_table_env: str
    schema_env: str

    @property
    def name(self) -> str:
        return self.projection.name


def _migrate_balances(environ: Mapping[str, str], writer_password: str) -> MigrationReport:
    settings = balances_settings.MigrationSettings.from_environment(environ)
    return balances_migrate.run(settings, writer_password=writer_password)


BALANCES: Final = ProjectionService(
    projection=BALANCES_PROJECTION,
    service_name=balances_settings.SERVICE_NAME,
    migrate=_migrate_balances,
    build_projector=balances_handler.build_projector,
    event_store_table_env=balances_settings.EVENT_STORE_TABLE_ENV,
    schema_env=balances_settings.PROJECTION_SCHEMA_ENV,
)


def _migrate_transactions(environ: Mapping[str, str], writer_password: str) -> MigrationReport:
    settings = transactions_settings.MigrationSettings.from_environment(environ)
    return transactions_migrate.run(settings, writer_password=writer_password)


TRANSACTIONS: Final = ProjectionService(
    projection=TRANSACTIONS_PROJECTION,
    service_name=transactions_settings.SERVICE_NAME,
    migrate=_migrate_transactions,
    build_projector=transactions_handler.build_projector,
    event_store_table_env=transactions_settings.EVENT_STORE_TABLE_ENV,
    schema_env=transactions_settings.PROJECTION_SCHEMA_ENV,
)


# ---------------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str


class CountingMetrics(EphemeralMetrics):
    """The projection's own metrics (``EventsApplied``, ``EventsSkipped``, ...), also tallied,
    so that tests can count what the handlers did across every invocation."""

    def __init__(self, totals: Counter[str]) -> None:
        super().__init__()
        self.totals = totals

    def add_metric(
        self, name: str, unit: MetricUnit | str, value: float, resolution: Any = 60
    ) -> None:
        if unit in (MetricUnit.Count, MetricUnit.Count.value):
            self.totals[name] += int(value)
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)


@dataclass
class DeployedProjection:
    """One projection service, deployed: its queues, mapping, state machine and pollers."""

    service: ProjectionService
    live: Queue
    live_dlq: Queue
    replay: Queue
    replay_dlq: Queue
    live_mapping_uuid: str
    state_machine_arn: str
    live_poller: SqsEventSource
    replay_poller: SqsEventSource
    totals: Counter[str]
    """The projection's metrics summed over every invocation (``EventsApplied`` ...)."""
    physical_schema: str

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def queues(self) -> tuple[Queue, ...]:
        return (self.live, self.live_dlq, self.replay, self.replay_dlq)


@dataclass
class System:
    """The running system; see the module docstring. Build it with :func:`whole_system`."""

    turns: Turns
    session: boto3.Session
    dynamodb: DynamoDBClient
    sqs: SQSClient
    sns: SNSClient
    lambda_client: LambdaClient
    stepfunctions: SFNClient
    iam: Any
    account_id: str
    stream_arn: str
    topic_arn: str
    owner_url: URL
    owner_engine: Engine
    relay_poller: DynamoDbStreamEventSource
    functions_url: URL
    """Where the functions reach the database (the owner's URL, or a proxy a test cuts)."""
    projections: dict[str, DeployedProjection] = field(default_factory=dict)
    relay_failures: list[dict[str, Any]] = field(default_factory=list)
    """Stream records the relay's mapping gave up on (its on-failure destination)."""
    _engines: list[Engine] = field(default_factory=list)
    _threads: list[PollerThreads] = field(default_factory=list)
    _handler_wrappers: dict[str, HandlerWrapper] = field(default_factory=dict)
    commands: CommandApi = field(init=False)
    """The command API's first container."""
    queries: QueryApi = field(init=False)
    """The query API's first container."""

    # ------------------------------------------------------------------ containers
    def command_api(self, dynamodb: DynamoDBClient | None = None) -> CommandApi:
        """A new container of the command API with its own handler and DynamoDB client
        (``dynamodb``: one a test wraps to inject a fault)."""
        client = self.session.client("dynamodb") if dynamodb is None else dynamodb
        handler = build_command_api(CommandSettings(event_store_table=TABLE), dynamodb=client)
        return CommandApi(self.turns.invocation(handler), COMMAND_ROUTES, "command-api")

    def query_api(self) -> QueryApi:
        """A new container of the query API, logged in as ``query_reader``."""
        environ = {
            DATABASE_URL_ENV: _login(self.functions_url, QUERY_READER),
            CURSOR_SIGNING_KEY_ENV: CURSOR_SIGNING_KEY,
        }
        api = build_query_api(QuerySettings.from_environment(environ))
        self.turns.release_during_statements(api.engine)
        self._engines.append(api.engine)

        # What query_api.handler wires around the app, on this container's app.
        @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
        @metrics.log_metrics(capture_cold_start_metric=True)
        def handle(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
            response = api.app.resolve(dict(event), context)
            count_answer(response["statusCode"])
            return response

        return QueryApi(self.turns.invocation(handle), QUERY_ROUTES, "query-api")

    def projection_handler(
        self, service: ProjectionService, totals: Counter[str], schema: str | None = None
    ) -> Handler:
        """A new container of a projection's function, writing ``schema`` (default: its own)."""
        environ = {
            DATABASE_URL_ENV: _login(self.functions_url, service.projection.writer_role),
            service.event_store_table_env: TABLE,
        }
        if schema is not None:
            environ[service.schema_env] = schema

        def build() -> Projector[Any]:
            # The composition root builds its DynamoDB client with boto3.client, that is from
            # the default session, which is this system's (its calls take turns too).
            projector = service.build_projector(environ)
            self.turns.release_during_statements(projector.engine)
            self._engines.append(projector.engine)
            return projector

        handler: Handler = make_lambda_handler(
            build,
            projection=service.name,
            service=service.service_name,
            metrics=CountingMetrics(totals),
        )
        wrapper = self._handler_wrappers.get(service.name)
        return self.turns.invocation(wrapper(handler) if wrapper else handler)

    # ------------------------------------------------------------------ deploying a projection
    def deploy(
        self, service: ProjectionService, *, live_enabled: bool = True
    ) -> DeployedProjection:
        """Deploy a projection service as its stack does (see the module docstring)."""
        name = service.name
        live, live_dlq = self._queue_with_dlq(f"{name}-live")
        replay, replay_dlq = self._queue_with_dlq(f"{name}-replay")
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=live.arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps(service.projection.filter_policy()),
            },
            ReturnSubscriptionArn=True,
        )
        function_arn = self._function(f"projection-{name}")
        mapping = self.lambda_client.create_event_source_mapping(
            EventSourceArn=live.arn, FunctionName=function_arn, BatchSize=10, Enabled=live_enabled
        )
        detach_moto_invocation(self.account_id, REGION, live.name)
        state_machine_arn = self._replay_state_machine(service, replay, replay_dlq, mapping)
        owner_env = {DATABASE_URL_ENV: self.owner_url.render_as_string(hide_password=False)}
        service.migrate(owner_env, LOGIN_PASSWORD)
        for role in (service.projection.writer_role, QUERY_READER):
            self.grant_login(role)

        totals: Counter[str] = Counter()
        uuid = str(mapping["UUID"])
        live_poller = SqsEventSource(
            name=f"{name}-live",
            sqs=self.sqs,
            queue_url=live.url,
            queue_arn=live.arn,
            handler=self.projection_handler(service, totals),
            function_name=f"projection-{name}",
            enabled=lambda: self.mapping_state(uuid) == "Enabled",
            region=REGION,
            wait_seconds=0,
        )
        replay_poller = SqsEventSource(
            name=f"{name}-replay",
            sqs=self.sqs,
            queue_url=replay.url,
            queue_arn=replay.arn,
            handler=self.projection_handler(service, totals),
            function_name=f"projection-{name}",
            region=REGION,
            wait_seconds=0,
        )
        deployed = DeployedProjection(
            service=service,
            live=live,
            live_dlq=live_dlq,
            replay=replay,
            replay_dlq=replay_dlq,
            live_mapping_uuid=uuid,
            state_machine_arn=state_machine_arn,
            live_poller=live_poller,
            replay_poller=replay_poller,
            totals=totals,
            physical_schema=name,
        )
        self.projections[name] = deployed
        if self._threads:
            self._start([live_poller, replay_poller])
        return deployed

    def _queue_with_dlq(self, base: str) -> tuple[Queue, Queue]:
        fifo = {"FifoQueue": "true"}
        dlq = self._queue(f"{base}-dlq.fifo", fifo)
        redrive = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
        queue = self._queue(
            f"{base}.fifo",
            {
                **fifo,
                "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
                "RedrivePolicy": redrive,
            },
        )
        return queue, dlq

    def _queue(self, name: str, attributes: Mapping[str, str]) -> Queue:
        url = self.sqs.create_queue(QueueName=name, Attributes=cast("Any", attributes))["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return Queue(name, str(url), str(arn))

    def _function(self, name: str) -> str:
        # The function's code never runs in moto (the pollers invoke the real handler); it only
        # has to exist for its event source mapping.
        role = self.iam.create_role(
            RoleName=f"{name}-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("placeholder.py", "def handler(event, context):\n    return None\n")
        created = self.lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="placeholder.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        return str(created["FunctionArn"])

    def _replay_state_machine(
        self,
        service: ProjectionService,
        replay: Queue,
        replay_dlq: Queue,
        mapping: Mapping[str, Any],
    ) -> str:
        projection = service.projection
        target = ReplayTarget(
            projection=projection.name,
            table_name=TABLE,
            aggregate_types=projection.aggregate_types,
            event_types=projection.event_types,
            replay_queue_url=replay.url,
            dead_letter_queue_url=replay_dlq.url,
            live_mapping_uuid=str(mapping["UUID"]),
            page_size=25,
            drain_poll_seconds=1,
        )
        table_arn = self.dynamodb.describe_table(TableName=TABLE)["Table"]["TableArn"]
        role_name = f"replay-{projection.name}"
        role_arn = self.iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(replay_assume_role_policy()),
        )["Role"]["Arn"]
        self.iam.put_role_policy(
            RoleName=role_name,
            PolicyName="replay",
            PolicyDocument=json.dumps(
                replay_role_policy(
                    table_arn=table_arn,
                    replay_queue_arn=replay.arn,
                    live_mapping_arn=str(mapping["EventSourceMappingArn"]),
                    dead_letter_queue_arn=replay_dlq.arn,
                )
            ),
        )
        created = self.stepfunctions.create_state_machine(
            name=f"replay-{projection.name}",
            definition=json.dumps(replay_state_machine_definition(target)),
            roleArn=role_arn,
        )
        return str(created["stateMachineArn"])

    def grant_login(self, role: str) -> None:
        """Let a role the migrations created log in with a password (what the platform's
        deployment does for the roles the functions use)."""
        with self.owner_engine.begin() as connection:
            quoted = connection.dialect.identifier_preparer.quote(role)
            connection.exec_driver_sql(f"ALTER ROLE {quoted} LOGIN PASSWORD '{LOGIN_PASSWORD}'")

    # ------------------------------------------------------------------ running the pollers
    @property
    def pollers(self) -> list[SqsEventSource | DynamoDbStreamEventSource]:
        found: list[SqsEventSource | DynamoDbStreamEventSource] = [self.relay_poller]
        for deployed in self.projections.values():
            found.extend([deployed.replay_poller, deployed.live_poller])
        return found

    def mapping_state(self, uuid: str) -> str:
        return str(self.lambda_client.get_event_source_mapping(UUID=uuid)["State"])

    def settle(self, timeout: float = 60.0) -> None:
        """Run the pollers in this thread until a whole round finds nothing to do and every
        queue whose mapping is enabled is empty (nothing visible, in flight or delayed)."""
        deadline = time.monotonic() + timeout
        while True:
            before = [poller.stats.batches for poller in self.pollers]
            for poller in self.pollers:
                poller.poll_once()
            if before == [poller.stats.batches for poller in self.pollers]:
                waiting = self.waiting()
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    msg = f"the system did not settle in {timeout} s: {waiting}"
                    raise AssertionError(msg)
                time.sleep(0.1)

    def waiting(self) -> dict[str, int]:
        """Messages not yet handled in queues whose pollers are on, by queue."""
        waiting: dict[str, int] = {}
        for deployed in self.projections.values():
            queues = [deployed.replay]
            if deployed.live_poller.enabled:
                queues.append(deployed.live)
            for queue in queues:
                depth = self.depth(queue)
                if depth:
                    waiting[queue.name] = depth
        return waiting

    def depth(self, queue: Queue) -> int:
        """Messages in a queue: visible, in flight and delayed."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Every poller on its own thread, as Lambda's mappings poll, for the block's duration
        (pollers of projections deployed meanwhile start too)."""
        self._start(self.pollers)
        try:
            yield
        finally:
            threads, self._threads = self._threads, []
            for group in threads:
                group.stop()

    def _start(self, pollers: Sequence[SqsEventSource | DynamoDbStreamEventSource]) -> None:
        threads = PollerThreads(list(pollers), idle_sleep=0.02)
        threads.start()
        self._threads.append(threads)

    # ------------------------------------------------------------------ looking inside
    def stored_events(self) -> list[EventEnvelope]:
        """Every event in the event store (idempotency records are not events)."""
        envelopes: list[EventEnvelope] = []
        request: dict[str, Any] = {"TableName": TABLE, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**request)
            for raw in page["Items"]:
                item = deserialize(raw)
                if item.get(Attr.ITEM_KIND.value) == ItemKind.EVENT.value:
                    envelopes.append(from_item(item))
            if "LastEvaluatedKey" not in page:
                return sorted(envelopes, key=lambda e: (e.stream_id, e.version))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def dead_letters(self) -> dict[str, int]:
        """How many messages each DLQ holds (only non-empty ones)."""
        found: dict[str, int] = {}
        for deployed in self.projections.values():
            for queue in (deployed.live_dlq, deployed.replay_dlq):
                depth = self.depth(queue)
                if depth:
                    found[queue.name] = depth
        return found

    def close(self) -> None:
        for group in self._threads:
            group.stop()
        self._threads.clear()
        # An execution still running (a test that failed half way) would go on calling AWS
        # from moto's worker thread after the mock is gone.
        for deployed in self.projections.values():
            running = self.stepfunctions.list_executions(
                stateMachineArn=deployed.state_machine_arn, statusFilter="RUNNING"
            )["executions"]
            for execution in running:
                self.stepfunctions.stop_execution(executionArn=execution["executionArn"])
        for engine in self._engines:
            engine.dispose()
        self.owner_engine.dispose()


# ---------------------------------------------------------------------------------- building
@contextlib.contextmanager
def whole_system(
    database_url: URL,
    *,
    relay_sns: Callable[[SNSClient], SNSClient] | None = None,
    projections: Sequence[ProjectionService] = (BALANCES, TRANSACTIONS),
    handler_wrappers: Mapping[str, HandlerWrapper] | None = None,
    functions_database_url: URL | None = None,
) -> Iterator[System]:
    """The system on a fresh database (the owner's URL), torn down afterwards.

    ``relay_sns`` wraps the relay's SNS client (fault injection); ``handler_wrappers`` wrap a
    projection's handler by projection name (what a crashing function would do);
    ``functions_database_url`` is where the projections and the query API reach the database
    (default: ``database_url``; e.g. a proxy a test stops), while migrations connect directly.
    """
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        # One default session for every client, ours and those moto's Step Functions
        # interpreter builds with boto3.client, so all of their calls take turns.
        boto3.setup_default_session(region_name=REGION)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        turns = Turns()
        turns.serialize_aws_calls(session.events)
        install_sdk_parameter_casing()
        system = _build(
            session,
            turns,
            database_url,
            functions_database_url or database_url,
            relay_sns,
            handler_wrappers or {},
        )
        try:
            for service in projections:
                system.deploy(service)
            yield system
        finally:
            system.close()


def _build(
    session: boto3.Session,
    turns: Turns,
    database_url: URL,
    functions_url: URL,
    relay_sns: Callable[[SNSClient], SNSClient] | None,
    handler_wrappers: Mapping[str, HandlerWrapper],
) -> System:
    dynamodb = session.client("dynamodb")
    created = dynamodb.create_table(
        TableName=TABLE, **cast("dict[str, Any]", event_store_key_schema())
    )
    stream_arn = str(created["TableDescription"]["LatestStreamArn"])
    sns = session.client("sns")
    topic_arn = str(
        sns.create_topic(
            Name=BUS,
            Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
        )["TopicArn"]
    )
    publisher = session.client("sns")
    relay = build_relay(
        RelaySettings(bus_topic_arn=topic_arn),
        relay_sns(publisher) if relay_sns is not None else publisher,
    )

    def relay_function(event: dict[str, Any], context: Any) -> Any:
        return relay_handler(event, context, relay=relay)

    failures: list[dict[str, Any]] = []
    relay_poller = DynamoDbStreamEventSource(
        name="stream-relay",
        streams=CurrentShardStreams(session.client("dynamodbstreams"), turns.exclusive),
        stream_arn=stream_arn,
        handler=turns.invocation(relay_function),
        function_name="stream-relay",
        batch_size=100,
        max_retries=5,
        on_failure=failures.append,
        region=REGION,
    )
    owner_engine = create_database_engine(
        DatabaseConfig(url=database_url.render_as_string(hide_password=False), pool_size=2)
    )
    system = System(
        turns=turns,
        session=session,
        dynamodb=dynamodb,
        sqs=session.client("sqs"),
        sns=sns,
        lambda_client=session.client("lambda"),
        stepfunctions=session.client("stepfunctions"),
        iam=session.client("iam"),
        account_id=session.client("sts").get_caller_identity()["Account"],
        stream_arn=stream_arn,
        topic_arn=topic_arn,
        owner_url=database_url,
        owner_engine=owner_engine,
        relay_poller=relay_poller,
        functions_url=functions_url,
        relay_failures=failures,
        _handler_wrappers=dict(handler_wrappers),
    )
    system.commands = system.command_api()
    system.queries = system.query_api()
    return system


def _login(owner_url: URL, role: str) -> str:
    """The owner's database URL, logging in as ``role`` instead."""
    return owner_url.set(username=role, password=LOGIN_PASSWORD).render_as_string(
        hide_password=False
    )
