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
)

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def handler_module(database_config, monkeypatch):
    """``query_api.handler`` imported fresh under an environment naming the test's database."""
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
    module.container.engine.dispose()
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


def probe(*modules: str, runs: int = RUNS) -> tuple[float, set[str]]:
    """Best of several cold imports in fresh interpreters, as Lambda's init phase would do them
    (tracing on, a Postgres URL; no connection is opened at import)."""
    env = {
        **os.environ,
        DATABASE_URL_ENV: "postgresql+psycopg://query_reader@proxy.example:5432/app",
        CURSOR_SIGNING_KEY_ENV: KEY,
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_TRACE_DISABLED": "false",
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


@pytest.mark.subprocess
def test_the_handler_imports_no_orm_no_pulumi_and_no_other_service():
    _, loaded = probe("query_api.handler", runs=1)

    assert not {"sqlalchemy.orm", "sqlmodel", "pulumi", "pulumi_aws"} & loaded
    assert not {
        name for name in loaded if name.split(".")[0] in {"command_api", "platform_projections"}
    }
    assert not {name for name in loaded if name.startswith("projection_")}


@pytest.mark.subprocess
@pytest.mark.slow
def test_cold_start_imports_stay_within_budget():
    """What this function adds to a cold start beyond what any SQL function on AWS pays for
    (SQLAlchemy with psycopg, and botocore, which X-Ray's SDK and the IAM/secret credential path
    both load) stays under 1.5x a bare ``import boto3``."""
    boto3_alone, _ = probe("boto3")
    unavoidable, _ = probe(*SQL, "boto3")
    handler, _ = probe("query_api.handler")

    added = handler - unavoidable
    assert added <= 1.5 * boto3_alone, (
        f"query_api.handler adds {added:.3f}s on top of SQLAlchemy+psycopg+boto3"
        f" ({unavoidable:.3f}s); budget {1.5 * boto3_alone:.3f}s (1.5x import boto3)"
    )
