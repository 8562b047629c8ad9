"""The query side's engine: platform-sql's, made read-only for every connection.

The database role (``query_reader``, SELECT only) is what forbids writes; these settings make
the intent hold even if the function is ever pointed at a more privileged user, and keep
Postgres from doing the work of a writable transaction:

- Postgres: psycopg opens every transaction with ``BEGIN READ ONLY`` (a per-transaction mode, not
  a session ``SET``, which would pin the connection to one RDS Proxy backend).
- SQLite (the local runner): ``PRAGMA query_only``, and no write lock taken at ``BEGIN``.
"""

from __future__ import annotations

from typing import Any

from platform_sql import CredentialSource, DatabaseConfig, create_database_engine
from sqlalchemy import Engine, event


def query_engine(config: DatabaseConfig, *, credentials: CredentialSource | None = None) -> Engine:
    """The read-only engine for ``config``; build it once per container."""
    engine = create_database_engine(config, credentials=credentials, sqlite_write_lock=False)
    if config.is_sqlite:

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA query_only = ON")
            finally:
                cursor.close()

        return engine
    return engine.execution_options(postgresql_readonly=True)
