"""The projections the local runner hosts, each through its own service's composition root.

A projection service exposes a declaration (``PROJECTION``), a migration entry point and a
projector builder that reads the same environment variables its Lambda functions get; the runner
hands each the environment its stack would set, pointing at the emulated AWS and the local
database.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_projections import Projection, Projector


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """What the runner needs to host one projection service."""

    declaration: Projection[Any]
    service: str
    migrate: Callable[[Mapping[str, str]], object]
    """Apply the schema's migrations as the owner, given the migration function's environment."""
    build_projector: Callable[[Mapping[str, str]], Projector[Any]]
    """The projection function's composition root, given the function's environment."""

    @property
    def name(self) -> str:
        return self.declaration.name


def _service(package: str) -> LocalProjection:
    """A projection service laid out like every other: ``projection``, ``handler``, ``migrate``
    and ``settings`` modules in its package."""
    module = importlib.import_module
    projection = module(f"{package}.projection")
    handler = module(f"{package}.handler")
    migrate = module(f"{package}.migrate")
    settings = module(f"{package}.settings")
    return LocalProjection(
        declaration=projection.PROJECTION,
        service=settings.SERVICE_NAME,
        migrate=lambda env: migrate.run(settings.MigrationSettings.from_environment(env)),
        build_projector=handler.build_projector,
    )


KNOWN: dict[str, Callable[[], LocalProjection]] = {
    "balances": lambda: _service("projection_balances"),
    "transactions": lambda: _service("projection_transactions"),
}
"""Every projection service the runner knows, by projection name."""
