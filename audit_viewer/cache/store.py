"""The local archive of audit events: an SQLite file by default, any PostgreSQL database too.

The cache outlives the platform's 90-day retention, so it must never be damaged by the app
itself: a file that is not one of our caches, is corrupt, or was written by a newer version is
refused before anything writes to it. Every write is one short transaction (SQLite in WAL mode,
``BEGIN IMMEDIATE`` for writers so a reader never blocks a sync and vice versa).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect

from audit_viewer.cache.errors import CacheCorruptError, CacheError, CacheTooNewError
from audit_viewer.cache.locks import WriteLockWait, sync_lock
from audit_viewer.cache.schema import (
    REVISIONS,
    events,
    from_micros,
    rejected_events,
    sync_state,
    to_micros,
)
from audit_viewer.events import FRAME_COLUMNS, EventRow

if TYPE_CHECKING:  # pandas, pyarrow and alembic load when first used: a sync needs none of them
    import pandas as pd
    import pyarrow as pa
    from alembic.config import Config

ENV_CACHE = "AUDIT_VIEWER_CACHE"
DEFAULT_FILE_NAME = "cache.sqlite3"
VERSION_TABLE = "alembic_version"

#: ``PRAGMA application_id`` of every audit-viewer cache: the ASCII of "AVjt" (audit-viewer,
#: Jit), which shows in a hex dump of the header and is in no registry of SQLite formats.
APPLICATION_ID = 0x41566A74

_SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # the database header: journal mode at bytes 18-19, application_id at 68
_MIGRATIONS = Path(__file__).with_name("migrations")
_OUR_TABLES = frozenset({"events", "sync_state", "rejected_events"})
#: The exact tables of the caches written before they were marked with APPLICATION_ID, by
#: schema revision. Frozen: every cache of a later revision carries the mark.
_UNMARKED_TABLES = {
    "0001": frozenset({"events", "sync_state", VERSION_TABLE}),
    "0002": frozenset({"events", "sync_state", "rejected_events", VERSION_TABLE}),
}
_MIGRATION_LOCK_KEY = 0x4155_4449_5456  # any constant; names the PostgreSQL advisory lock
_FRAME_SELECT = [events.c[name] for name in FRAME_COLUMNS]
# sqlite3_errstr() of SQLITE_CORRUPT and SQLITE_NOTADB: how ADBC's messages name a damaged file.
_SQLITE_DAMAGED = ("database disk image is malformed", "file is not a database")
_SQLITE_DAMAGED_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
# SQLite result codes whose messages are about the file or the machine, never the statement.
_SQLITE_ABOUT_THE_FILE = frozenset(
    {
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_INTERRUPT,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOLFS,
        sqlite3.SQLITE_AUTH,
    }
)
# SQLSTATEs (classes, and one code) of PostgreSQL errors about the connection, the server or
# the role's rights, never the statement: connection, authorization, no such database,
# conflicts, resources, operator intervention, system errors, insufficient privilege.
_PG_ABOUT_THE_SERVER = ("08", "28", "3D", "40", "53", "57", "58", "42501")

Range = tuple[datetime, datetime]

#: How long an SQLite statement waits for a lock held by another connection (readers, and a
#: writer's commit); a writer's wait for the write lock itself is WriteLockWait's.
_BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger(__name__)


def resolve_cache_url(value: str | os.PathLike[str] | None = None) -> str:
    """Where the cache lives: the argument, else ``$AUDIT_VIEWER_CACHE``, else the data dir.

    A value containing ``://`` is an SQLAlchemy URL used as is; anything else is a file path.
    """
    if value is None or os.fspath(value) == "":
        value = os.environ.get(ENV_CACHE) or None
    if value is None:
        from audit_viewer.config import data_dir  # lazy: config pulls in keyring and friends

        return _sqlite_url(data_dir() / DEFAULT_FILE_NAME)
    text = os.fspath(value)
    if "://" in text:
        return text
    return _sqlite_url(Path(text))


def _sqlite_url(path: Path) -> str:
    absolute = path.expanduser().absolute()
    # Resolving a dangling link would name its missing target instead, whose folders opening
    # would then create; kept as given, CacheStore.open names the link and refuses it.
    return f"sqlite:///{absolute if _dangling_link(absolute) else absolute.resolve()}"


def _dangling_link(path: Path) -> Path | None:
    """The symbolic link on ``path`` (itself or a folder above it) that leads nowhere, if any."""
    for candidate in (path, *path.parents):
        if candidate.is_symlink() and not candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class RejectedEvent:
    """Something a sync received in a page's ``data`` that is no storable event, as received."""

    received_at: datetime
    reason: str  # one line: why it is not an event ("event without an id", ...)
    raw: str  # its JSON text (audit_viewer.events.raw_json)


