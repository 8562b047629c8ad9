"""Running statements as the database roles the projections' migrations grant, in real Postgres.

The owner's engine (the migration's login) switches to a role for one transaction
(``SET LOCAL ROLE``), so a statement meets exactly that role's privileges. A probe's transaction
is always rolled back, so a statement that wrongly succeeds cannot change what later probes see.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

INSUFFICIENT_PRIVILEGE: Final = "42501"
"""SQLSTATE of ``permission denied`` (and of ``must be owner of``)."""


def as_role(engine: Engine, role: str, statement: str, *, commit: bool = False) -> None:
    """Run ``statement`` as ``role`` (a name the migrations made, never user input); rolled
    back unless ``commit``."""
    with engine.connect() as connection, connection.begin() as transaction:
        connection.execute(text(f'SET LOCAL ROLE "{role}"'))
        connection.execute(text(statement))
        if not commit:
            transaction.rollback()


def refusal(engine: Engine, role: str, statement: str) -> str | None:
    """The SQLSTATE Postgres refused ``statement`` as ``role`` with, or ``None`` if it ran."""
    try:
        as_role(engine, role, statement)
    except ProgrammingError as error:
        return str(getattr(error.orig, "sqlstate", None))
    return None


def refused(engine: Engine, role: str, statement: str) -> bool:
    """Whether Postgres refused ``statement`` as ``role`` for lack of privilege (not, say, for a
    syntax error, which would prove nothing)."""
    return refusal(engine, role, statement) == INSUFFICIENT_PRIVILEGE
