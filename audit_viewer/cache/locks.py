"""Locks around the cache: one sync of a profile at a time, and a write lock waited for aloud.

Two syncs of one profile into one cache would read the same ranges twice and race on the
resume plan, so a sync holds a lock for its profile from before its first request to its end:
on PostgreSQL a session-level advisory lock (seen by every machine sharing the archive, and
released by the server if the process dies), on an SQLite file a one-byte POSIX record lock in
``<cache>-synclock`` beside it (released by the kernel with the process). A second sync is
refused at once with :class:`SyncBusyError` rather than queued: an admin who starts one wants
to know the other is running, and cron retries on its own.

SQLite admits one writer at a time; a writer that finds the file locked waits in slices and
says so (:class:`WriteLockWait`) instead of sitting silent until "database is locked".
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from audit_viewer.cache.errors import CacheError, SyncBusyError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: The first key of audit-viewer's PostgreSQL advisory locks ('AVsy'); the second is the profile's.
_PG_NAMESPACE = 0x41567379
#: Seconds SQLite waits for the write lock in one go before the wait is reported.
_WAIT_SLICE = 1.0
#: A wait is reported at its start and then every this many seconds.
_REPORT_EVERY = 10.0

# Syncs in this process (the window's worker and, in tests, the command line): a POSIX record
# lock belongs to the process, so it cannot keep two of its own threads apart.
_held: set[tuple[str, str]] = set()
_held_lock = threading.Lock()


def _profile_key(profile: str) -> int:
    """A stable 31-bit number for ``profile`` (an advisory lock key, a byte offset)."""
    return int.from_bytes(hashlib.sha256(profile.encode()).digest()[:4], "big") >> 1


def _busy(profile: str, location: str) -> SyncBusyError:
    return SyncBusyError(
        f"Another sync of profile {profile} into the cache {location} is running (from this or "
        "another program); wait for it to finish, then sync again."
    )


@contextlib.contextmanager
def sync_lock(engine: sa.Engine, path: Path | None, location: str, profile: str) -> Iterator[None]:
    """Hold the lock of ``profile``'s sync into this cache, or raise SyncBusyError at once."""
    key = (location, profile)
    with _held_lock:
        if key in _held:
            raise _busy(profile, location)
        _held.add(key)
    try:
        if engine.dialect.name == "postgresql":
            with _pg_lock(engine, profile, location):
                yield
        elif path is not None and fcntl is not None:
            with _file_lock(path, profile, location):
                yield
        else:  # an in-memory database (this process only), or Windows: the set above
            yield
    finally:
        with _held_lock:
            _held.discard(key)


@contextlib.contextmanager
def _pg_lock(engine: sa.Engine, profile: str, location: str) -> Iterator[None]:
    keys = (_PG_NAMESPACE, _profile_key(profile))
    with engine.connect() as conn:  # held for the whole sync: the lock is the session's
        got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(*keys))).scalar()
        conn.commit()
        if not got:
            raise _busy(profile, location)
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):  # a lost session has let go anyway
                conn.execute(sa.select(sa.func.pg_advisory_unlock(*keys)))
                conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path, profile: str, location: str) -> Iterator[None]:
    assert fcntl is not None
    lock_path = path.with_name(f"{path.name}-synclock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise SyncBusyError(
            f"Cannot create the sync lock {lock_path} ({exc.strerror or exc}); syncing needs "
            f"write access to the folder of {location}."
        ) from exc
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _profile_key(profile))
        except OSError:
            raise _busy(profile, location) from None
        yield
    finally:
        os.close(fd)  # releases the lock


class WriteLockWait:
    """How an SQLite writer takes the write lock: in slices, saying so, up to ``limit`` s.

    ``notify`` hears the seconds waited so far at the first slice and every few seconds
    after, so a progress display can say why nothing moves.
    """

    def __init__(
        self, location: str, limit: float, notify: Callable[[float], None] | None = None
    ) -> None:
        self.location = location
        self.limit = limit
        self.notify = notify

    def begin(self, conn: sa.Connection, timeout_ms: int) -> None:
        """``BEGIN IMMEDIATE`` on ``conn``, waiting out another writer; ``timeout_ms`` is the
        connection's busy timeout, restored afterwards."""
        started = time.monotonic()
        reported = -_REPORT_EVERY
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(_WAIT_SLICE * 1000)}")
        try:
            while True:
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    return
                except sa.exc.OperationalError as exc:
                    code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF
                    if code != sqlite3.SQLITE_BUSY:
                        raise
                waited = time.monotonic() - started
                if waited >= self.limit:
                    raise CacheError(
                        f"The cache {self.location} stayed locked by another program writing "
                        f"it for {waited:.0f} s; nothing was lost, sync again once it has "
                        "finished."
                    )
                if waited - reported >= _REPORT_EVERY:
                    reported = waited
                    log.warning(
                        "Waiting for the cache %s: another program is writing to it "
                        "(%.0f s so far, giving up after %.0f s)",
                        self.location,
                        waited,
                        self.limit,
                    )
                    if self.notify is not None:
                        self.notify(waited)
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {timeout_ms}")
