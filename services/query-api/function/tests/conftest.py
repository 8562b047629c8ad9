"""Fixtures: the read models on a real Postgres (or SQLite), and the query API over them.

The read models' tables are created by the projections' own migrations (a test-only dependency:
the function never imports a projection), so the queries are tested against exactly the tables,
indexes and grants production has. Rows are written straight into those tables, so a test can
hold any state, including ones only a broken projection could write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import projection_balances.migrate
import projection_transactions.migrate
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from platform_sql import DatabaseConfig, create_database_engine
from projection_balances.model import accounts as accounts_table
from projection_balances.settings import MigrationSettings as BalancesMigration
from projection_transactions.model import transactions as transactions_table
from projection_transactions.settings import MigrationSettings as TransactionsMigration
from query_api.api import build_app
from query_api.cursors import CursorSigner
from query_api.database import query_engine
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from platform_testing.lambda_events import LambdaContext

SIGNING_KEY = b"k" * 32
T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
SCHEMAS = ("balances", "transactions")
ACTIVE = 1
"""The generation the migrations make active; rows of another one are a rebuild's."""


def create_read_models(engine: Engine, config: DatabaseConfig) -> None:
    """Both projections' schemas, as their deploy-time migrations leave them."""
    projection_balances.migrate.run(BalancesMigration(database=config), engine=engine)
    projection_transactions.migrate.run(TransactionsMigration(database=config), engine=engine)


# ------------------------------------------------------------------------------ rows
@dataclass
class ReadModel:
    """The read models as the projections would write them (through the owner's connection)."""

    engine: Engine

    def put(
        self,
        account_id: str | None = None,
        *,
        owner: str = "Ada",
        currency: str = "EUR",
        balance: Decimal | str = "0.00",
        status: str = "open",
        version: int = 1,
        updated_at: datetime = T0,
        generation: int = ACTIVE,
    ) -> dict[str, Any]:
        row = {
            "account_id": account_id or str(uuid.uuid4()),
            "owner": owner,
            "currency": currency,
            "balance": Decimal(balance),
            "status": status,
            "version": version,
            "updated_at": updated_at,
        }
        with self.engine.begin() as connection:
            connection.execute(
                accounts_table.delete().where(
                    accounts_table.c.generation == generation,
                    accounts_table.c.account_id == row["account_id"],
                )
            )
            connection.execute(accounts_table.insert().values({**row, "generation": generation}))
        return row

    def put_many(self, count: int, **values: Any) -> list[dict[str, Any]]:
        return [
            self.put(updated_at=T0 + timedelta(seconds=index), **values) for index in range(count)
        ]

    def movements(
        self, account_id: str, *amounts: str, first_version: int = 2, generation: int = ACTIVE
    ) -> list[dict[str, Any]]:
        """Transactions rows as the transactions projection writes them: ``"10.00"`` deposits,
        ``"-2.50"`` withdraws, versions from ``first_version`` on (1 is AccountOpened)."""
        rows = []
        balance = Decimal("0.00")
        for offset, text_amount in enumerate(amounts):
            amount = Decimal(text_amount)
            balance += amount
            version = first_version + offset
            rows.append(
                {
                    "account_id": account_id,
                    "version": version,
                    "event_id": str(uuid.uuid4()),
                    "type": "deposit" if amount > 0 else "withdrawal",
                    "amount": abs(amount),
                    "balance_after": balance,
                    "reference": f"ref {version}" if version % 2 else None,
                    "occurred_at": T0 + timedelta(minutes=version),
                }
            )
        if rows:
            with self.engine.begin() as connection:
                connection.execute(
                    transactions_table.insert().values(
                        [{**row, "generation": generation} for row in rows]
                    )
                )
        return rows


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every route test runs on both databases the query code meets: Postgres (AWS) and SQLite
    with ``balances`` and ``transactions`` ATTACHed (the local runner). A module may override it
    to pin one."""
    return str(request.param)


@pytest.fixture
def database_config(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseConfig:
    """How the query side reaches the read model, as its settings would say it."""
    if backend == "sqlite":
        return DatabaseConfig(
            url=f"sqlite:///{tmp_path / 'main.db'}",
            attach={schema: str(tmp_path / f"{schema}.db") for schema in SCHEMAS},
        )
    url: URL = request.getfixturevalue("database_url")
    return DatabaseConfig(url=url.render_as_string(hide_password=False))


@pytest.fixture
def admin_engine(database_config: DatabaseConfig) -> Iterator[Engine]:
    """The migration owner's and the projection's connection: DDL and writes."""
    engine = create_database_engine(database_config)
    create_read_models(engine, database_config)
    yield engine
    engine.dispose()


@pytest.fixture
def read_model(admin_engine: Engine) -> ReadModel:
    return ReadModel(admin_engine)


@pytest.fixture
def engine(admin_engine: Engine, database_config: DatabaseConfig) -> Iterator[Engine]:
    """The query side's own engine (read-only), as the composition root builds it."""
    engine = query_engine(database_config)
    yield engine
    engine.dispose()


