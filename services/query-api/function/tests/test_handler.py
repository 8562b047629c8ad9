"""The Lambda entry point as Lambda runs it: configured by the environment, built once at import,
and lean to import."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest
from query_api.settings import (
    CURSOR_SIGNING_KEY_ENV,
    DATABASE_ATTACH_ENV,
    DATABASE_URL_ENV,
    TRACING_ENABLED_ENV,
)

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["untraced", "traced"])
def handler_module(database_config, monkeypatch, request):
    """``query_api.handler`` imported fresh under an environment naming the test's database,
    with tracing off and on (powertools keeps X-Ray itself disabled outside Lambda)."""
    if request.param == "traced":
        monkeypatch.setenv(TRACING_ENABLED_ENV, "true")
    monkeypatch.setenv(DATABASE_URL_ENV, database_config.url)
    if database_config.attach:
        monkeypatch.setenv(
            DATABASE_ATTACH_ENV,
            ",".join(f"{name}={path}" for name, path in database_config.attach.items()),
        )
    monkeypatch.setenv(CURSOR_SIGNING_KEY_ENV, KEY)
    sys.modules.pop("query_api.handler", None)
    module = importlib.import_module("query_api.handler")
    yield module
    assert (module.container().api.tracer is not None) == (request.param == "traced")
    module.container().api.engine.dispose()
    sys.modules.pop("query_api.handler", None)


def test_the_handler_answers_an_http_api_event(
    read_model, handler_module, make_event, lambda_context
):
    row = read_model.put(balance="70.25", version=2)

    response = handler_module.lambda_handler(
        make_event(f"/accounts/{row['account_id']}"), lambda_context
    )

    assert response["statusCode"] == 200
    assert response["headers"]["ETag"] == '"2"'
    assert json.loads(response["body"])["balance"] == "70.25"


def test_the_handler_pages_with_cursors_signed_by_the_configured_key(
    read_model, handler_module, make_event, lambda_context
):
    read_model.put_many(3)
    first = handler_module.lambda_handler(make_event("/accounts", {"limit": "2"}), lambda_context)
    cursor = json.loads(first["body"])["next_cursor"]

    second = handler_module.lambda_handler(
        make_event("/accounts", {"limit": "2", "cursor": cursor}), lambda_context
    )

    assert second["statusCode"] == 200
    assert len(json.loads(second["body"])["items"]) == 1


def test_the_handler_answers_problems_as_problem_json(
    read_model, handler_module, make_event, lambda_context
):
    response = handler_module.lambda_handler(
        make_event("/accounts", {"limit": "0"}), lambda_context
    )

    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"] == "application/problem+json"


# ------------------------------------------------------------------------------ cold start
PROBE = """
import json, sys, time
started = time.process_time()
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps({"seconds": time.process_time() - started, "modules": sorted(sys.modules)}))
"""
SQL = ("sqlalchemy", "sqlalchemy.dialects.postgresql.psycopg", "psycopg")
RUNS = 5


def probe(*modules: str, runs: int = RUNS, **environment: str) -> tuple[float, set[str]]:
    """Best of several cold imports in fresh interpreters, as Lambda's init phase does them
    (the handler wires itself; a Postgres URL, so no connection is opened)."""
    env = {
        **os.environ,
        DATABASE_URL_ENV: "postgresql+psycopg://query_reader@proxy.example:5432/app",
        CURSOR_SIGNING_KEY_ENV: KEY,
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "query-api",
        **environment,
    }
    best = float("inf")
    loaded: set[str] = set()
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", PROBE, *modules],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(result.stdout.strip().splitlines()[-1])
        best = min(best, report["seconds"])
        loaded = set(report["modules"])
    return best, loaded


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.subprocess
def test_the_handler_imports_no_orm_no_pulumi_no_aws_sdk_and_no_other_service():
    _, loaded = probe("query_api.handler", runs=1)

    # powertools imports the botocore package itself (a few kB, for its user agent); the SDK's
    # weight is in its sessions and clients.
    assert not loaded & {"sqlalchemy.orm", "botocore.session", "botocore.client"}
    assert not top_level(loaded) & {
        "sqlmodel",
        "pulumi",
        "pulumi_aws",
        "boto3",
        "aws_xray_sdk",
        "command_api",
        "stream_relay",
        "platform_projections",
        "projection_balances",
    }


@pytest.mark.subprocess
def test_tracing_costs_the_x_ray_sdk_only_when_enabled():
    _, loaded = probe("query_api.handler", runs=1, **{TRACING_ENABLED_ENV: "true"})

    assert "aws_xray_sdk" in top_level(loaded)


@pytest.mark.subprocess
@pytest.mark.slow
def test_cold_start_imports_stay_within_budget():
    """Beyond SQLAlchemy with psycopg (unavoidable for a SQL function), importing the handler
    costs less than 1.5x a bare ``import boto3``."""
    boto3_alone, _ = probe("boto3")
    unavoidable, _ = probe(*SQL)
    handler, _ = probe("query_api.handler")

    added = handler - unavoidable
    assert added <= 1.5 * boto3_alone, (
        f"query_api.handler adds {added:.3f}s to SQLAlchemy+psycopg ({unavoidable:.3f}s);"
        f" budget {1.5 * boto3_alone:.3f}s (1.5x import boto3)"
    )


def test_importing_the_handler_outside_lambda_needs_no_environment(monkeypatch):
    for name in (DATABASE_URL_ENV, CURSOR_SIGNING_KEY_ENV, "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("query_api.handler", None)
    try:
        module = importlib.import_module("query_api.handler")
        assert module.container.cache_info().currsize == 0
    finally:
        sys.modules.pop("query_api.handler", None)
