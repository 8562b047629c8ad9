"""Secrets stay secret: never in a stack's resources or outputs in plain text, never in a log line
(nor an error a Lambda reports) of the functions that hold them, never in the repository.

- Stacks: every stack's real program under Pulumi mocks; the database password is RDS's alone
  (no resource input, environment or export carries one), the one secret a stack does hold (the
  query API's cursor signing key, planted as a sentinel) is in its function's environment only,
  marked secret.
- Logs: the projection handler, the migration handler and the query handler run with a password
  in a Secrets Manager secret (moto) or in the URL, against real Postgres, on the paths that work
  and on the paths where the database refuses the login; powertools' JSON lines, every logging
  record, stdout/stderr and the errors Lambda would report are searched for the password.
- Repository: every tracked file is scanned for AWS keys, private keys, tokens and passwords in
  URLs.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import subprocess
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import boto3
import pytest
from moto import mock_aws
from platform_infra.testing import RecordedStack
from platform_local.pollers import LambdaContext
from platform_projections import QUERY_READER, Projector
from platform_projections.lambda_handler import make_lambda_handler
from platform_projections.migrations import MigrationError, Roles, migrate
from platform_sql import (
    DATABASE_SECRET_ARN_ENV,
    DATABASE_URL_ENV,
    DatabaseConfig,
    create_database_engine,
)
from projection_balances import handler as balances_handler
from projection_balances import migrate as balances_migrate
from projection_balances.migrations import MIGRATIONS as BALANCES_MIGRATIONS
from projection_balances.projection import PROJECTION as BALANCES
from projection_balances.settings import (
    EVENT_STORE_TABLE_ENV,
    SERVICE_NAME,
    WRITER_SECRET_ARN_ENV,
    MigrationSettings,
)
from query_api import handler as query_handler
from query_api.settings import CURSOR_SIGNING_KEY_ENV
from query_api_stack.program import ConfigKey as QueryConfigKey
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from tests_integration.apis import QUERY_ROUTES, QueryApi
from tests_integration.stacks import SERVICE_STACKS, deployed_stacks

from account_events import AccountOpened
from platform_events import default_registry
from platform_testing.lambda_events import sqs_record

PASSWORD: Final = "pw-sentinel-" + uuid.uuid4().hex
"""The password every secret and URL of this module holds: found anywhere, it leaked."""
SIGNING_KEY: Final = "signing-key-sentinel-" + uuid.uuid4().hex
SECRET_SIGNATURE: Final = "4dabf18193072939515e22adb298388d"
"""How Pulumi marks a secret value on the wire (and in the mocks' inputs)."""
PASSWORD_INPUT = re.compile(r"password|secretstring|secretbinary", re.IGNORECASE)
REPOSITORY: Final = Path(__file__).resolve().parents[2]
REGION: Final = "eu-west-1"


# ---------------------------------------------------------------------- stacks


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, leaf) of a nested input or output."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RecordedStack]]:
    config = {"query-api": {QueryConfigKey.CURSOR_SIGNING_KEY.value: SIGNING_KEY}}
    with deployed_stacks(tmp_path_factory.mktemp("packages"), config) as deployed:
        yield deployed


def test_no_stack_handles_a_database_password(stacks: dict[str, RecordedStack]) -> None:
    assert set(stacks) == {"platform", *(service.project for service in SERVICE_STACKS)}
    instance = stacks["platform"].one("aws:rds/instance:Instance").inputs
    # RDS generates, stores and rotates the owner's password: Pulumi never sees it.
    assert instance["manageMasterUserPassword"] is True
    for name, stack in stacks.items():
        for resource in stack.resources:
            assert not resource.type.startswith("aws:secretsmanager/"), (name, resource.type)
            for path, value in walk(resource.inputs):
                key = path.rsplit(".", 1)[-1]
                if PASSWORD_INPUT.search(key):
                    assert key == "manageMasterUserPassword", (name, resource.name, path)
                    assert value is True


def test_every_database_url_a_stack_sets_carries_no_password(
    stacks: dict[str, RecordedStack],
) -> None:
    urls = []
    for stack in stacks.values():
        for function in stack.of_type("aws:lambda/function:Function"):
            environment = function.inputs.get("environment") or {}
            if SECRET_SIGNATURE in environment:
                environment = environment["value"]
            variables = environment.get("variables", {})
            if DATABASE_URL_ENV in variables:
                urls.append(DatabaseConfig(url=variables[DATABASE_URL_ENV]).sqlalchemy_url)
    assert len(urls) == 5  # two projections and their migrations, the query API
    assert all(url.password is None and url.username for url in urls), urls


