"""One engine per container: Postgres over TLS with credentials fetched at connect time, or SQLite.

Postgres (AWS, tests): the URL carries host, port, database and user but never a password. The
password comes, for each new connection, from a Secrets Manager secret (cached, so rotation is
picked up) or is an RDS / RDS Proxy IAM auth token (signed locally, valid 15 minutes). The pool is
small because a Lambda container serves one invocation at a time. A pooled connection is pinged
before use, which replaces one the proxy or a failover closed while the container was frozen:
at every checkout by default, or (``pool_ping_after_idle_seconds``) only after it sat unused that
long, for callers that retry a transaction on a fresh connection anyway (the projector), to whom
a ping per transaction is a round trip in eight.

SQLite (the local runner): each schema is an ATTACHed database file, so ``balances.accounts`` is
the same name on both databases. SQLAlchemy emits ``BEGIN`` itself (pysqlite's legacy mode would
not, which breaks savepoints and transactional DDL); writers use ``BEGIN IMMEDIATE`` so that two
writers serialize at the start of a transaction instead of failing at commit.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DATABASE_URL_ENV: Final = "DATABASE_URL"
"""SQLAlchemy URL without a password, e.g. ``postgresql+psycopg://balances_writer@proxy:5432/app``
or ``sqlite:///.local/main.db``."""
DATABASE_SECRET_ARN_ENV: Final = "DATABASE_SECRET_ARN"  # noqa: S105 - a variable's name
"""Secrets Manager secret holding ``{"username", "password"}`` (the RDS secret shape)."""
DATABASE_IAM_AUTH_ENV: Final = "DATABASE_IAM_AUTH"
"""``true`` to log in with an RDS IAM auth token instead of a password."""
DATABASE_SSLMODE_ENV: Final = "DATABASE_SSLMODE"
DATABASE_SSLROOTCERT_ENV: Final = "DATABASE_SSLROOTCERT"
DATABASE_ATTACH_ENV: Final = "DATABASE_ATTACH"
"""SQLite only: ``schema=path,schema=path`` databases to ATTACH under those schema names."""

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
ENCRYPTED: Final = frozenset({"require", "verify-ca", "verify-full"})
VERIFYING: Final = frozenset({"verify-ca", "verify-full"})
SECRET_TTL_SECONDS: Final = 300.0
MEMORY: Final = ":memory:"


class DatabaseConfigError(Exception):
    """The configuration cannot produce a safe engine; raised at cold start, never per request."""


class DatabaseConfig(BaseModel):
    """Where the database is and how to log in; never the password itself.

    A URL may still carry one (a local database): validation errors never echo the input, and
    the model's repr masks the password, so neither can carry it into a log line.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: str = Field(min_length=1)
    secret_arn: str | None = None
    iam_auth: bool = False
    sslmode: SslMode | None = None
    sslrootcert: str | None = None
    attach: dict[str, str] = Field(default_factory=dict)
    application_name: str | None = None
    pool_size: int = Field(default=1, ge=1)
    max_overflow: int = Field(default=0, ge=0)
    # Below RDS Proxy's default idle client timeout (30 min), so the proxy never cuts a
    # connection we still think is pooled.
    pool_recycle_seconds: int = Field(default=600, ge=1)
    connect_timeout_seconds: int = Field(default=5, ge=1)
    pool_ping_after_idle_seconds: float = Field(default=0.0, ge=0.0)
    """0: ping a pooled connection at every checkout. Above 0: only when it was last used (or
    made) at least this long ago, e.g. after the container was frozen; a connection that died
    sooner than that fails its first statement, and the caller must retry on a new one."""

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            make_url(value)  # a malformed URL fails at cold start, not on the first query
        except (ArgumentError, ValueError):
            # The parser's messages quote the URL, password included: say what, not the value.
            raise ValueError("not a database URL (driver://user@host:port/database)") from None
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "url":
                yield name, make_url(value).render_as_string(hide_password=True)
            else:
                yield name, value

    @field_validator("attach")
    @classmethod
    def _schema_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _identifier(name)
        return value

    @property
    def sqlalchemy_url(self) -> URL:
        return make_url(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.get_backend_name() == "sqlite"

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **defaults: Any
    ) -> DatabaseConfig:
        """Read the ``DATABASE_*`` variables; ``defaults`` fill what the environment leaves out."""
        env = os.environ if environ is None else environ
        data: dict[str, Any] = dict(defaults)
        readers: dict[str, tuple[str, Callable[[str], Any]]] = {
            "url": (DATABASE_URL_ENV, str),
            "secret_arn": (DATABASE_SECRET_ARN_ENV, str),
            "iam_auth": (DATABASE_IAM_AUTH_ENV, _flag),
            "sslmode": (DATABASE_SSLMODE_ENV, str),
            "sslrootcert": (DATABASE_SSLROOTCERT_ENV, str),
            "attach": (DATABASE_ATTACH_ENV, _pairs),
        }
        for field, (name, parse) in readers.items():
            raw = env.get(name)
            if raw:
                data[field] = parse(raw)
        if "url" not in data:
            msg = f"{DATABASE_URL_ENV} is not set"
            raise DatabaseConfigError(msg)
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            msg = f"invalid database configuration: {error}"
            raise DatabaseConfigError(msg) from error


@dataclass(frozen=True, slots=True)
class Credentials:
    password: str
    username: str | None = None
    """Overrides the URL's user when set (an RDS secret names its user)."""


