"""A projection service's deploy-time migration entry point: migrate its schema and its roles as
the database owner, never on a cold start of the projection.

A service binds one to its projection, migrations and settings, and exposes its three faces::

    ENTRY_POINT = MigrationEntryPoint(PROJECTION, MIGRATIONS, MigrationSettings)
    run, lambda_handler, main = ENTRY_POINT.run, ENTRY_POINT.lambda_handler, ENTRY_POINT.main

- ``run(settings)``: apply pending migrations and (re)grant roles; what the local runner calls.
- ``lambda_handler(event, context)``: the deploy-time Lambda in the VPC, with the owner's
  credentials; the stack invokes it (empty event) whenever the migrations change.
- ``main(argv)``: the console script (``<service>-migrate``)::

    projection-balances-migrate                      # reads DATABASE_* from the environment
    projection-balances-migrate --database-url postgresql+psycopg://owner@host/db
    projection-balances-migrate --database-url sqlite:///.local/main.db \\
        --attach balances=.local/balances.db

Kept out of the package's ``__init__`` (it imports boto3 and argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from platform_sql import (
    DATABASE_ATTACH_ENV,
    DATABASE_URL_ENV,
    CachedSecretCredentials,
    create_database_engine,
)
from sqlalchemy import Engine

from platform_projections.migrations import Migration, MigrationReport, Roles, migrate
from platform_projections.projection import Projection
from platform_projections.service import PROJECTION_SCHEMA_ENV, ProjectionMigrationSettings


@dataclass(frozen=True)
class MigrationEntryPoint:
    """One projection's migration entry point: its declaration, its migrations (in order) and the
    settings model bound to it."""

    projection: Projection[Any]
    migrations: Sequence[Migration]
    settings: type[ProjectionMigrationSettings]

    @property
    def prog(self) -> str:
        """The console script's name: ``<service>-migrate``."""
        return f"{self.settings.service_name}-migrate"

    def run(
        self,
        settings: ProjectionMigrationSettings,
        *,
        engine: Engine | None = None,
        writer_password: str | None = None,
    ) -> MigrationReport:
        """Apply pending migrations and (re)grant roles; returns what was applied.

        The writer's password, when not given, comes from ``settings.writer_secret_arn``.
        An engine given is the caller's to dispose; one built from the settings is disposed here.
        """
        password = writer_password
        if password is None and settings.writer_secret_arn:
            secret = CachedSecretCredentials(
                boto3.client("secretsmanager"), settings.writer_secret_arn
            )
            password = secret().password
        owned = engine is None
        engine = engine or create_database_engine(settings.database)
        try:
            return migrate(
                engine,
                self.projection,
                self.migrations,
                schema=settings.schema_name,
                roles=Roles(writer=self.projection.writer_role, writer_password=password),
            )
        finally:
            if owned:
                engine.dispose()

    def lambda_handler(self, event: Mapping[str, Any], context: object) -> dict[str, Any]:
        """Deploy-time entry point: the stack invokes it with an empty event after each change."""
        report = self.run(self.settings.from_environment())
        return {"schema": report.schema, "applied": list(report.applied)}

    def main(self, argv: Sequence[str] | None = None) -> int:
        """The console script: flags override the environment's variables of the same meaning."""
        parser = argparse.ArgumentParser(
            prog=self.prog,
            description=(
                f"Apply the {self.projection.name} projection's schema migrations"
                " and grant its roles."
            ),
        )
        parser.add_argument(
            "--database-url", help=f"owner's SQLAlchemy URL (default: ${DATABASE_URL_ENV})"
        )
        parser.add_argument(
            "--schema",
            help=(
                f"physical schema to migrate (default: ${PROJECTION_SCHEMA_ENV}"
                f" or {self.settings.default_schema})"
            ),
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
        report = self.run(self.settings.from_environment(environ))
        for step in report.applied:
            sys.stdout.write(f"{report.schema}: applied {step}\n")
        if not report.applied:
            sys.stdout.write(f"{report.schema}: up to date\n")
        return 0
