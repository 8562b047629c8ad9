"""Many Lambda containers in one process: their invocations take turns, their waits overlap.

On AWS every invocation runs alone in its container's process; here the command API, the relay,
the projections and the query API are threads of one process, which breaks two things that
separate processes would keep apart:

* moto is not thread-safe: a cancelled DynamoDB transaction restores a snapshot of the whole
  table, undoing what another thread committed meanwhile, and its dicts may change size under a
  concurrent iteration. Every AWS call therefore runs alone.
* powertools' ``Metrics`` keeps its metric set in class attributes shared by every instance of the
  process: one function's flush would publish (and clear) another's metrics, and the other's
  flush would then warn that it has none. Handler code therefore runs alone too.

So a thread runs handler code or an AWS call only while it holds the turn. It gives the turn up
before each AWS call and queues for it again (first come, first served), which is where
concurrent containers interleave: between the load and the append of a command, between the
batches of two pollers. While it waits on the database it holds no turn at all, so Postgres sees
real concurrency (row locks, read-only transactions next to writers) and a thread waiting on a
lock never blocks the thread that holds it.

Rules that keep this deadlock-free: a thread holding the turn never waits on another thread.
Hence each container has its own database engine (a thread waiting on a pool checkout would wait
while holding the turn), SQS is polled without long polling, and nothing sleeps in a turn.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event

F = TypeVar("F", bound=Callable[..., Any])


class Turns:
    """A fair (FIFO), re-entrant turn shared by every thread that plays a container."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._queue: deque[object] = deque()
        self._local = threading.local()

    # ------------------------------------------------------------------ the turn itself
    def _take(self, depth: int) -> None:
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += depth
                return
            ticket = object()
            self._queue.append(ticket)
            self._changed.wait_for(lambda: self._owner is None and self._queue[0] is ticket)
            self._queue.popleft()
            self._owner, self._depth = me, depth

    def _leave(self) -> None:
        with self._changed:
            if self._owner != threading.get_ident():
                msg = "a thread gave back a turn it does not hold"
                raise RuntimeError(msg)
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._changed.notify_all()

    def _give_up(self) -> int:
        """Release the turn entirely; returns how deep it was held (0: not held)."""
        with self._changed:
            if self._owner != threading.get_ident():
                return 0
            depth, self._owner, self._depth = self._depth, None, 0
            self._changed.notify_all()
            return depth

    @contextmanager
    def turn(self) -> Iterator[None]:
        self._take(1)
        try:
            yield
        finally:
            self._leave()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the turn through several AWS calls: nothing else runs between them."""
        self._take(1)
        self._local.exclusive = getattr(self._local, "exclusive", 0) + 1
        try:
            yield
        finally:
            self._local.exclusive -= 1
            self._leave()

    def invocation(self, handler: F) -> F:
        """``handler`` running as one container's invocation: its code runs in a turn."""

        def invoke(*args: Any, **kwargs: Any) -> Any:
            with self.turn():
                return handler(*args, **kwargs)

        return invoke  # type: ignore[return-value]

    # ------------------------------------------------------------------ AWS calls (botocore)
    def serialize_aws_calls(self, events: Any) -> None:
        """Make every client of a botocore session (``session.events``) call AWS in a turn,
        after letting the threads queued for it go first."""
        events.register("before-call", self._before_aws_call, unique_id="turns-before-call")
        events.register("after-call", self._after_aws_call, unique_id="turns-after-call")
        events.register(
            "after-call-error", self._after_aws_call, unique_id="turns-after-call-error"
        )

    def _before_aws_call(self, context: dict[str, Any], **_: Any) -> None:
        if getattr(self._local, "exclusive", 0):
            self._take(1)
        else:
            held = self._give_up()
            self._take(held + 1)
        context["turns_held"] = True

    def _after_aws_call(self, context: dict[str, Any], **_: Any) -> None:
        if context.pop("turns_held", False):
            self._leave()

    # ------------------------------------------------------------------ database waits
    def release_during_statements(self, engine: Engine) -> None:
        """A container's engine: while one of its statements runs, its thread holds no turn."""
        event.listen(engine, "before_cursor_execute", self._before_statement)
        event.listen(engine, "after_cursor_execute", self._after_statement)
        event.listen(engine, "handle_error", self._statement_failed)

    def _waits(self) -> dict[int, int]:
        waits: dict[int, int] | None = getattr(self._local, "by_cursor", None)
        if waits is None:
            waits = {}
            self._local.by_cursor = waits
        return waits

    def _before_statement(self, _conn: Any, cursor: Any, *_: Any) -> None:
        self._waits()[id(cursor)] = self._give_up()

    def _after_statement(self, _conn: Any, cursor: Any, *_: Any) -> None:
        self._resume(id(cursor))

    def _statement_failed(self, context: Any) -> None:
        # A failed connect has no cursor (and no such attribute): no statement gave a turn up.
        cursor = getattr(context, "cursor", None)
        if cursor is not None:
            self._resume(id(cursor))

    def _resume(self, cursor_id: int) -> None:
        held = self._waits().pop(cursor_id, 0)
        if held:
            self._take(held)
