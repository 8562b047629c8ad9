"""Where tests find PostgreSQL: TEST_DATABASE_URL, else a testcontainers throwaway, else None."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Final

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

TEST_DATABASE_URL: Final = "TEST_DATABASE_URL"


def docker_engine_answers() -> bool:
    """Whether a Docker engine (not just the client) is reachable."""
    try:
        import docker  # type: ignore[import-untyped]  # noqa: PLC0415 - only when needed

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def server_url() -> Iterator[str | None]:
    """Yield the admin URL of a PostgreSQL server for tests, or None when there is none."""
    configured = os.environ.get(TEST_DATABASE_URL)
    if configured:
        yield configured
        return
    if not docker_engine_answers():
        yield None
        return
    from testcontainers.postgres import PostgresContainer  # noqa: PLC0415

    with PostgresContainer("postgres:15-alpine", driver="psycopg") as container:
        yield container.get_connection_url()


@contextlib.contextmanager
def throwaway_database(admin_url: str) -> Iterator[URL]:
    """Create an empty database on the server, yield its URL, drop it afterwards."""
    admin = make_url(admin_url)
    name = f"t_{uuid.uuid4().hex[:16]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin.set(database=name)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
