"""What every Lambda function of the platform does at init (see README.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["init_phase"]


@contextmanager
def init_phase() -> Iterator[None]:
    """No garbage collection while the block loads what the container keeps for its lifetime,
    and what the block made frozen out of every later collection.

    Those objects live as long as the container, so full passes over them while they are made
    free nothing and cost up to a quarter of a cold start's CPU. The freeze comes before the
    collector resumes, or its first pass would walk all of them once more.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
