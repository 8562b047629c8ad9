"""The balances schema's deploy-time migration entry point, bound by
:mod:`platform_projections.migration_entry`: ``run`` (the local runner's), ``lambda_handler``
(the stack's) and ``main`` (``projection-balances-migrate``,
``python -m projection_balances.migrate``)."""

from __future__ import annotations

from typing import Final

from platform_lambda import init_phase

# Libraries load inside the init phase: no collector passes over what the container keeps
# for its lifetime (platform_lambda's README says why).
with init_phase():
    from platform_projections.migration_entry import MigrationEntryPoint

    from projection_balances.migrations import MIGRATIONS
    from projection_balances.projection import PROJECTION
    from projection_balances.settings import MigrationSettings

ENTRY_POINT: Final = MigrationEntryPoint(PROJECTION, MIGRATIONS, MigrationSettings)
run: Final = ENTRY_POINT.run
lambda_handler: Final = ENTRY_POINT.lambda_handler
main: Final = ENTRY_POINT.main

if __name__ == "__main__":
    raise SystemExit(main())