def test_the_only_secret_a_stack_holds_is_in_one_environment_marked_secret(
    stacks: dict[str, RecordedStack],
) -> None:
    holders = [
        (name, resource, path)
        for name, stack in stacks.items()
        for resource in stack.resources
        for path, value in walk(resource.inputs)
        if isinstance(value, str) and SIGNING_KEY in value
    ]
    assert [(name, r.type, path) for name, r, path in holders] == [
        (
            "query-api",
            "aws:lambda/function:Function",
            f".environment.value.variables.{CURSOR_SIGNING_KEY_ENV}",
        )
    ]
    (_, function, _) = holders[0]
    assert SECRET_SIGNATURE in function.inputs["environment"]
    for name, stack in stacks.items():
        assert SIGNING_KEY not in json.dumps(stack.outputs, default=str), name


def test_the_platform_exports_the_owners_secret_by_its_arn_only(
    stacks: dict[str, RecordedStack],
) -> None:
    outputs = stacks["platform"].outputs
    assert outputs["dbMasterSecretArn"].startswith("arn:aws:secretsmanager:")
    assert not [key for key in outputs if PASSWORD_INPUT.search(key)]


# ---------------------------------------------------------------------- logs


class CapturedLogs:
    """Every line logged while it is active, at DEBUG (what ``pulumi config set logLevel DEBUG``
    gives a function, botocore's wire dumps included): each handler's own formatting
    (powertools' JSON) copied to a buffer, plus pytest's caplog and capsys. Secrets are created
    before it starts: the test's own ``CreateSecret`` call is not the product's log."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]):
        self._caplog = caplog
        self._capsys = capsys
        self._buffer = io.StringIO()
        self._added: list[tuple[logging.Logger, logging.Handler]] = []

    def __enter__(self) -> CapturedLogs:
        self._caplog.set_level(logging.DEBUG)
        loggers = [logging.getLogger()] + [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger) and logger.handlers
        ]
        for logger in loggers:
            copy = logging.StreamHandler(self._buffer)
            formatter = next((h.formatter for h in logger.handlers if h.formatter), None)
            copy.setFormatter(formatter or logging.Formatter("%(message)s %(exc_info)s"))
            logger.addHandler(copy)
            self._added.append((logger, copy))
        return self

    def __exit__(self, *exc: object) -> None:
        for logger, handler in self._added:
            logger.removeHandler(handler)

    def text(self) -> str:
        captured = self._capsys.readouterr()
        records = "\n".join(
            f"{record.getMessage()} {record.__dict__}" for record in self._caplog.records
        )
        return "\n".join(
            [self._buffer.getvalue(), captured.out, captured.err, self._caplog.text, records]
        )


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(function_name="secrets")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> CapturedLogs:
    return CapturedLogs(caplog, capsys)


def reported(error: BaseException) -> str:
    """What Lambda reports (and logs) for an unhandled error: message, type, whole chain."""
    return "".join(traceback.format_exception(error))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def secret(username: str, password: str = PASSWORD) -> str:
    """A Secrets Manager secret in the RDS shape (moto), its ARN."""
    client = boto3.client("secretsmanager", region_name=REGION)
    answer = client.create_secret(
        Name=f"db-{uuid.uuid4().hex}",
        SecretString=json.dumps({"username": username, "password": password}),
    )
    return answer["ARN"]


@pytest.fixture
def admin(database_url: URL) -> Iterator[Engine]:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def refused_role(admin: Engine) -> Iterator[str]:
    """A role the database refuses to log in (NOLOGIN): the wrong-credentials path."""
    role = f"refused_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} NOLOGIN"))
    yield role
    with admin.connect() as connection:
        connection.execute(text(f"DROP ROLE {role}"))


@pytest.fixture
def migrated(database_url: URL) -> URL:
    """The balances schema migrated, its writer's password the sentinel (client-side SCRAM)."""
    database = DatabaseConfig(url=database_url.render_as_string(hide_password=False))
    balances_migrate.run(MigrationSettings(database=database), writer_password=PASSWORD)
    return database_url


@pytest.fixture
def projection_handler() -> Iterator[Callable[[Mapping[str, str]], Callable[..., Any]]]:
    """``projection_handler(environ)``: the balances Lambda handler exactly as its module builds
    it, on ``environ``; the engines it built are disposed after the test."""
    built: list[Projector[Any]] = []

    def build(environ: Mapping[str, str]) -> Projector[Any]:
        built.append(balances_handler.build_projector(environ))
        return built[-1]

    yield lambda environ: make_lambda_handler(
        lambda: build(environ), projection=BALANCES.name, service=SERVICE_NAME
    )
    for projector in built:
        projector.engine.dispose()


