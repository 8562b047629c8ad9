"""The service's binding of the shared settings (``platform_projections.service``, whose
contract tests cover what each variable means): its schema, its name and its entry points."""

from __future__ import annotations

import importlib

from platform_sql import DatabaseConfig
from projection_balances import handler, migrate
from projection_balances.settings import HANDLER, MIGRATION_HANDLER, MigrationSettings, Settings

URL = "postgresql+psycopg://balances_writer@proxy.internal:5432/app"


def test_settings_are_bound_to_the_balances_projection():
    settings = Settings.from_environment({"DATABASE_URL": URL, "EVENT_STORE_TABLE": "event-store"})
    migration = MigrationSettings(database=DatabaseConfig(url=URL))

    assert (settings.schema_name, migration.schema_name) == ("balances", "balances")
    assert settings.database.application_name == "projection-balances"
    assert MigrationSettings.from_environment({"DATABASE_URL": URL}).schema_name == "balances"


def test_the_handler_names_the_stack_gives_lambda_are_the_entry_points():
    def resolve(dotted: str) -> object:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)

    assert resolve(HANDLER) is handler.lambda_handler
    assert resolve(MIGRATION_HANDLER) == migrate.lambda_handler
    assert migrate.ENTRY_POINT.prog == "projection-balances-migrate"
