"""The runner's own routes: health, OpenAPI documents, Swagger UI, status and replays."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from platform_events import layout
from platform_local import aws
from platform_local.gateway import LocalResponse, LocalRoute, json_response

if TYPE_CHECKING:
    from platform_replay.progress import ProgressReader, ReplayProgress

    from platform_local.system import HostedProjection, LocalSystem

SWAGGER_ASSETS: Final = {
    "/docs/swagger-ui-bundle.min.js": ("swagger-ui-bundle.min.js", "application/javascript"),
    "/docs/swagger-ui.min.css": ("swagger-ui.min.css", "text/css"),
}
OPENAPI_DOCUMENTS: Final = ("/command-api/openapi.json", "/query-api/openapi.json")
REPLAY_PATH: Final = re.compile(r"^/_local/projections/(?P<name>[a-z_]+)/replay$")
EVENTS_PATH: Final = "/_local/events"
EVENTS_PAGE_DEFAULT: Final = 500
EVENTS_PAGE_MAX: Final = 1000
DOCS_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cqrs-platform (local)</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body>
<div id="command-api"></div>
<div id="query-api"></div>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>
// One Swagger UI per API: powertools ships the bundle, not the standalone preset whose top bar
// would switch between documents.
for (const api of ["command-api", "query-api"]) {
  SwaggerUIBundle({
    dom_id: "#" + api,
    url: "/" + api + "/openapi.json",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
}
</script></body></html>
"""


@functools.cache
def _swagger_asset(filename: str) -> bytes:
    # powertools ships Swagger UI for its own offline docs; no CDN is ever asked.
    folder = resources.files("aws_lambda_powertools.event_handler.openapi") / "swagger_ui"
    return (folder / filename).read_bytes()


@functools.cache
def _openapi(path: str) -> bytes:
    if path == OPENAPI_DOCUMENTS[0]:
        from command_api.openapi import render  # noqa: PLC0415

        return render().encode()
    from query_api.openapi import openapi_document  # noqa: PLC0415

    return openapi_document().encode()


def local_routes(system: LocalSystem) -> list[LocalRoute]:
    # One reader per execution: a reader tallies the history it has seen, so each read asks only
    # for what is new instead of re-counting every page the replay sent.
    progress_readers: dict[str, ProgressReader] = {}

    def replay_progress(execution_arn: str) -> dict[str, Any]:
        reader = progress_readers.get(execution_arn)
        if reader is None:
            reader = progress_readers[execution_arn] = progress_reader(execution_arn)
        return progress_document(reader.read())

    def health(method: str, path: str, query: Mapping[str, str], body: bytes) -> Any:
        if path != "/health":
            return None
        ready = system.ready.is_set()
        status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
        return json_response({"status": "ok" if ready else "starting"}, status)

    def docs(method: str, path: str, query: Mapping[str, str], body: bytes) -> Any:
        if method != "GET":
            return None
        if path in ("/docs", "/docs/"):
            return LocalResponse(HTTPStatus.OK, DOCS_PAGE.encode(), "text/html; charset=utf-8")
        if path in SWAGGER_ASSETS:
            filename, content_type = SWAGGER_ASSETS[path]
            return LocalResponse(HTTPStatus.OK, _swagger_asset(filename), content_type)
        if path in OPENAPI_DOCUMENTS:
            return LocalResponse(HTTPStatus.OK, _openapi(path))
        return None

    def status(method: str, path: str, query: Mapping[str, str], body: bytes) -> Any:
        if path != "/_local/status" or method != "GET":
            return None
        return json_response(status_document(system))

    def replay(method: str, path: str, query: Mapping[str, str], body: bytes) -> Any:
        match = REPLAY_PATH.match(path)
        if match is not None and method == "POST":
            hosted = system.projections.get(match["name"])
            if hosted is None:
                return json_response(
                    {
                        "error": f"unknown projection {match['name']!r}",
                        "projections": sorted(system.projections),
                    },
                    HTTPStatus.NOT_FOUND,
                )
            return json_response(start_replay(hosted), HTTPStatus.ACCEPTED)
        if path == "/_local/replays" and method == "GET":
            arn = query.get("execution_arn", "")
            if not arn:
                return json_response({"error": "execution_arn is required"}, 400)
            return json_response(replay_progress(arn))
        return None

    def events(method: str, path: str, query: Mapping[str, str], body: bytes) -> Any:
        if path != EVENTS_PATH or method != "GET":
            return None
        try:
            limit = int(query.get("limit", EVENTS_PAGE_DEFAULT))
            start = _decode_store_cursor(query["cursor"]) if query.get("cursor") else None
        except ValueError as error:
            return json_response({"error": str(error)}, HTTPStatus.BAD_REQUEST)
        if not 1 <= limit <= EVENTS_PAGE_MAX:
            return json_response(
                {"error": f"limit must be 1..{EVENTS_PAGE_MAX}"}, HTTPStatus.BAD_REQUEST
            )
        return json_response(store_events(system, limit, start))

    return [health, docs, status, replay, events]


def store_events(system: LocalSystem, limit: int, start: dict[str, Any] | None) -> dict[str, Any]:
    """One page of the event store's events as contract envelopes (read-only, for audits and
    debugging): ``{"items": [...], "next_cursor": str or null}``, in no particular order. A page
    may hold fewer than ``limit`` events (other items, e.g. idempotency records, are skipped)."""
    from platform_events.dynamodb import from_dynamodb_json  # noqa: PLC0415

    assert system.platform is not None
    scan: dict[str, Any] = {"TableName": system.platform.table_name, "Limit": limit}
    if start is not None:
        scan["ExclusiveStartKey"] = start
    page = aws.Emulator.client("dynamodb").scan(**scan)
    items = []
    for item in page["Items"]:
        if item.get(layout.Attr.ITEM_KIND.value, {}).get("S") == layout.ItemKind.EVENT:
            items.append(from_dynamodb_json(item).to_dict())
    last = page.get("LastEvaluatedKey")
    return {"items": items, "next_cursor": _encode_store_cursor(last) if last else None}