def projection_event() -> dict[str, Any]:
    envelope = default_registry.envelope(
        AccountOpened(owner="Ann", currency="EUR"),
        stream_id=str(uuid.uuid4()),
        version=1,
        occurred_at=datetime.now(UTC),
        correlation_id="secrets",
    )
    return {"Records": [sqs_record(envelope, queue="balances-live.fifo")]}


def url_for(database_url: URL, user: str, password: str | None = None) -> str:
    return database_url.set(username=user, password=password).render_as_string(hide_password=False)


@pytest.mark.postgres
@pytest.mark.usefixtures("aws")
def test_the_projection_handler_never_logs_its_password(
    migrated: URL,
    refused_role: str,
    logs: CapturedLogs,
    lambda_context: LambdaContext,
    projection_handler: Callable[[Mapping[str, str]], Callable[..., Any]],
) -> None:
    writer = BALANCES.writer_role
    writer_secret, refused_secret = secret(writer), secret(refused_role)
    with logs:
        # Works: the password comes from the secret on each new connection.
        handler = projection_handler(
            {
                DATABASE_URL_ENV: url_for(migrated, writer),
                DATABASE_SECRET_ARN_ENV: writer_secret,
                EVENT_STORE_TABLE_ENV: "events",
            }
        )
        assert handler(projection_event(), lambda_context) == {"batchItemFailures": []}
        # Refused: the secret names a role that may not log in; the batch fails as a whole.
        refused = projection_handler(
            {
                DATABASE_URL_ENV: url_for(migrated, writer),
                DATABASE_SECRET_ARN_ENV: refused_secret,
                EVENT_STORE_TABLE_ENV: "events",
            }
        )
        with pytest.raises(OperationalError) as by_secret:
            refused(projection_event(), lambda_context)
        # Refused again, the password in the URL this time (the local runner's way).
        in_url = projection_handler(
            {
                DATABASE_URL_ENV: url_for(migrated, refused_role, PASSWORD),
                EVENT_STORE_TABLE_ENV: "events",
            }
        )
        with pytest.raises(OperationalError) as by_url:
            in_url(projection_event(), lambda_context)
    text_logged = logs.text()
    assert "batch applied" in text_logged
    assert "batch failed as a whole" in text_logged
    assert "not permitted to log in" in text_logged
    # botocore logged its wire traffic (DEBUG): the secret was fetched under the capture.
    assert "OperationModel(name=GetSecretValue)" in text_logged
    assert PASSWORD not in text_logged
    assert PASSWORD not in reported(by_secret.value) + reported(by_url.value)


@pytest.mark.postgres
@pytest.mark.usefixtures("aws")
def test_the_migration_handler_never_logs_or_reports_a_password(
    database_url: URL,
    refused_role: str,
    logs: CapturedLogs,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = database_url.username or "postgres"
    monkeypatch.setenv(DATABASE_URL_ENV, url_for(database_url, owner))
    monkeypatch.setenv(WRITER_SECRET_ARN_ENV, secret(BALANCES.writer_role))
    owner_secret, refused_secret = secret(owner), secret(refused_role)
    with logs:
        monkeypatch.setenv(DATABASE_SECRET_ARN_ENV, owner_secret)
        answer = balances_migrate.lambda_handler({}, lambda_context)
        monkeypatch.setenv(DATABASE_SECRET_ARN_ENV, refused_secret)
        with pytest.raises(OperationalError) as refused:
            balances_migrate.lambda_handler({}, lambda_context)
    assert answer["schema"] == BALANCES.schema
    assert "not permitted to log in" in reported(refused.value)
    assert PASSWORD not in logs.text() + reported(refused.value) + json.dumps(answer)


@pytest.fixture
def limited_owner(database_url: URL, admin: Engine) -> Iterator[Engine]:
    """An owner that may build the schema and create roles, but not alter a superuser."""
    role = f"owner_{uuid.uuid4().hex[:12]}"
    database = database_url.database
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN CREATEROLE"))
        connection.execute(text(f'GRANT CREATE ON DATABASE "{database}" TO {role}'))
    engine = create_database_engine(DatabaseConfig(url=url_for(database_url, role)))
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'REVOKE CREATE ON DATABASE "{database}" FROM {role}'))
        connection.execute(text(f"DROP ROLE {role}"))


