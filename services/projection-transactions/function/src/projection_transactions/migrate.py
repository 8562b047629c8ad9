"""Migrate the transactions schema and its roles: run at deploy as the database owner, never on a
cold start of the projection.

    projection-transactions-migrate                      # reads DATABASE_* from the environment
    python -m projection_transactions.migrate --database-url postgresql+psycopg://owner@host/db
    projection-transactions-migrate --database-url sqlite:///.local/main.db \\
        --attach transactions=.local/transactions.db

On AWS the same code runs as a deploy-time Lambda in the VPC (``lambda_handler``), with the
owner's credentials; the stack invokes it whenever the migrations change.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from platform_projections import MigrationReport, Roles, migrate
from platform_sql import (
    DATABASE_ATTACH_ENV,
    DATABASE_URL_ENV,
    CachedSecretCredentials,
    create_database_engine,
)
from sqlalchemy import Engine

from projection_transactions.migrations import MIGRATIONS
from projection_transactions.projection import PROJECTION
from projection_transactions.settings import PROJECTION_SCHEMA_ENV, MigrationSettings


def run(
    settings: MigrationSettings, *, engine: Engine | None = None, writer_password: str | None = None
) -> MigrationReport:
    """Apply pending migrations and (re)grant roles; returns what was applied."""
    password = writer_password
    if password is None and settings.writer_secret_arn:
        secret = CachedSecretCredentials(boto3.client("secretsmanager"), settings.writer_secret_arn)
        password = secret().password
    owned = engine is None
    engine = engine or create_database_engine(settings.database)
    try:
        return migrate(
            engine,
            PROJECTION,
            MIGRATIONS,
            schema=settings.schema_name,
            roles=Roles(writer=PROJECTION.writer_role, writer_password=password),
        )
    finally:
        if owned:
            engine.dispose()


def lambda_handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Deploy-time entry point: the stack invokes it with an empty event after each change."""
    report = run(MigrationSettings.from_environment())
    return {"schema": report.schema, "applied": list(report.applied)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="projection-transactions-migrate",
        description="Apply the transactions projection's schema migrations and grant its roles.",
    )
    parser.add_argument(
        "--database-url", help=f"owner's SQLAlchemy URL (default: ${DATABASE_URL_ENV})"
    )
    parser.add_argument(
        "--schema",
        help=f"physical schema to migrate (default: ${PROJECTION_SCHEMA_ENV} or transactions)",
    )
    parser.add_argument(
        "--attach",
        metavar="SCHEMA=PATH",
        help=f"SQLite: databases to ATTACH, comma separated (default: ${DATABASE_ATTACH_ENV})",
    )
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    if args.database_url:
        environ[DATABASE_URL_ENV] = args.database_url
    if args.schema:
        environ[PROJECTION_SCHEMA_ENV] = args.schema
    if args.attach:
        environ[DATABASE_ATTACH_ENV] = args.attach
    report = run(MigrationSettings.from_environment(environ))
    for step in report.applied:
        sys.stdout.write(f"{report.schema}: applied {step}\n")
    if not report.applied:
        sys.stdout.write(f"{report.schema}: up to date\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