CredentialSource = Callable[[], Credentials]
"""Called for every new DBAPI connection, so rotated passwords and fresh tokens are used."""


BOTOCORE_WIRE_LOGGER: Final = "botocore.parsers"
"""Where botocore logs every response body at DEBUG, a GetSecretValue answer included."""
SECRET_VALUE_FIELDS: Final = ("SecretString", "SecretBinary")


class SecretValueFilter(logging.Filter):
    """Drops the log records that carry a Secrets Manager secret's value (botocore's DEBUG dump
    of a ``GetSecretValue`` response), so a function run with ``logLevel DEBUG`` does not write
    its database password to its logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(field in message for field in SECRET_VALUE_FIELDS)


def hide_secret_values_from_logs() -> None:
    """Install :class:`SecretValueFilter` on botocore's wire logger (once per process)."""
    wire = logging.getLogger(BOTOCORE_WIRE_LOGGER)
    if not any(isinstance(existing, SecretValueFilter) for existing in wire.filters):
        wire.addFilter(SecretValueFilter())


class CachedSecretCredentials:
    """Credentials from a Secrets Manager secret, re-read after ``ttl`` to follow rotation."""

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        *,
        ttl_seconds: float = SECRET_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        hide_secret_values_from_logs()
        self._client = client
        self._secret_id = secret_id
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Credentials] | None = None

    def __call__(self) -> Credentials:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._ttl:
                self._cached = (now, self._fetch())
            return self._cached[1]

    def _fetch(self) -> Credentials:
        answer = self._client.get_secret_value(SecretId=self._secret_id)
        try:
            document = json.loads(answer["SecretString"])
            password = document["password"]
            username = document.get("username")
        except (KeyError, TypeError, ValueError) as error:
            # Never echo the secret's content into a log line.
            msg = f"secret {self._secret_id} is not an RDS credentials secret"
            raise DatabaseConfigError(msg) from error
        if not isinstance(password, str) or not (username is None or isinstance(username, str)):
            msg = f"secret {self._secret_id} is not an RDS credentials secret"
            raise DatabaseConfigError(msg)
        return Credentials(password=password, username=username)


class _AuthTokenSigner(Protocol):
    # boto3's RDS client, whose keyword names are AWS's.
    def generate_db_auth_token(
        self,
        DBHostname: str,  # noqa: N803
        Port: int,  # noqa: N803
        DBUsername: str,  # noqa: N803
        Region: str | None = None,  # noqa: N803
    ) -> str: ...


class IamAuthTokenCredentials:
    """An RDS IAM auth token per connection: signed locally (no network call), valid 15 min."""

    def __init__(self, signer: _AuthTokenSigner, url: URL) -> None:
        if not url.host or not url.username:
            msg = "IAM auth needs a host and a user name in the database URL"
            raise DatabaseConfigError(msg)
        self._signer = signer
        self._host = url.host
        self._port = url.port or 5432
        self._username = url.username

    def __call__(self) -> Credentials:
        token = self._signer.generate_db_auth_token(
            DBHostname=self._host, Port=self._port, DBUsername=self._username
        )
        return Credentials(password=token)


def create_database_engine(
    config: DatabaseConfig,
    *,
    credentials: CredentialSource | None = None,
    sqlite_write_lock: bool = True,
) -> Engine:
    """The engine for ``config``; build it once per container (module scope of a composition root).

    ``credentials`` overrides the source the configuration names (tests pass a fake).
    ``sqlite_write_lock`` makes every SQLite transaction take the write lock up front; readers
    (the query side) pass False.
    """
    if config.is_sqlite:
        return _sqlite_engine(config, write_lock=sqlite_write_lock)
    return _postgres_engine(config, credentials)


def credentials_from_config(config: DatabaseConfig) -> CredentialSource | None:
    """The credential source the configuration names, with real AWS clients (built here, once)."""
    if config.iam_auth and config.secret_arn:
        msg = "choose IAM auth or a Secrets Manager secret, not both"
        raise DatabaseConfigError(msg)
    if config.secret_arn:
        import boto3  # noqa: PLC0415 - only containers that use Secrets Manager pay for it

        return CachedSecretCredentials(boto3.client("secretsmanager"), config.secret_arn)
    if config.iam_auth:
        import boto3  # noqa: PLC0415

        signer: _AuthTokenSigner = boto3.client("rds")
        return IamAuthTokenCredentials(signer, config.sqlalchemy_url)
    return None