@dataclass(frozen=True)
class SyncState:
    """A profile's sync bookkeeping: coverage, the unfinished run (if any), the last outcome.

    ``high_water_mark``: every event created before it, back to the first sync's window start,
    has been fetched. ``plan`` lists the ranges of a run that has not finished (walk order) and
    ``completed_ranges`` the ones of them already fully stored; both are empty when no run is
    unfinished. ``last_outcome`` is ``"ok"``, ``"failed"`` or ``"cancelled"``.
    """

    profile: str
    high_water_mark: datetime | None = None
    plan: tuple[Range, ...] = ()
    completed_ranges: tuple[Range, ...] = ()
    current_range: Range | None = None
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None
    last_outcome: str | None = None
    last_error: str | None = None

    @property
    def unfinished(self) -> bool:
        """A run stopped before covering its plan; the next run resumes it."""
        return bool(self.plan)


def alembic_config() -> Config:
    """Alembic configuration for the cache's migrations (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    return config


def _known_revisions() -> tuple[frozenset[str], str]:
    """The schema revisions this version knows and its head, without loading Alembic.

    Alembic (a fifth of a second to import) is only needed when a cache must be migrated;
    ``schema.REVISIONS`` lists what its migrations define, and a test keeps the two equal.
    """
    return frozenset(REVISIONS), REVISIONS[-1]


def _not_ours(display: str, why: str) -> CacheCorruptError:
    return CacheCorruptError(
        f"{display} is not an audit-viewer cache ({why}); it was left untouched. "
        "Choose another cache location, or move this file away."
    )


def _damaged(display: str, detail: str) -> CacheCorruptError:
    return CacheCorruptError(
        f"{display} is damaged ({detail}); it was left untouched. "
        "Restore it from a backup, or move it away."
    )


@dataclass(frozen=True)
class _Identity:
    """What tells one of our caches from any other database."""

    tables: frozenset[str]
    others: frozenset[str]  # views and triggers ("view name"): never part of a cache
    revision: str | None
    application_id: int | None  # None on PostgreSQL, which has no such mark


def _sqlite_identity(query: Callable[[str], Sequence[tuple[Any, ...]]]) -> _Identity:
    """Read the identity of the SQLite database that ``query`` runs statements on."""
    rows = query(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
    tables = frozenset(name for kind, name in rows if kind == "table")
    revision = None
    if VERSION_TABLE in tables:
        found = query(f"SELECT version_num FROM {VERSION_TABLE}")
        revision = found[0][0] if found else None
    ((application_id,),) = query("PRAGMA application_id")
    others = frozenset(f"{kind} {name}" for kind, name in rows if kind != "table")
    return _Identity(tables, others, revision, application_id)


def _check_identity(display: str, found: _Identity) -> None:
    """Refuse a database that is not one of our caches, or is one of a newer version."""
    known, _head = _known_revisions()
    marked = found.application_id == APPLICATION_ID
    if found.application_id not in (None, 0, APPLICATION_ID):
        raise _not_ours(
            display, f"another application's file: application_id {found.application_id:#010x}"
        )
    if found.revision is not None and found.revision not in known:
        # PostgreSQL has no mark: there, our tables are all there is to go by.
        if marked or (found.application_id is None and found.tables >= _OUR_TABLES):
            raise CacheTooNewError(
                f"{display} was written by a newer version of audit-viewer (schema revision "
                f"{found.revision}); update audit-viewer to use it. It was left untouched."
            )
        raise _not_ours(display, f"its schema revision {found.revision} is not one of ours")
    if marked:
        return
    strangers = found.others | {
        f"table {name}" for name in found.tables - _OUR_TABLES - {VERSION_TABLE}
    }
    if strangers:
        shown = sorted(strangers)
        more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
        raise _not_ours(display, f"it holds {', '.join(shown[:3])}{more}")
    if found.revision is None:
        if found.tables:
            raise _not_ours(display, "tables without a schema revision")
        return  # an empty database: a new cache
    if found.application_id == 0 and found.tables != _UNMARKED_TABLES.get(found.revision):
        raise _not_ours(display, f"not the tables of a cache at schema revision {found.revision}")


def _inspect_sqlite_file(path: Path, display: str) -> _Identity | None:
    """The identity of the file at ``path`` (None: no file, or an empty one), read without
    writing a byte to it or creating a file beside it."""
    if not path.exists():
        return None
    if not path.is_file():
        raise CacheError(f"{display} is not a file.")
    try:
        with path.open("rb") as fh:
            header = fh.read(_HEADER_SIZE)
    except OSError as exc:
        raise CacheError(f"Cannot read the cache {display}: {exc.strerror}.") from exc
    if not header:
        return None  # an empty file: a new cache
    if not header.startswith(_SQLITE_HEADER):
        raise _not_ours(display, "not an SQLite database")
    # A plain read-only connection to a WAL-mode file (header bytes 18-19) creates -wal and
    # -shm files it cannot remove again. Without a -wal file every commit is in the main file,
    # which is then read as immutable: no locks, no files. With one, some connection uses the
    # file (or crashed using it) and the read-only connection shares its WAL.
    immutable = 2 in header[18:20] and not _wal_path(path).exists()
    try:
        with closing(sqlite3.connect(_read_only_uri(path, immutable), uri=True)) as conn:
            return _sqlite_identity(lambda sql: conn.execute(sql).fetchall())
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _SQLITE_DAMAGED_CODES:
            raise _damaged(display, str(exc)) from exc
        raise CacheError(f"Cannot open the cache {display}: {exc}.") from exc


def _wal_path(path: Path) -> Path:
    return path.with_name(f"{path.name}-wal")


def _read_only_uri(path: Path, immutable: bool) -> str:
    """An SQLite URI that opens ``path`` read-only; ``immutable`` also skips locks and WAL."""
    return f"{path.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"


def _sqlite_file(sa_url: sa.URL) -> Path | None:
    """The file an SQLite URL names by its path (None: in memory, a ``file:`` URI, not SQLite)."""
    database = sa_url.database or ""
    if sa_url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database)


def _sqlite_file_engine(sa_url: sa.URL, path: Path, read_uri: str | None) -> sa.Engine:
    """An engine on the file at ``path`` (read-only through ``read_uri`` when given), once a
    look that writes nothing has found it to be ours, or nothing yet."""
    display = str(path)
    link = _dangling_link(path)
    if link is not None:
        raise CacheError(
            f"The cache {display} is behind the symbolic link {link}, whose target "
            f"{os.readlink(link)} does not exist; create it or choose another location."
        )
    found = _inspect_sqlite_file(path, display)
    if found is not None:
        _check_identity(display, found)
    if read_uri is not None:
        if found is None:
            raise _no_cache_yet(display)
        connect = functools.partial(sqlite3.connect, read_uri, uri=True, check_same_thread=False)
        return _with_sqlite_events(sa.create_engine(sa_url, creator=connect), write=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"Cannot create the folder for {display}: {exc}.") from exc
    why = _unwritable(path)
    if why is not None:
        raise _needs_write(display, why)
    return _with_sqlite_events(sa.create_engine(sa_url), write=True)


def _unwritable(path: Path) -> str | None:
    """Why SQLite could not write the cache at ``path``, as far as permissions tell."""
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(path.parent, os.W_OK):  # where SQLite keeps the -wal and -shm files
        return f"its folder {path.parent} is read-only"
    return None


def _immutable(path: Path) -> bool:
    """Whether nothing can be writing the file, so it may be read without locks (which would
    need a -shm file): no WAL, and a folder that takes no new files (a writer needs one)."""
    return not os.access(path.parent, os.W_OK) and not _wal_path(path).exists()


def _no_cache_yet(display: str) -> CacheError:
    return CacheError(f"There is no cache at {display} yet; the first sync creates it.")


def _needs_write(display: str, why: str) -> CacheError:
    return CacheError(
        f"The cache {display} cannot be written ({why}); syncing needs write access to {display}."
    )


def _with_sqlite_events(engine: sa.Engine, *, write: bool) -> sa.Engine:
    sa.event.listen(engine, "connect", _sqlite_on_connect if write else _sqlite_on_connect_read)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect_read(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # As _sqlite_on_connect, without the settings that would write to the file.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's BEGIN (see _sqlite_on_begin): the sqlite3
    # module's own implicit transactions skip DDL, which would make migrations non-atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Only takes effect on a new, empty file: rows of about 1 KB want pages well above
        # that for the WITHOUT ROWID events table (and scans read fewer, larger pages).
        cursor.execute("PRAGMA page_size = 16384")
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front, so two writers queue for it instead of one failing
    # with "database is locked" when it upgrades a read transaction; they queue aloud.
    wait: WriteLockWait | None = conn.get_execution_options().get("audit_viewer_write")
    if wait is None:
        conn.exec_driver_sql("BEGIN")
    else:
        wait.begin(conn, _BUSY_TIMEOUT_MS)


class CacheStore:
    """One cache database; safe to use from one thread at a time (open one per thread)."""

    def __init__(
        self,
        engine: sa.Engine,
        display_url: str,
        path: Path | None,
        read_uri: str | None,
        *,
        read_only: bool,
        lock_timeout: float = 120.0,
    ) -> None:
        """Use :meth:`open`, which checks and migrates the schema first."""
        self._engine = engine
        #: The cache's URL with the password masked.
        self.url = display_url
        #: What an admin recognises in messages and the status line: an SQLite cache's file
        #: path, any other database's masked URL.
        self.location = str(path) if path is not None else display_url
        #: Opened to read only (see :meth:`open`): every write fails with a CacheError.
        self.read_only = read_only
        self._path = path
        # Every write transaction waits for SQLite's write lock through this, which reports
        # the wait to the log and to ``on_lock_wait``.
        self._write_wait = WriteLockWait(self.location, lock_timeout)
        # SQLite: the whole file is verified (PRAGMA quick_check) before this store's first
        # write, so a damaged archive is never written to. It reads every page (about 1.5 s
        # per million events), which is why reading alone (the window, exports) skips it:
        # SQLite reports a damaged page it meets while reading, which becomes CacheCorruptError.
        # A sync starts it in the background (check_writable) while its first requests run.
        self._verified = engine.dialect.name != "sqlite"
        self._verifier: _Verifier | None = None
        # An SQLite file's frames are read by the ADBC SQLite driver, which steps the query and
        # builds the Arrow columns in C without the GIL (the sqlite3 module makes a Python
        # object per value first); read-only, so reading never writes to the archive.
        self._arrow_uri = read_uri
        self._dbapi: Any = engine.dialect.loaded_dbapi
        self._insert = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite_dialect.insert
        )

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        lock_timeout: float = 120.0,
    ) -> CacheStore:
        """Open (creating and migrating as needed) the cache at ``url``; see resolve_cache_url.

        ``read_only`` never writes: an SQLite file is opened with ``mode=ro`` (and immutable
        where nothing can be writing it), so one on a read-only mount or in a read-only folder
        can be read; the cache must then exist and be at this version's schema.
        ``lock_timeout`` bounds a write's wait for another program writing the SQLite file.
        """
        resolved = resolve_cache_url(url)
        try:
            sa_url = sa.make_url(resolved)
        except sa.exc.ArgumentError as exc:
            raise CacheError(f"{resolved!r} is not a file path or database URL.") from exc
        display = sa_url.render_as_string(hide_password=True)
        backend = sa_url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise CacheError(f"The cache must be SQLite or PostgreSQL, not {backend} ({display}).")
        path = _sqlite_file(sa_url)
        read_uri = None
        try:
            if path is not None:
                read_uri = _read_only_uri(path, read_only and _immutable(path))
                engine = _sqlite_file_engine(sa_url, path, read_uri if read_only else None)
            elif backend == "sqlite":  # in memory, or an SQLite URI of its own
                engine = _with_sqlite_events(sa.create_engine(sa_url), write=not read_only)
            else:
                engine = sa.create_engine(sa_url, pool_pre_ping=True)
        except ImportError as exc:
            raise CacheError(f"No database driver for {display}: {exc}.") from exc
        store = cls(engine, display, path, read_uri, read_only=read_only, lock_timeout=lock_timeout)
        try:
            if read_only:
                store._check_readable()
            else:
                store._migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    @classmethod
    def open_for_reading(cls, url: str | os.PathLike[str] | None = None) -> CacheStore:
        """Open the cache for a caller that only reads it (exports, the window).

        Where the cache can be written it opens as usual (created, migrated, its WAL folded
        in on close); an SQLite file that cannot be (a read-only mount or file, someone else's
        folder) opens read-only instead of failing with "unable to open database file".
        """
        resolved = resolve_cache_url(url)
        try:
            path = _sqlite_file(sa.make_url(resolved))
        except sa.exc.ArgumentError:
            path = None  # open() says what is wrong with it
        read_only = path is not None and path.is_file() and _unwritable(path) is not None
        return cls.open(resolved, read_only=read_only)

    @property
    def on_lock_wait(self) -> Callable[[float], None] | None:
        """Called with the seconds waited so far while a write waits for another writer."""
        return self._write_wait.notify

    @on_lock_wait.setter
    def on_lock_wait(self, notify: Callable[[float], None] | None) -> None:
        self._write_wait.notify = notify

    def sync_lock(self, profile: str) -> contextlib.AbstractContextManager[None]:
        """Held by a sync of ``profile`` from before its first request (see cache.locks);
        raises SyncBusyError at once while another holds it."""
        return sync_lock(self._engine, self._path, self.location, profile)

    def close(self) -> None:
        """Close every connection (on SQLite this checkpoints and removes the WAL file)."""
        if self._verifier is not None:
            self._verifier.stop()
        self._engine.dispose()

    def __enter__(self) -> CacheStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CacheStore({self.url!r})"

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, write: bool, verify: bool = True) -> Iterator[sa.Connection]:
        if write and self.read_only:
            raise _needs_write(self.location, "it was opened read-only")
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(audit_viewer_write=self._write_wait)
                with conn.begin():
                    if write and verify and not self._verified:
                        self._verify(conn)
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise self._translate(exc.orig or exc, exc) from exc
        except self._dbapi.Error as exc:  # from the raw cursor of columnar.fetch_table
            raise self._translate(exc, exc) from exc

    def _translate(self, error: BaseException, raised: BaseException) -> CacheError:
        """A driver error as one line for the admin, never with our SQL or its parameters
        (event contents); ``raised``, with all of that, goes to the log."""
        log.info("Error from the cache %s", self.location, exc_info=raised)
        code = getattr(error, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        sqlstate: str | None = getattr(error, "sqlstate", None)
        first_line = str(error).split("\n", 1)[0].strip()
        if primary in _SQLITE_DAMAGED_CODES:
            return _damaged(self.location, first_line)
        if primary == sqlite3.SQLITE_FULL or sqlstate == "53100":
            return CacheError(
                f"The disk holding the cache {self.location} is full; free space and sync "
                "again (nothing was lost)."
            )
        # A file SQLite opened read-only (a read-only mount, a file it may not write), or a
        # read-only PostgreSQL transaction (a standby, default_transaction_read_only).
        if primary == sqlite3.SQLITE_READONLY or sqlstate == "25006":
            return _needs_write(self.location, first_line)
        if (
            primary in _SQLITE_ABOUT_THE_FILE
            or (sqlstate is not None and sqlstate.startswith(_PG_ABOUT_THE_SERVER))
            or (  # the driver's own: no connection, a closed one
                code is None
                and sqlstate is None
                and isinstance(error, (self._dbapi.OperationalError, self._dbapi.InterfaceError))
            )
        ):
            return CacheError(f"The cache {self.location} cannot be used: {first_line}")
        return self._unexpected(error, getattr(error, "sqlite_errorname", None) or sqlstate)

    def _unexpected(self, error: BaseException, code: str | None) -> CacheError:
        """A statement the database refused, which is ours to fix: its message may quote the
        statement or its values, so the admin gets the kind of error and the log the rest."""
        kind = type(error).__name__ if code is None else f"{type(error).__name__} {code}"
        return CacheError(
            f"The cache {self.location} cannot be used: unexpected database error ({kind}); "
            "the log has the details."
        )

    def check_writable(self) -> None:
        """Fail now, before a sync sends its first request, if it could not store what it
        fetches: a read-only store, file, folder, mount or transaction, or a database role
        that may not write.

        An SQLite file's integrity check then starts on a thread of its own, so the requests
        do not wait for it; the first write waits for its verdict (a damaged file is still
        never written to).
        """
        with self._transaction(write=True, verify=False) as conn:
            # Changes nothing, yet needs what every write needs: SQLite's write lock on a
            # file it may write, PostgreSQL's UPDATE right outside a read-only transaction.
            statement = sa.update(sync_state).where(sa.false())
            conn.execute(statement.values(profile=sync_state.c.profile))
        if not self._verified and self._verifier is None and self._arrow_uri is not None:
            self._verifier = _Verifier(self._arrow_uri)

    def _check_readable(self) -> None:
        """What a read-only store opens must already be a cache at this version's schema."""
        _known, head = _known_revisions()
        with self._transaction(write=False) as conn:
            found = self._check(conn)
        if found.revision is None:
            raise _no_cache_yet(self.location)
        if found.revision != head:
            raise CacheError(
                f"The cache {self.location} has schema revision {found.revision}, older than "
                f"this version's {head}; upgrading it needs write access to {self.location}."
            )

    def _verify(self, conn: sa.Connection) -> None:
        verifier, self._verifier = self._verifier, None
        verdict = verifier.verdict() if verifier is not None else None
        if verdict is None:  # not started, or it could not run: check here
            verdict = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        if verdict != "ok":
            raise _damaged(self.location, f"integrity check: {verdict}")
        self._verified = True

    def _migrate(self) -> None:
        _known, head = _known_revisions()
        with self._transaction(write=False) as conn:
            found = self._check(conn)
        if found.revision == head and found.application_id in (None, APPLICATION_ID):
            return
        with self._transaction(write=True) as conn:
            if conn.dialect.name == "postgresql":
                # Serialize migrations of concurrent first opens (SQLite: BEGIN IMMEDIATE does).
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            found = self._check(conn)  # another process may have migrated meanwhile
            if found.application_id == 0:  # a new SQLite cache, or one from before the mark
                conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
            if found.revision != head:
                from alembic import command

                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")

    def _check(self, conn: sa.Connection) -> _Identity:
        """The identity of the database as this connection sees it, refused unless ours."""
        if conn.dialect.name == "sqlite":
            found = _sqlite_identity(lambda sql: conn.exec_driver_sql(sql).all())
        else:
            inspector = sa.inspect(conn)
            tables = frozenset(inspector.get_table_names())
            revision = None
            if VERSION_TABLE in tables:
                table = sa.table(VERSION_TABLE, sa.column("version_num"))
                revision = conn.execute(sa.select(table.c.version_num)).scalar()
            views = frozenset(f"view {name}" for name in inspector.get_view_names())
            found = _Identity(tables, views, revision, None)
        _check_identity(self.location, found)
        return found

    # -- reading ----------------------------------------------------------------------------

    def profiles(self) -> list[str]:
        """Profiles that have cached events or sync state, sorted."""
        query = sa.union(sa.select(events.c.profile).distinct(), sa.select(sync_state.c.profile))
        with self._transaction(write=False) as conn:
            return sorted(conn.execute(query).scalars())

    def count(self, profile: str) -> int:
        """How many events the cache holds for ``profile``."""
        query = sa.select(sa.func.count()).select_from(events).where(events.c.profile == profile)
        with self._transaction(write=False) as conn:
            return int(conn.execute(query).scalar_one())

    def load_frame(self, profile: str, limit: int | None = None) -> pd.DataFrame:
        """Every cached event of ``profile`` as the frame (newest first, ties by id); with
        ``limit``, only the newest that many (the window paints them while the rest loads).

        An SQLite file is read straight into Arrow columns (a million events in about a
        second); other databases go through the DBAPI cursor in batches.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        query = (
            sa.select(*_FRAME_SELECT)
            .where(events.c.profile == profile)
            .order_by(events.c.created_at.desc(), events.c.id)
            .limit(limit)
        )
        from audit_viewer.frame import frame_from_arrow

        return frame_from_arrow(self._read_table(query))

    @property
    def frames_hold_whole_json(self) -> bool:
        """Whether a frame's ``raw`` is each event's whole JSON; an SQLite file's frames hold
        only the extra fields, and :meth:`event_json` has the rest."""
        return self._arrow_uri is None

    def events_json(self, profile: str, event_ids: Sequence[str]) -> list[str]:
        """The whole JSON of each of ``event_ids``, in their order (a Save as JSON Lines of the
        rows a window shows, whose frame holds only the extra fields)."""
        found: dict[str, str] = {}
        with self._transaction(write=False) as conn:
            for start in range(0, len(event_ids), 500):  # under every backend's bound-value cap
                batch = list(event_ids[start : start + 500])
                query = sa.select(events.c.id, events.c.raw).where(
                    events.c.profile == profile, events.c.id.in_(batch)
                )
                found.update((row.id, row.raw) for row in conn.execute(query))
        missing = [event_id for event_id in event_ids if event_id not in found]
        if missing:
            raise CacheError(f"{len(missing)} events left the cache {self.location} meanwhile")
        return [found[event_id] for event_id in event_ids]

    def event_json(self, profile: str, event_id: str) -> str | None:
        """The whole JSON the platform sent for one event (None: not cached).

        Frames read from an SQLite cache carry only the extra fields in ``raw``; the detail
        pane shows and copies the event exactly as it arrived.
        """
        query = sa.select(events.c.raw).where(events.c.profile == profile, events.c.id == event_id)
        with self._transaction(write=False) as conn:
            return conn.execute(query).scalar_one_or_none()

    def iter_frames(
        self, profile: str, chunk_size: int = 50_000, *, whole_json: bool = False
    ) -> Iterator[pd.DataFrame]:
        """The same rows as :meth:`load_frame`, ``chunk_size`` at a time, in bounded memory;
        with ``whole_json``, ``raw`` is each event's whole JSON on every backend (JSON Lines).

        Keyset pagination on (created_at desc, id): each chunk is its own short query that
        starts after the last row of the previous one, so a sync may write meanwhile.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        from audit_viewer.frame import frame_from_arrow

        after: tuple[int, str] | None = None
        while True:
            query = sa.select(*_FRAME_SELECT).where(events.c.profile == profile)
            if after is not None:
                created, event_id = after
                query = query.where(
                    events.c.created_at <= created,
                    sa.or_(events.c.created_at < created, events.c.id > event_id),
                )
            query = query.order_by(events.c.created_at.desc(), events.c.id).limit(chunk_size)
            table = self._read_table(query, whole_json=whole_json)
            if table.num_rows == 0:
                return
            yield frame_from_arrow(table)
            if table.num_rows < chunk_size:
                return
            # The frame's microseconds are the stored ones, exactly.
            after = (table["created_at"][-1].value, table["id"][-1].as_py())

    def _read_table(self, query: sa.Select[Any], *, whole_json: bool = False) -> pa.Table:
        """Run a frame query (``_FRAME_SELECT`` columns) into an Arrow table in ARROW_SCHEMA."""
        import adbc_driver_manager

        from audit_viewer.cache import columnar

        if self._arrow_uri is None:
            with self._transaction(write=False) as conn:
                return columnar.fetch_table(conn, query)
        try:
            return columnar.fetch_arrow(
                self._arrow_uri, query, _BUSY_TIMEOUT_MS, whole_json=whole_json
            )
        except (adbc_driver_manager.Error, OSError) as exc:
            log.info("Error from the cache %s", self.location, exc_info=exc)
            detail = str(exc).split("\n", 1)[0]  # ADBC appends the query on the next lines
            damaged = next((text for text in _SQLITE_DAMAGED if text in detail), None)
            if damaged is not None:
                raise _damaged(self.location, damaged) from exc
            if isinstance(exc, adbc_driver_manager.ProgrammingError):
                raise self._unexpected(exc, None) from exc  # a query this code got wrong
            raise CacheError(f"The cache {self.location} cannot be used: {detail}") from exc

    def sync_state(self, profile: str) -> SyncState:
        """The sync bookkeeping of ``profile`` (an empty state before its first sync)."""
        query = sa.select(sync_state).where(sync_state.c.profile == profile)
        with self._transaction(write=False) as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return SyncState(profile)
        current = None
        if row["current_start"] is not None and row["current_end"] is not None:
            current = (from_micros(row["current_start"]), from_micros(row["current_end"]))
        return SyncState(
            profile=profile,
            high_water_mark=_time_or_none(row["high_water_mark"]),
            plan=_ranges_from_json(row["plan"]),
            completed_ranges=_ranges_from_json(row["completed"]),
            current_range=current,
            last_sync_at=_time_or_none(row["last_sync_at"]),
            last_success_at=_time_or_none(row["last_success_at"]),
            last_outcome=row["last_outcome"],
            last_error=row["last_error"],
        )

    # -- writing ----------------------------------------------------------------------------

    def upsert_events(self, profile: str, rows: Iterable[EventRow]) -> int:
        """Store events not cached yet; returns how many were new (the rest are left as is)."""
        with self._transaction(write=True) as conn:
            return self._upsert(conn, profile, rows)

    def save_sync_state(self, state: SyncState) -> None:
        """Replace the profile's sync bookkeeping with ``state``."""
        with self._transaction(write=True) as conn:
            self._put_state(conn, state)

    def commit_page(
        self,
        state: SyncState,
        rows: Iterable[EventRow],
        rejected: Iterable[RejectedEvent] = (),
    ) -> int:
        """Store a page of events (and what of it could not be an event) and the sync progress
        record in ONE transaction.

        Either all are durable or none is, so a sync killed at any moment resumes from a
        progress record that matches the stored events. Returns how many events were new.
        """
        with self._transaction(write=True) as conn:
            new = self._upsert(conn, state.profile, rows)
            kept = [
                {
                    "profile": state.profile,
                    "received_at": to_micros(item.received_at),
                    "reason": item.reason,
                    "raw": item.raw,
                    "digest": hashlib.sha256(item.raw.encode()).hexdigest(),
                }
                for item in rejected
            ]
            if kept:
                statement = self._insert(rejected_events).on_conflict_do_nothing(
                    index_elements=["profile", "digest"]
                )
                conn.execute(statement, kept)
            self._put_state(conn, state)
        return new

    def rejected(self, profile: str) -> list[RejectedEvent]:
        """What syncs of ``profile`` received but could not store as events, oldest first."""
        table = rejected_events.c
        query = (
            sa.select(table.received_at, table.reason, table.raw)
            .where(table.profile == profile)
            .order_by(table.seq)
        )
        with self._transaction(write=False) as conn:
            return [
                RejectedEvent(from_micros(received), reason, raw)
                for received, reason, raw in conn.execute(query)
            ]

    def purge_older_than(self, profile: str, cutoff: datetime) -> int:
        """Delete the profile's events created before ``cutoff``; returns how many went."""
        statement = sa.delete(events).where(
            events.c.profile == profile, events.c.created_at < to_micros(cutoff)
        )
        with self._transaction(write=True) as conn:
            return conn.execute(statement).rowcount

    def _upsert(self, conn: sa.Connection, profile: str, rows: Iterable[EventRow]) -> int:
        unique: dict[str, EventRow] = {}
        for row in rows:
            unique.setdefault(row.id, row)
        if not unique:
            return 0
        # DO NOTHING keeps the first stored copy of an event (and its first_seen_at).
        values = event_values(profile, unique.values(), time.time_ns() // 1000)
        if conn.dialect.name == "sqlite":
            # A sync's hot path: one prepared statement over plain tuples. SQLAlchemy's
            # executemany builds a dict per row and compiles a multi-row INSERT ... RETURNING,
            # which halved the insert rate (benchmarks/bench_sync.py). DO NOTHING changes no
            # row, and the sqlite3 module sums the rows changed, so rowcount counts the new ones.
            return conn.exec_driver_sql(_SQLITE_UPSERT, values).rowcount
        # RETURNING yields only the rows actually inserted: the exact count of new events.
        names = [column.name for column in events.columns]
        statement = (
            self._insert(events)
            .on_conflict_do_nothing(index_elements=["profile", "id"])
            .returning(events.c.id)
        )
        records = [dict(zip(names, value, strict=True)) for value in values]
        return len(conn.execute(statement, records).all())

    def _put_state(self, conn: sa.Connection, state: SyncState) -> None:
        values = {
            "high_water_mark": _micros_or_none(state.high_water_mark),
            "plan": _ranges_to_json(state.plan),
            "completed": _ranges_to_json(state.completed_ranges),
            "current_start": _micros_or_none(state.current_range and state.current_range[0]),
            "current_end": _micros_or_none(state.current_range and state.current_range[1]),
            "last_sync_at": _micros_or_none(state.last_sync_at),
            "last_success_at": _micros_or_none(state.last_success_at),
            "last_outcome": state.last_outcome,
            "last_error": state.last_error,
        }
        conn.execute(_state_upsert(self._insert), {"profile": state.profile, **values})


def event_values(profile: str, rows: Iterable[EventRow], seen_at: int) -> list[tuple[object, ...]]:
    """Rows as the events table stores them, in the order of its columns (an insert's values)."""
    return [
        (
            profile,
            row.id,
            to_micros(row.created_at),
            row.user,
            row.user_name,
            row.user_email,
            row.actor_type,
            row.action,
            row.description,
            row.raw,
            seen_at,
            row.flags,
        )
        for row in rows
    ]


class _Verifier:
    """``PRAGMA quick_check`` of an SQLite file on a thread and a read-only connection of its
    own; sqlite3 lets go of the GIL meanwhile, so the sync's requests go on."""

    def __init__(self, read_uri: str) -> None:
        self._connection: sqlite3.Connection | None = None
        self._result: str | None = None
        self._thread = threading.Thread(
            target=self._run, args=(read_uri,), name="cache-check", daemon=True
        )
        self._thread.start()

    def _run(self, read_uri: str) -> None:
        try:
            with closing(sqlite3.connect(read_uri, uri=True, check_same_thread=False)) as conn:
                self._connection = conn
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                self._result = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error:
            log.debug("The background integrity check could not run", exc_info=True)
        finally:
            self._connection = None

    def verdict(self) -> str | None:
        """ "ok", what is damaged, or None when the check could not run."""
        self._thread.join()
        return self._result

    def stop(self) -> None:
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.interrupt()
        self._thread.join()


def _time_or_none(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def _micros_or_none(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def _ranges_to_json(ranges: Iterable[Range]) -> str:
    return json.dumps([[to_micros(start), to_micros(end)] for start, end in ranges])


def _ranges_from_json(text: str) -> tuple[Range, ...]:
    return tuple((from_micros(start), from_micros(end)) for start, end in json.loads(text))


#: _upsert's statement on SQLite; its values come in the order of the schema's columns.
_SQLITE_UPSERT = (
    f"INSERT INTO events ({', '.join(f'"{column.name}"' for column in events.columns)}) "
    f"VALUES ({', '.join('?' * len(events.columns))}) "
    'ON CONFLICT ("profile", "id") DO NOTHING'
)


@functools.cache
def _state_upsert(insert: Any) -> Any:
    """The sync_state upsert of ``insert``'s dialect, built once: a sync writes it every page,
    and building the statement anew took longer than running it."""
    statement = insert(sync_state)
    return statement.on_conflict_do_update(
        index_elements=["profile"],
        set_={
            column.name: statement.excluded[column.name]
            for column in sync_state.columns
            if not column.primary_key
        },
    )
