"""Fixtures: the whole system (moto, a fresh Postgres database, the real handlers), built by
``tests_integration.system`` so that every test module wires it the same way."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from tests_integration.system import System


@pytest.fixture
def make_system(database_url: URL) -> Iterator[Callable[..., System]]:
    """``make_system(**options)``: the system with ``whole_system``'s options (fault injection);
    one per test."""
    # Imported here, not with this module: pytest imports this conftest before the
    # platform_testing plugin sets the environment, and the functions' modules read theirs
    # (powertools' namespace, service name) when they are imported, as in Lambda's init phase.
    from tests_integration.system import whole_system  # noqa: PLC0415

    with contextlib.ExitStack() as stack:

        def make(**options: Any) -> System:
            return stack.enter_context(whole_system(database_url, **options))

        yield make


@pytest.fixture
def system(make_system: Callable[..., System]) -> System:
    return make_system()
