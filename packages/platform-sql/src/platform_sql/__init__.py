"""SQL plumbing shared by projections and queries, on Postgres (AWS, tests) and SQLite (local)."""

from platform_sql.engine import (
    DATABASE_ATTACH_ENV,
    DATABASE_IAM_AUTH_ENV,
    DATABASE_SECRET_ARN_ENV,
    DATABASE_SSLMODE_ENV,
    DATABASE_SSLROOTCERT_ENV,
    DATABASE_URL_ENV,
    CachedSecretCredentials,
    Credentials,
    CredentialSource,
    DatabaseConfig,
    DatabaseConfigError,
    IamAuthTokenCredentials,
    create_database_engine,
    credentials_from_config,
)
from platform_sql.generations import (
    GENERATION,
    GENERATIONS_TABLE,
    active_generation,
    generations_table,
    in_active_generation,
)
from platform_sql.types import Money, UtcDateTime
from platform_sql.upsert import (
    ArrayUpsert,
    BoundUpsert,
    Excluded,
    dialect_insert,
    execute_together,
    upsert,
)

__all__ = [
    "DATABASE_ATTACH_ENV",
    "DATABASE_IAM_AUTH_ENV",
    "DATABASE_SECRET_ARN_ENV",
    "DATABASE_SSLMODE_ENV",
    "DATABASE_SSLROOTCERT_ENV",
    "DATABASE_URL_ENV",
    "GENERATION",
    "GENERATIONS_TABLE",
    "ArrayUpsert",
    "BoundUpsert",
    "CachedSecretCredentials",
    "CredentialSource",
    "Credentials",
    "DatabaseConfig",
    "DatabaseConfigError",
    "Excluded",
    "IamAuthTokenCredentials",
    "Money",
    "UtcDateTime",
    "active_generation",
    "create_database_engine",
    "credentials_from_config",
    "dialect_insert",
    "execute_together",
    "generations_table",
    "in_active_generation",
    "upsert",
]
