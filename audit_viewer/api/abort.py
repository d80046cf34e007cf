"""Abandoning a request in flight: Cancel ends a sync within a second, not at its timeout.

A read blocked on a slow platform waits up to its timeout (60 s), and urllib3 keeps the
connection to itself while it does. The client's connections therefore record their sockets
here; :meth:`Aborter.abort` shuts every one down, which wakes the blocked read at once, and
the retry machinery sees the abort and gives up instead of trying again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from audit_viewer.api.errors import RequestAborted


class Aborter:
    """The sockets of one client's open connections, and whether its requests are abandoned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._aborted = threading.Event()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def check(self) -> None:
        """Raise :class:`RequestAborted` once :meth:`abort` was called."""
        if self._aborted.is_set():
            raise RequestAborted("The request was abandoned: the sync was cancelled.")

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds`` (a Retry-After, a backoff), or less when aborted meanwhile."""
        if self._aborted.wait(seconds):
            self.check()

    def resume(self) -> None:
        """Let requests through again (a new sync run with the same client)."""
        self._aborted.clear()

    def abort(self) -> None:
        """Abandon every request of the client, now and later (thread-safe)."""
        self._aborted.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.add(sock)
            if self._aborted.is_set():  # connected just as the abort came
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _discard(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.discard(sock)

    def adapter(self, **kwargs: Any) -> HTTPAdapter:
        """A requests adapter whose connections this aborter can shut down."""
        return _AbortableAdapter(self, **kwargs)


def _tracked(base: type[HTTPConnection], aborter: Aborter) -> type[HTTPConnection]:
    class Tracked(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            aborter._add(self.sock)

        def close(self) -> None:
            sock = self.sock
            super().close()
            aborter._discard(sock)

    return Tracked


class _AbortableAdapter(HTTPAdapter):
    def __init__(self, aborter: Aborter, **kwargs: Any) -> None:
        self._aborter = aborter  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http = _tracked(HTTPConnection, self._aborter)
        https = _tracked(HTTPSConnection, self._aborter)
        pools = {
            "http": type("TrackedPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("TrackedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        self.poolmanager.pool_classes_by_scheme = pools
