"""Crash points and outages, injected where our code meets AWS and the database: the real code
path runs up to the fault, the side effect happens, and then the invocation dies.

* :class:`CrashAfter` wraps a boto3 client: an operation does its work, then raises (the
  invocation died right after the call reached AWS).
* :func:`commit_acknowledgement_lost` makes a role's database ``COMMIT`` succeed and then fail as
  a dropped connection does (the commit is durable, the client never heard so).
* :class:`TcpProxy` stands between the functions and Postgres; stopping it refuses new
  connections and cuts open ones, as a database outage or failover does.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

import psycopg
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg


class InvocationKilled(BaseException):
    """The runtime stopped the invocation here (a timeout, an out-of-memory kill): nothing of the
    function runs after this point, not even its own error handling. A ``BaseException``, so that
    no ``except Exception`` in the function can answer instead."""


class InvocationFailed(Exception):
    """The invocation failed here after its side effect (a timeout reported as the function's
    error): the event source mapping sees a failed invocation and retries the whole batch."""


def always(_request: dict[str, Any]) -> bool:
    return True


class CrashAfter:
    """A boto3 client whose ``operation`` runs, then raises what ``error`` makes, on the first
    ``times`` calls that ``when`` picks (by request). Other operations pass through."""

    def __init__(
        self,
        client: Any,
        operation: str,
        error: Callable[[], BaseException],
        *,
        when: Callable[[dict[str, Any]], bool] = always,
        times: int = 1,
    ) -> None:
        self._client = client
        self._operation = operation
        self._error = error
        self._when = when
        self._times = times
        self.crashed: list[dict[str, Any]] = []
        """The requests that went through and then crashed, with their answers."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != self._operation:
            return attribute

        def call(**request: Any) -> Any:
            armed = len(self.crashed) < self._times and self._when(request)
            answer = attribute(**request)
            if armed:
                self.crashed.append({"request": request, "answer": answer})
                raise self._error()
            return answer

        return call


# ---------------------------------------------------------------------------------- database
LOST_CONNECTION: Final = "consuming input failed: server closed the connection unexpectedly"
"""What psycopg reports when the server's answer never arrives."""


@contextlib.contextmanager
def commit_acknowledgement_lost(role: str, *, times: int = 1) -> Iterator[list[str]]:
    """For the block, the first ``times`` commits of connections logged in as ``role`` reach
    Postgres, then the connection drops before the answer: psycopg raises its
    ``OperationalError`` on a closed connection, as when the network fails at that moment.
    Yields the list of roles whose commit was lost (one entry per loss)."""
    lost: list[str] = []
    original: Callable[[Any, Any], None] = PGDialect_psycopg.do_commit

    def do_commit(self: Any, connection: Any) -> None:
        original(self, connection)
        # SQLAlchemy hands over its pool's proxy; the psycopg connection is behind it.
        raw = getattr(connection, "dbapi_connection", connection)
        if len(lost) < times and raw.info.user == role:
            lost.append(role)
            raw.close()
            raise psycopg.OperationalError(LOST_CONNECTION)

    PGDialect_psycopg.do_commit = do_commit  # type: ignore[method-assign]
    try:
        yield lost
    finally:
        PGDialect_psycopg.do_commit = original  # type: ignore[method-assign]


class TcpProxy:
    """A TCP proxy on ``127.0.0.1:<port>`` to ``target``. :meth:`stop` closes the listening
    socket (new connections are refused) and every open connection (their next read fails);
    :meth:`start` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self.port = 0
        self.accepted = 0

    @property
    def serving(self) -> bool:
        return self._listener is not None

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone may not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                _close(end)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(upstream)
                    return
                self._pairs.append((client, upstream))
                self.accepted += 1
            thread = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
            thread.start()
            self._threads.append(thread)


def _pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either end closes."""
    peer = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for end in peer:
            end.setblocking(True)
            selector.register(end, selectors.EVENT_READ)
        try:
            while True:
                for key, _ in selector.select(timeout=0.5):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    peer[source].sendall(data)
                if client.fileno() < 0 or upstream.fileno() < 0:
                    return
        except (OSError, ValueError):
            return
        finally:
            _close(client)
            _close(upstream)


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()