@pytest.fixture
def cursors() -> CursorSigner:
    return CursorSigner(SIGNING_KEY)


@pytest.fixture
def app(engine: Engine, cursors: CursorSigner) -> APIGatewayHttpResolver:
    return build_app(engine, cursors)


# ------------------------------------------------------------------------------ HTTP
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def problem(self) -> dict[str, Any]:
        """The problem document, checked against the contract's shape."""
        assert self.content_type == "application/problem+json", self
        document = self.json
        assert set(document) == {"type", "title", "status", "detail", "code"}, document
        assert document["status"] == self.status
        assert document["type"] == f"urn:cqrs-platform:problem:{document['code']}"
        return dict(document)


def http_event(
    path: str,
    query: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as API Gateway builds it: repeated
    query parameters joined with commas, header names in lower case."""
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    joined: dict[str, list[str]] = {}
    for name, value in pairs:
        joined.setdefault(name, []).append(value)
    request_headers = {"accept": "application/json", "user-agent": "pytest"}
    request_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(
            pairs, quote_via=quote, encoding="utf-8", errors="surrogatepass"
        ),
        "headers": request_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/May/2024:12:30:00 +0000",
            "timeEpoch": 1714566600000,
        },
        "isBase64Encoded": False,
    }
    if joined:
        event["queryStringParameters"] = {name: ",".join(values) for name, values in joined.items()}
    return event


def answer_of(response: Mapping[str, Any]) -> Answer:
    headers = {name: str(value) for name, value in (response.get("headers") or {}).items()}
    return Answer(status=response["statusCode"], headers=headers, body=response.get("body") or "")


Get = Callable[..., Answer]


@pytest.fixture
def get(app: APIGatewayHttpResolver) -> Get:
    """``get(path, query, headers)`` through the app, as API Gateway would call it."""

    def call(
        path: str,
        query: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
    ) -> Answer:
        return answer_of(
            app.resolve(http_event(path, query, headers, method), LambdaContext("query-api"))
        )

    return call


@pytest.fixture
def walk(get: Get) -> Callable[..., list[list[dict[str, Any]]]]:
    """``walk(limit=, between=callable, **filters)``: follow next_cursor to the last page;
    ``between(pages_so_far)`` runs after each page but the last, to change the data meanwhile."""

    def follow(
        limit: int,
        between: Callable[[list[list[dict[str, Any]]]], None] | None = None,
        **filters: str,
    ) -> list[list[dict[str, Any]]]:
        pages: list[list[dict[str, Any]]] = []
        cursor: str | None = None
        while True:
            query = {**filters, "limit": str(limit)}
            if cursor is not None:
                query["cursor"] = cursor
            answer = get("/accounts", query)
            assert answer.status == 200, answer
            pages.append(answer.json["items"])
            cursor = answer.json["next_cursor"]
            if cursor is None:
                return pages
            assert len(pages) < 1000, "pagination does not end"
            if between is not None:
                between(pages)

    return follow


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """``make_event(path, query, headers)``: an HTTP API payload 2.0 event."""
    return http_event


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext("query-api")
