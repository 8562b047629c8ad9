"""The transactions schema's deploy-time migration entry point, bound by
:mod:`platform_projections.migration_entry`: ``run`` (the local runner's), ``lambda_handler``
(the stack's) and ``main`` (``projection-transactions-migrate``,
``python -m projection_transactions.migrate``)."""

from __future__ import annotations

import gc
from typing import Final

# Lambda's init phase makes hundreds of thousands of objects that live as long as the container
# (modules, SQLAlchemy's and botocore's models, pydantic's validators). The collector's full
# passes over them while they are made free nothing and cost up to a quarter of the cold start's
# CPU: no collection while the modules load, and what they made is frozen out of every later pass
# (before the collector resumes: its first pass would otherwise walk all of it once more).
_collecting = gc.isenabled()
gc.disable()
try:
    from platform_projections.migration_entry import MigrationEntryPoint

    from projection_transactions.migrations import MIGRATIONS
    from projection_transactions.projection import PROJECTION
    from projection_transactions.settings import MigrationSettings
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

ENTRY_POINT: Final = MigrationEntryPoint(PROJECTION, MIGRATIONS, MigrationSettings)
run: Final = ENTRY_POINT.run
lambda_handler: Final = ENTRY_POINT.lambda_handler
main: Final = ENTRY_POINT.main

if __name__ == "__main__":
    raise SystemExit(main())
