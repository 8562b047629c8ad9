"""The Lambda entry point (``projection_balances.handler.lambda_handler``) and its composition root.

The engine and the DynamoDB client are built once per container, on the first batch; tests build
a projector on their own resources instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from platform_lambda import init_phase

# Libraries load inside the init phase: no collector passes over what the container keeps
# for its lifetime (platform_lambda's README says why).
with init_phase():
    import boto3
    from platform_projections import Projector
    from platform_projections.dynamodb import DynamoDBEventStoreReader
    from platform_projections.lambda_handler import LambdaHandler, make_lambda_handler
    from platform_sql import create_database_engine

    from projection_balances.projection import PROJECTION, Account
    from projection_balances.settings import SERVICE_NAME, Settings


def build_projector(environ: Mapping[str, str] | None = None) -> Projector[Account]:
    """Settings, engine and event store reader: the container's composition root."""
    settings = Settings.from_environment(environ)
    engine = create_database_engine(settings.database)
    reader = DynamoDBEventStoreReader(boto3.client("dynamodb"), settings.event_store_table)
    return Projector(PROJECTION, engine, reader, schema=settings.schema_name)


lambda_handler: Final[LambdaHandler] = make_lambda_handler(
    build_projector, projection=PROJECTION.name, service=SERVICE_NAME
)
