"""Time and identity as injectable functions, so tests choose them instead of patching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""
IdGenerator = Callable[[], UUID]
"""Returns a fresh unique id (event ids, account ids)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> UUID:
    return uuid4()


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())
