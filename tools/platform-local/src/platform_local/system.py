"""The whole system in one process: emulated AWS, the real handlers, pollers and a gateway."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from platform_local import aws
from platform_local.gateway import FunctionRoute, Gateway
from platform_local.journal import EventStoreJournal
from platform_local.pollers import (
    DynamoDbStreamEventSource,
    Handler,
    Poller,
    PollerThreads,
    SqsEventSource,
)
from platform_local.projections import KNOWN, LocalProjection

log = logging.getLogger(__name__)

JOURNAL_FILE: Final = "event-store.journal"
CURSOR_KEY_FILE: Final = "cursor-signing.key"
REPLAY_BATCH_SIZE: Final = 10
LIVE_BATCH_SIZE: Final = 10
STREAM_BATCH_SIZE: Final = 100
COMMAND_METHODS: Final = frozenset({"POST", "DELETE", "PUT", "PATCH"})
QUERY_METHODS: Final = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class LocalSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".local")
    database_url: str | None = None
    """None: SQLite files under ``data_dir``; else a Postgres URL the projections share."""
    projections: tuple[str, ...] = tuple(KNOWN)


@dataclass(slots=True)
class HostedProjection:
    spec: LocalProjection
    resources: aws.ProjectionResources
    live: SqsEventSource
    replay: SqsEventSource
    environment: dict[str, str]


@dataclass(slots=True)
class LocalSystem:
    """Builds and runs everything; ``start`` returns once the system answers requests."""

    settings: LocalSettings
    started_at: float = field(default_factory=time.time)
    ready: threading.Event = field(default_factory=threading.Event)
    _emulator: aws.Emulator = field(default_factory=aws.Emulator)
    _journal: EventStoreJournal | None = None
    _pollers: PollerThreads | None = None
    _server: ThreadingHTTPServer | None = None
    _server_thread: threading.Thread | None = None
    projections: dict[str, HostedProjection] = field(default_factory=dict)
    platform: aws.Platform | None = None
    stream: DynamoDbStreamEventSource | None = None
    query_environment: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        started = time.monotonic()
        for key, value in aws.LOCAL_ENVIRONMENT.items():
            os.environ.setdefault(key, value)
        # The handlers log JSON through powertools; the runner's own log is the readable one.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "cqrs-platform-local")
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._emulator.start()
        self.platform = platform = aws.create_platform()

        journal_path = self.settings.data_dir / JOURNAL_FILE
        self._journal = EventStoreJournal(journal_path)
        if journal_path.exists():
            restored = self._journal.restore(aws.Emulator.client("dynamodb"))
            log.info("restored %d event store items from %s", restored, journal_path)

        pollers: list[Poller] = []
        self.stream = DynamoDbStreamEventSource(
            name="stream-relay",
            streams=aws.Emulator.client("dynamodbstreams"),
            stream_arn=platform.stream_arn,
            handler=self._relay_handler(platform),
            function_name="stream-relay",
            batch_size=STREAM_BATCH_SIZE,
            on_failure=lambda record: log.error("relay gave up on record %s", record["eventID"]),
        )
        pollers.append(self.stream)
        for name in self.settings.projections:
            hosted = self._host_projection(KNOWN[name](), platform)
            self.projections[name] = hosted
            pollers += [hosted.live, hosted.replay]

        gateway = Gateway(
            functions=[
                FunctionRoute("command-api", COMMAND_METHODS, "/accounts", self._command_handler()),
                FunctionRoute("query-api", QUERY_METHODS, "/accounts", self._query_handler()),
            ],
            local_routes=self._local_routes(),
        )
        self._pollers = PollerThreads(pollers)
        self._pollers.start()
        self._server = gateway.server(self.settings.host, self.settings.port)
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="gateway", daemon=True
        )
        self._server_thread.start()
        self.ready.set()
        log.info(
            "ready in %.1f s on http://%s:%d (data in %s)",
            time.monotonic() - started,
            self.settings.host,
            self.port,
            self.settings.data_dir,
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.settings.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._pollers is not None:
            self._pollers.stop()
        if self._journal is not None:
            self._journal.close()
        self._emulator.stop()
        log.info("stopped")

    # ------------------------------------------------------------------ wiring
    def _database_environment(self, schemas: tuple[str, ...]) -> dict[str, str]:
        from platform_sql import DATABASE_ATTACH_ENV, DATABASE_URL_ENV  # noqa: PLC0415

        if self.settings.database_url:
            return {DATABASE_URL_ENV: self.settings.database_url}
        data = self.settings.data_dir.resolve()
        return {
            DATABASE_URL_ENV: f"sqlite:///{data / 'main.db'}",
            DATABASE_ATTACH_ENV: ",".join(f"{s}={data / (s + '.db')}" for s in schemas),
        }

    def _relay_handler(self, platform: aws.Platform) -> Handler:
        from stream_relay.bootstrap import build_relay  # noqa: PLC0415
        from stream_relay.handler import lambda_handler  # noqa: PLC0415
        from stream_relay.settings import RelaySettings  # noqa: PLC0415

        relay = build_relay(
            RelaySettings(bus_topic_arn=platform.bus_arn), aws.Emulator.client("sns")
        )
        return functools.partial(lambda_handler, relay=relay)

    def _command_handler(self) -> Handler:
        from command_api.bootstrap import build  # noqa: PLC0415
        from command_api.settings import EVENT_STORE_TABLE_ENV, Settings  # noqa: PLC0415

        assert self.platform is not None
        assert self._journal is not None
        client = aws.Emulator.client("dynamodb")
        self._journal.attach(client)  # fsync'ed before any command is answered
        settings = Settings.from_environ({EVENT_STORE_TABLE_ENV: self.platform.table_name})
        handler: Handler = build(settings, dynamodb=client)
        return handler

    def _query_handler(self) -> Handler:
        from query_api.bootstrap import build_query_api  # noqa: PLC0415
        from query_api.settings import CURSOR_SIGNING_KEY_ENV, QuerySettings  # noqa: PLC0415

        environment = {
            **self._database_environment(tuple(self.projections)),
            CURSOR_SIGNING_KEY_ENV: self._cursor_key(),
        }
        self.query_environment = environment
        api = build_query_api(QuerySettings.from_environment(environment))

        def handle(event: Mapping[str, Any], context: Any) -> Any:
            return api.app.resolve(dict(event), context)

        return handle

    def _cursor_key(self) -> str:
        # Kept with the data, so cursors handed out before a restart stay valid after it.
        path = self.settings.data_dir / CURSOR_KEY_FILE
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def _host_projection(self, spec: LocalProjection, platform: aws.Platform) -> HostedProjection:
        from platform_projections.lambda_handler import make_lambda_handler  # noqa: PLC0415

        environment = {
            **self._database_environment((spec.name,)),
            "EVENT_STORE_TABLE": platform.table_name,
        }
        spec.migrate(environment)
        resources = aws.create_projection(
            platform,
            spec.name,
            filter_policy=spec.declaration.filter_policy(),
            aggregate_types=spec.declaration.aggregate_types,
            event_types=spec.declaration.event_types,
            # The store is restored from the journal through the stream, so live events carry
            # the whole history: a replay is only needed for a rebuild.
            live_enabled=True,
        )
        handler = make_lambda_handler(
            lambda: spec.build_projector(environment), projection=spec.name, service=spec.service
        )

        def source(kind: str, queue: aws.Queue, enabled: Any) -> SqsEventSource:
            return SqsEventSource(
                name=f"{spec.name}-{kind}",
                sqs=aws.Emulator.client("sqs"),
                queue_url=queue.url,
                queue_arn=queue.arn,
                handler=handler,
                function_name=spec.service,
                batch_size=LIVE_BATCH_SIZE if kind == "live" else REPLAY_BATCH_SIZE,
                enabled=enabled,
            )

        mapping = resources.live_mapping_uuid
        return HostedProjection(
            spec=spec,
            resources=resources,
            live=source("live", resources.live, lambda: aws.mapping_enabled(mapping)),
            replay=source("replay", resources.replay, lambda: True),
            environment=environment,
        )

    def _local_routes(self) -> list[Any]:
        from platform_local.routes import local_routes  # noqa: PLC0415

        return local_routes(self)
