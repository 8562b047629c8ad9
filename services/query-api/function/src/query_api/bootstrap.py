"""Composition root: settings, the read-only engine and the HTTP app, built once per container."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from sqlalchemy import Engine

from query_api.api import build_app
from query_api.cursors import CursorSigner
from query_api.database import query_engine
from query_api.observability import new_tracer
from query_api.settings import QuerySettings

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


@dataclass(frozen=True, slots=True)
class QueryApi:
    """The wired app, the engine it reads through (kept to dispose of it, e.g. in tests) and
    the tracer when tracing is enabled."""

    app: APIGatewayHttpResolver
    engine: Engine
    tracer: Tracer | None = None


def build_query_api(settings: QuerySettings, engine: Engine | None = None) -> QueryApi:
    """Wire the app; tests and the local runner may pass an engine of their own."""
    engine = engine if engine is not None else query_engine(settings.database)
    signer = CursorSigner(settings.cursor_signing_key.get_secret_value().encode())
    tracer = new_tracer() if settings.tracing_enabled else None
    return QueryApi(app=build_app(engine, signer, tracer), engine=engine, tracer=tracer)


def query_api_from_environment(environ: Mapping[str, str] | None = None) -> QueryApi:
    """The app as the environment configures it (``settings`` names the variables)."""
    return build_query_api(QuerySettings.from_environment(environ))