@pytest.mark.postgres
def test_a_refused_password_change_reports_neither_password_nor_verifier(
    limited_owner: Engine, logs: CapturedLogs
) -> None:
    superuser = "postgres"
    with logs, pytest.raises(MigrationError) as raised:
        migrate(
            limited_owner,
            BALANCES,
            BALANCES_MIGRATIONS,
            roles=Roles(writer=superuser, writer_password=PASSWORD),
        )
    report = reported(raised.value)
    assert "could not set the password" in report
    assert PASSWORD not in report + logs.text()
    assert "SCRAM-SHA-256$" not in report


def fresh_query_container() -> None:
    """Forget the query handler's container (the next request builds one from the environment),
    closing the connections of the one it had."""
    if query_handler.container.cache_info().currsize:
        query_handler.container().api.engine.dispose()
    query_handler.container.cache_clear()


@pytest.mark.postgres
@pytest.mark.usefixtures("aws")
def test_the_query_handler_never_logs_its_password_or_signing_key(
    migrated: URL, refused_role: str, logs: CapturedLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CURSOR_SIGNING_KEY_ENV, SIGNING_KEY)
    missing = str(uuid.uuid4())
    answers = []
    secrets = {user: secret(user) for user in (QUERY_READER, refused_role)}
    with logs, contextlib.ExitStack() as stack:
        stack.callback(fresh_query_container)
        for user, secret_arn in secrets.items():
            fresh_query_container()
            monkeypatch.setenv(DATABASE_URL_ENV, url_for(migrated, user))
            monkeypatch.setenv(DATABASE_SECRET_ARN_ENV, secret_arn)
            api = QueryApi(query_handler.lambda_handler, QUERY_ROUTES, "query-api")
            answers += [api.account(missing), api.accounts(cursor="forged"), api.accounts()]
    assert [answer.status for answer in answers] == [404, 422, 200, 503, 422, 503]
    seen = logs.text() + json.dumps([answer.body for answer in answers])
    assert "the database did not answer" in seen
    assert PASSWORD not in seen
    assert SIGNING_KEY not in seen


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://writer:{PASSWORD}@db.example:not-a-port/app",
        f"postgresql+psycopg://writer:{PASSWORD}@[::1/app",
    ],
)
def test_a_malformed_database_url_is_refused_without_echoing_its_password(url: str) -> None:
    from platform_sql import DatabaseConfigError  # noqa: PLC0415

    config = DatabaseConfig(url=f"postgresql+psycopg://writer:{PASSWORD}@db.example/app")
    assert PASSWORD not in repr(config) + str(config)
    with pytest.raises(DatabaseConfigError) as raised:
        DatabaseConfig.from_environment({DATABASE_URL_ENV: url})
    assert "not a database URL" in str(raised.value)
    assert PASSWORD not in reported(raised.value)


# ---------------------------------------------------------------------- the repository

CREDENTIAL_PATTERNS: Final = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}"
    ),
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"{}]+)@"),
}
DOCUMENTED_TEST_PASSWORDS: Final = {
    # A URL with a password and a secret at once must be refused: the test spells one out.
    ("packages/platform-sql/tests/test_engine.py", "pw"),
}


def test_no_tracked_file_holds_a_credential() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    files = [name.decode() for name in tracked if name]
    assert len(files) > 100
    found = []
    for name in files:
        path = REPOSITORY / name
        if not path.is_file():
            continue  # deleted in the working tree, not yet committed
        content = path.read_bytes()
        if b"\0" in content[:8192]:
            continue
        text_content = content.decode("utf-8", errors="replace")
        for kind, pattern in CREDENTIAL_PATTERNS.items():
            for match in pattern.finditer(text_content):
                secret_part = match.group(1) if pattern.groups else match.group(0)
                if (name, secret_part) not in DOCUMENTED_TEST_PASSWORDS:
                    found.append(f"{name}: {kind}: {match.group(0)[:60]}")
    assert found == []


@pytest.mark.parametrize(
    "line",
    [
        "aws_access_key_id = AKIA" + "ABCDEFGHIJKLMNOP",
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "DATABASE_URL=postgresql://owner:" + "hunter2@db.internal/app",
        "token: ghp_" + "a" * 36,
    ],
)
def test_the_scan_recognises_each_kind_of_credential(line: str) -> None:
    assert any(pattern.search(line) for pattern in CREDENTIAL_PATTERNS.values())