def _encode_store_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_store_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"not a cursor this server issued: {error}") from error
    # Exactly the table's key, so a forged cursor cannot reach moto as a malformed request.
    expected = {layout.PARTITION_KEY.value: "S", layout.SORT_KEY.value: "N"}
    if not isinstance(key, dict) or set(key) != set(expected):
        raise ValueError("not a cursor this server issued")
    for attribute, kind in expected.items():
        value = key[attribute]
        if not isinstance(value, dict) or set(value) != {kind} or not isinstance(value[kind], str):
            raise ValueError("not a cursor this server issued")
    if not key[layout.SORT_KEY.value]["N"].isdigit():
        raise ValueError("not a cursor this server issued")
    return key


def start_replay(hosted: HostedProjection) -> dict[str, Any]:
    """A running projection is rebuilt blue/green (queries keep the old generation until the
    new one is promoted); one whose live mapping is still off gets its first replay."""
    from platform_replay.progress import start_replay as start  # noqa: PLC0415

    rebuild = hosted.live.enabled
    arn = start(
        aws.Emulator.client("stepfunctions"), hosted.resources.state_machine_arn, rebuild=rebuild
    )
    return {"projection": hosted.spec.name, "execution_arn": arn, "rebuild": rebuild}


def progress_reader(execution_arn: str) -> ProgressReader:
    from platform_replay.progress import ProgressReader  # noqa: PLC0415

    return ProgressReader(
        execution_arn,
        stepfunctions=aws.Emulator.client("stepfunctions"),
        sqs=aws.Emulator.client("sqs"),
        lambda_client=aws.Emulator.client("lambda"),
    )


def progress_document(progress: ReplayProgress) -> dict[str, Any]:
    return {
        "projection": progress.projection,
        "status": progress.status,
        "phase": str(progress.phase),
        "events_sent": progress.events_sent,
        "partitions_done": progress.partitions_done,
        "partitions_total": progress.partitions_total,
        "queue_depth": progress.queue_depth.total if progress.queue_depth else None,
        "live_mapping_state": progress.live_mapping_state,
        "rebuild": progress.rebuild,
        "finished": progress.finished,
        "succeeded": progress.succeeded,
        "error": progress.error,
        "line": progress.line(),
    }


def status_document(system: LocalSystem) -> dict[str, Any]:
    heads, events = store_heads(system)
    projections = []
    for name, hosted in system.projections.items():
        positions, generation = read_positions(hosted)
        handled = set(hosted.spec.declaration.event_types)
        behind = sum(
            max(0, head - positions.get(stream, 0))
            for (stream, event_type), head in heads.items()
            if event_type in handled
        )
        projections.append(
            {
                "name": name,
                "generation": generation,
                "position": sum(positions.values()),
                "streams": len(positions),
                "lag_events": behind,
                "live_enabled": hosted.live.enabled,
                "queues": {
                    "live": aws.queue_depth(hosted.resources.live),
                    "live_dlq": aws.queue_depth(hosted.resources.live_dlq),
                    "replay": aws.queue_depth(hosted.resources.replay),
                    "replay_dlq": aws.queue_depth(hosted.resources.replay_dlq),
                },
                "pollers": {
                    "live": hosted.live.stats.as_dict(),
                    "replay": hosted.replay.stats.as_dict(),
                },
            }
        )
    return {
        "events_in_store": events,
        "relay": system.stream.stats.as_dict() if system.stream else None,
        "projections": projections,
    }


def store_heads(system: LocalSystem) -> tuple[dict[tuple[str, str], int], int]:
    """(stream, event type) -> the last version of that type (what a projection must reach),
    and how many events the store holds."""
    from platform_events.layout import Attr, ItemKind  # noqa: PLC0415

    assert system.platform is not None
    heads: dict[tuple[str, str], int] = {}
    events = 0
    paginator = aws.Emulator.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=system.platform.table_name,
        ProjectionExpression="#s, #v, #t, #k",
        ExpressionAttributeNames={
            "#s": Attr.STREAM_ID.value,
            "#v": Attr.VERSION.value,
            "#t": Attr.EVENT_TYPE.value,
            "#k": Attr.ITEM_KIND.value,
        },
    ):
        for item in page["Items"]:
            if item.get(Attr.ITEM_KIND.value, {}).get("S") != ItemKind.EVENT:
                continue
            events += 1
            key = (item[Attr.STREAM_ID.value]["S"], item[Attr.EVENT_TYPE.value]["S"])
            heads[key] = max(heads.get(key, 0), int(item[Attr.VERSION.value]["N"]))
    return heads, events


def read_positions(hosted: HostedProjection) -> tuple[dict[str, int], int]:
    """Every stream's position in the active generation, and that generation."""
    from platform_projections.generations import read_generations  # noqa: PLC0415
    from platform_projections.positions import read_positions as read  # noqa: PLC0415
    from platform_projections.positions import runtime_tables  # noqa: PLC0415
    from platform_sql import DatabaseConfig, create_database_engine  # noqa: PLC0415

    name = hosted.spec.name
    tables = runtime_tables(name)
    engine = create_database_engine(DatabaseConfig.from_environment(hosted.environment))
    try:
        with engine.connect() as connection:
            active = read_generations(connection, tables, name).active
            return read(connection, tables.positions, active), active
    finally:
        engine.dispose()
