"""The stack's wiring: the shared projection program bound to the balances projection.

``__main__.py`` builds the function's package and calls ``projection_balances_stack``; tests call it
with a package description and the platform stack's outputs mocked.
"""

from __future__ import annotations

from platform_infra.packaging import LambdaPackage
from platform_infra.projection_program import ConfigKey, ProjectionBinding, projection_stack
from platform_infra.projection_service import ProjectionService
from projection_balances.model import SCHEMA
from projection_balances.projection import PROJECTION
from projection_balances.settings import HANDLER, MIGRATION_HANDLER, SERVICE_NAME

BINDING = ProjectionBinding(
    projection=PROJECTION,
    schema=SCHEMA,
    service_name=SERVICE_NAME,
    handler=HANDLER,
    migration_handler=MIGRATION_HANDLER,
)


def projection_balances_stack(package: LambdaPackage) -> ProjectionService:
    """Everything the stack deploys, reading the platform stack's outputs by reference."""
    return projection_stack(package, BINDING)


__all__ = ["BINDING", "ConfigKey", "projection_balances_stack"]