def _postgres_engine(config: DatabaseConfig, credentials: CredentialSource | None) -> Engine:
    url = config.sqlalchemy_url
    if url.password and (config.secret_arn or config.iam_auth):
        msg = "the database URL carries a password as well as a secret or IAM auth"
        raise DatabaseConfigError(msg)
    source = credentials if credentials is not None else credentials_from_config(config)
    if source is not None and config.sslmode not in ENCRYPTED and not _loopback(url.host):
        # A password or token must never cross the network in clear text.
        msg = f"credentials from a secret or IAM need sslmode in {sorted(ENCRYPTED)}"
        raise DatabaseConfigError(msg)
    connect_args: dict[str, Any] = {
        "connect_timeout": config.connect_timeout_seconds,
        # Server-side prepared statements pin RDS Proxy connections to one client; plain
        # statements keep the proxy free to multiplex.
        "prepare_threshold": None,
    }
    if config.sslmode is not None:
        connect_args["sslmode"] = config.sslmode
    if config.sslmode in VERIFYING:
        connect_args["sslrootcert"] = config.sslrootcert or "system"
    if config.application_name:
        connect_args["application_name"] = config.application_name
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_pre_ping=config.pool_ping_after_idle_seconds == 0,
        pool_recycle=config.pool_recycle_seconds,
    )
    if config.pool_ping_after_idle_seconds > 0:
        ping_after_idle(engine, config.pool_ping_after_idle_seconds)
    if source is not None:
        credential_source = source

        @event.listens_for(engine, "do_connect")
        def _log_in(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            found = credential_source()
            cparams["password"] = found.password
            if found.username:
                cparams["user"] = found.username

    return engine


LAST_USED: Final = "platform_sql.last_used"
"""Where a pooled connection's record keeps the wall-clock time it was made or last checked in."""


def ping_after_idle(
    engine: Engine, idle_seconds: float, *, clock: Callable[[], float] = time.time
) -> None:
    """Ping a pooled connection at checkout only if it sat unused for ``idle_seconds`` or more
    (SQLAlchemy's ``pool_pre_ping`` pings at every checkout); a dead one is replaced by a new
    connection before the caller sees it.

    Wall-clock time, not monotonic: a frozen Lambda container's monotonic clock may not count the
    time it was frozen, which is exactly the idle time that matters. A clock that went backwards
    counts as idle."""
    dialect = engine.dialect

    def _mark(_dbapi_connection: Any, record: Any) -> None:
        record.info[LAST_USED] = clock()

    event.listen(engine, "connect", _mark)
    event.listen(engine, "checkin", _mark)

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(LAST_USED)
        idle = None if last is None else clock() - last
        if idle is not None and 0 <= idle < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool replaces the connection and runs this check on the new one.
                raise DisconnectionError(f"idle connection is gone: {error}") from error
            raise
        record.info[LAST_USED] = clock()


def _sqlite_engine(config: DatabaseConfig, *, write_lock: bool) -> Engine:
    url = config.sqlalchemy_url
    in_memory = url.database in (None, "", MEMORY)
    if in_memory:
        # One shared connection: every checkout must see the same in-memory databases.
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        engine = create_engine(url, connect_args={"timeout": 30})
    attach = dict(config.attach)
    begin = "BEGIN IMMEDIATE" if write_lock else "BEGIN"

    @event.listens_for(engine, "connect")
    def _prepare(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for schema, path in attach.items():
                cursor.execute(f'ATTACH DATABASE ? AS "{_identifier(schema)}"', (path,))
                if path != MEMORY:
                    # WAL lets the query side read while a projection writes.
                    cursor.execute(f'PRAGMA "{schema}".journal_mode=WAL')
            if not in_memory:
                cursor.execute("PRAGMA main.journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _loopback(host: str | None) -> bool:
    return host in {"localhost", "127.0.0.1", "::1"}


def _identifier(name: str) -> str:
    # Schema names are interpolated into ATTACH and PRAGMA, which take no bind parameters.
    if not name.isidentifier():
        msg = f"not a schema name: {name!r}"
        raise DatabaseConfigError(msg)
    return name


def _flag(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    msg = f"not a boolean: {raw!r}"
    raise DatabaseConfigError(msg)


def _pairs(raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in raw.split(","):
        name, sep, path = part.strip().partition("=")
        if not sep or not name or not path:
            msg = f"{DATABASE_ATTACH_ENV}: expected schema=path, got {part!r}"
            raise DatabaseConfigError(msg)
        pairs[_identifier(name.strip())] = path.strip()
    return pairs
