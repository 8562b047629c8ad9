"""The init phase collects nothing while it runs and leaves what it made frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from platform_lambda import init_phase


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def test_no_collection_runs_inside_and_what_it_made_is_frozen() -> None:
    before = gc.get_freeze_count()
    with init_phase():
        assert not gc.isenabled()
        kept = [[index] for index in range(10_000)]  # container-lifetime objects
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with init_phase():
        pass
    assert not gc.isenabled()


def test_the_collector_resumes_even_when_the_block_fails() -> None:
    with pytest.raises(ImportError), init_phase():
        raise ImportError("a module the function needs is missing")
    assert gc.isenabled()
