"""pytest plugin: safe AWS defaults for every test, and PostgreSQL fixtures.

Fixtures:
- ``postgres_server_url`` (session): the admin URL of a real PostgreSQL; tests that use it are
  skipped with a loud reason when neither TEST_DATABASE_URL nor a Docker engine is available.
- ``database_url`` (function): a fresh, empty database on that server, dropped after the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final

import pytest
from sqlalchemy.engine import URL

from platform_testing.postgres import TEST_DATABASE_URL, server_url, throwaway_database

# Never let a test reach a real AWS account, and work around moto 5.2's DynamoDB Streams 404
# with boto3 >= 1.44 (account-id based endpoints).
AWS_TEST_ENVIRONMENT: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "cqrs-platform-tests",
    "POWERTOOLS_SERVICE_NAME": "tests",
}

NO_POSTGRES_REASON: Final = (
    f"NO POSTGRESQL: set {TEST_DATABASE_URL} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
    " or start a Docker engine for testcontainers; these tests did NOT run"
)


def pytest_configure(config: pytest.Config) -> None:
    for key, value in AWS_TEST_ENVIRONMENT.items():
        os.environ[key] = value
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with server_url() as url:
        if url is None:
            pytest.skip(NO_POSTGRES_REASON)
        yield url


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[URL]:
    with throwaway_database(postgres_server_url) as url:
        yield url
