"""Migrate the transactions schema and its roles: run at deploy as the database owner, never on a
cold start of the projection (:mod:`platform_projections.migration_entry`).

    projection-transactions-migrate                      # reads DATABASE_* from the environment
    python -m projection_transactions.migrate --database-url postgresql+psycopg://owner@host/db
    projection-transactions-migrate --database-url sqlite:///.local/main.db \\
        --attach transactions=.local/transactions.db

On AWS the same code runs as a deploy-time Lambda in the VPC (``lambda_handler``), with the
owner's credentials; the stack invokes it whenever the migrations change.
"""

from __future__ import annotations

from typing import Final

from platform_projections.migration_entry import MigrationEntryPoint

from projection_transactions.migrations import MIGRATIONS
from projection_transactions.projection import PROJECTION
from projection_transactions.settings import MigrationSettings

ENTRY_POINT: Final = MigrationEntryPoint(PROJECTION, MIGRATIONS, MigrationSettings)

run: Final = ENTRY_POINT.run
lambda_handler: Final = ENTRY_POINT.lambda_handler
main: Final = ENTRY_POINT.main

if __name__ == "__main__":
    raise SystemExit(main())
