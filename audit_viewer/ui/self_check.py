"""``audit-viewer --self-check``: prove an installation (above all a frozen bundle) works.

A bundle can build and still miss a Qt plugin, an Alembic revision file, a keyring backend or
an SQLAlchemy dialect, and only a user would find out. The self-check runs the parts that load
such things at run time, the way the app does: the real window (offscreen), its sync worker
against the in-process sandbox platform, and its Save as CSV. It works in a temporary folder
that also serves as ``AUDIT_VIEWER_HOME``, so it reads and writes nothing of the user's (cache,
settings, window layout, logs, keyring entries). It prints one line per check and returns 0
when every check passed, 1 otherwise.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from importlib.resources import as_file, files
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa
from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QEventLoop, QTimer, QtMsgType, qInstallMessageHandler, qVersion
from PySide6.QtGui import QGuiApplication, QIcon, QImage
from PySide6.QtWidgets import QApplication

from audit_viewer import __version__
from audit_viewer.cache import CacheStore, resolve_cache_url
from audit_viewer.config import APP_NAME as PROG
from audit_viewer.config import ENV_HOME, ENV_SECRET, Profile, SecretStore
from audit_viewer.export import CSV_COLUMNS
from audit_viewer.sandbox import SandboxServer
from audit_viewer.sync import SyncResult
from audit_viewer.ui.application import application
from audit_viewer.ui.icons import ICON_NAMES, app_icon, icon
from audit_viewer.ui.main_window import MainWindow
from audit_viewer.ui.session import Session

#: Enough events for several pages and a real CSV, few enough to finish in seconds.
SELF_CHECK_EVENTS = 3000
#: How long the sync, and the export, may take before the check gives up on them.
STEP_TIMEOUT_MS = 120_000
_PROFILE = "self-check"
#: Variables that would point the check at the user's own cache, profile or credentials.
_USER_VARIABLES = ("AUDIT_VIEWER_CACHE", "AUDIT_VIEWER_PROFILE", ENV_SECRET)


class CheckFailed(Exception):
    """A check found something wrong; the message says what."""


#: What the offscreen platform says about every window; it is about the platform, not the app.
_OFFSCREEN_NOISE = "This plugin does not support"


class _Warnings(logging.Handler):
    """The app's and Qt's warnings during the check: a missing plugin shows up here first."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")

    def qt_message(self, kind: QtMsgType, _context: object, message: str) -> None:
        quiet = kind in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg)
        if not quiet and not message.startswith(_OFFSCREEN_NOISE):
            self.messages.append(f"Qt: {message}")


@contextlib.contextmanager
def _isolated_environment(home: Path) -> Iterator[None]:
    """AUDIT_VIEWER_HOME in the temporary folder and none of the user's variables; undone after."""
    names = (ENV_HOME, *_USER_VARIABLES)
    saved = {name: os.environ.get(name) for name in names}
    os.environ[ENV_HOME] = str(home)
    for name in _USER_VARIABLES:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_self_check(*, events: int = SELF_CHECK_EVENTS, out: TextIO | None = None) -> int:
    """Run every check and print the report to ``out`` (stdout); 0 when all passed, else 1."""
    # Qt picks its platform when the QApplication is made, so this must come before that.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    stream = out if out is not None else sys.stdout
    print(f"{PROG} {__version__} self-check", file=stream, flush=True)
    warnings = _Warnings()
    app_log = logging.getLogger("audit_viewer")
    app_log.addHandler(warnings)
    previous_handler = qInstallMessageHandler(warnings.qt_message)
    try:
        with (
            tempfile.TemporaryDirectory(prefix=f"{PROG}-self-check-") as folder,
            _isolated_environment(Path(folder) / "home"),
            _SelfCheck(Path(folder), events, stream) as check,
        ):
            passed = check.run()
    finally:
        qInstallMessageHandler(previous_handler)
        app_log.removeHandler(warnings)
    for message in warnings.messages:
        print(f"  warn  {message}", file=stream)
    print("PASS" if passed else "FAIL", file=stream, flush=True)
    return 0 if passed else 1


class _SelfCheck:
    """The checks in order; each needs the ones before it, so the first failure ends the run."""

    def __init__(self, folder: Path, events: int, out: TextIO) -> None:
        self._folder = folder
        self._events = events
        self._out = out
        self._cleanups = contextlib.ExitStack()
        self._server: SandboxServer | None = None
        self._cache_url = ""
        self._store: CacheStore | None = None
        self._secrets: SecretStore | None = None
        self._window: MainWindow | None = None

    def __enter__(self) -> _SelfCheck:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._window is not None:
            self._window.close()  # stops its threads, closes the cache
        elif self._store is not None:
            self._store.close()
        self._cleanups.close()

    def run(self) -> bool:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("Qt", self._qt),
            ("icons", self._icons),
            ("keyring", self._keyring),
            ("sandbox", self._sandbox),
            ("cache", self._cache),
            ("postgres", self._postgres),
            ("window", self._open_window),
            ("sync", self._sync),
            ("export", self._export),
        ]
        for what, step in steps:
            try:
                detail = step()
            except CheckFailed as exc:
                detail = str(exc)
            except Exception as exc:  # a crash is what the check is for: it fails the step
                detail = f"{type(exc).__name__}: {exc}"
            else:
                self._line("PASS", what, detail)
                continue
            self._line("FAIL", what, detail)
            return False
        return True

    def _line(self, status: str, what: str, detail: str) -> None:
        print(f"  {status:<4}  {what}: {detail}", file=self._out, flush=True)

    # ---------------------------------------------------------------------------------- steps

    def _qt(self) -> str:
        application()
        platform = QGuiApplication.platformName()
        if platform != "offscreen":
            raise CheckFailed(f"runs on the {platform!r} platform, not offscreen")
        return f"Qt {qVersion()}, PySide6 {PYSIDE_VERSION}, platform {platform}"

    def _icons(self) -> str:
        """The app draws its SVGs with QtSvg; Qt's own SVG plugins load them as files."""
        drawn = [("app icon", app_icon())] + [(name, icon(name)) for name in ICON_NAMES]
        blank = [name for name, each in drawn if not _has_ink(each, 32)]
        if blank:
            raise CheckFailed(f"drawn blank: {', '.join(blank)}")
        with as_file(files("audit_viewer.resources") / "app-icon.svg") as svg_file:
            from_file = QIcon(str(svg_file))
            if not _has_ink(from_file, 48):
                raise CheckFailed(f"Qt's SVG icon engine cannot load {svg_file.name}")
        return f"{len(drawn)} icons drawn from SVG; the SVG icon engine loads files"

    def _keyring(self) -> str:
        """keyring finds its backends by entry points; a machine with none usable is fine."""
        known = sorted(point.name for point in entry_points(group="keyring.backends"))
        if not known:
            raise CheckFailed("keyring knows no backends (its entry points are missing)")
        self._secrets = SecretStore()
        if self._secrets.available:
            return f"using {self._secrets.backend_name} (known: {', '.join(known)})"
        return (
            f"known: {', '.join(known)}; none usable on this machine, so secrets come from "
            f"{ENV_SECRET}"
        )

    def _sandbox(self) -> str:
        self._server = SandboxServer(events=self._events, port=0).start()
        self._cleanups.callback(self._server.stop)
        return f"{self._events:,} events at {self._server.url}"

    def _cache(self) -> str:
        """Opening a new cache runs every Alembic migration, which load from files."""
        self._cache_url = resolve_cache_url(self._folder / "cache.sqlite3")
        self._store = CacheStore.open(self._cache_url)
        return f"new SQLite cache migrated at {self._store.location}"

    def _postgres(self) -> str:
        """SQLAlchemy imports a dialect's driver by name, and psycopg loads libpq at import."""
        try:
            import psycopg
        except ImportError:
            return "not installed (a shared PostgreSQL cache needs the postgres extra)"
        engine = sa.create_engine("postgresql+psycopg://self-check@127.0.0.1/none")  # no connect
        engine.dispose()
        libpq = psycopg.pq.version()
        return (
            f"dialect postgresql+psycopg loads (psycopg {psycopg.__version__}, "
            f"{psycopg.pq.__impl__} libpq {libpq // 10000}.{libpq % 10000})"
        )

    def _open_window(self) -> str:
        assert self._server is not None and self._store is not None
        profile = Profile(
            name=_PROFILE,
            base_url=self._server.url,
            client_id=self._server.client_id,
            page_size=1000,
        )
        session = Session(
            store=self._store,
            cache_url=self._cache_url,
            profile_name=_PROFILE,
            profile=profile,
            secrets=self._secrets,
            session_secret=self._server.secret,
        )
        self._window = MainWindow(session)
        self._window.show()
        QApplication.processEvents()
        if self._window.windowIcon().isNull():
            raise CheckFailed("the window has no icon")
        return f"main window shown offscreen ({self._window.width()}x{self._window.height()})"

    def _sync(self) -> str:
        window = self._window
        assert window is not None
        outcome: list[object] = []
        loop = QEventLoop()
        with (
            _connected(window.syncFinished, outcome, loop),
            _connected(window.syncFailed, outcome, loop),
        ):
            started = time.monotonic()
            window.sync.start()
            _wait(loop, outcome)
        elapsed = time.monotonic() - started
        if not outcome:
            raise CheckFailed(f"no result within {STEP_TIMEOUT_MS // 1000} s")
        result = outcome[0]
        if not isinstance(result, SyncResult):
            raise CheckFailed(f"the sync failed: {result}")
        rows = window.model.rowCount()
        if result.cancelled or result.total_cached != self._events or rows != self._events:
            raise CheckFailed(
                f"expected {self._events:,} events, cached {result.total_cached:,}, shown {rows:,}"
            )
        return f"{rows:,} events synced by the window's worker in {elapsed:.1f} s"

    def _export(self) -> str:
        """Save as CSV without its dialog (no one is there to answer it), then read it back."""
        window = self._window
        assert window is not None
        target = self._folder / "self-check.csv"
        outcome: list[object] = []
        loop = QEventLoop()
        with _connected(window.exportFinished, outcome, loop):
            window.exports.save_csv(target)
            _wait(loop, outcome)
        if not outcome or outcome[0] is None:
            raise CheckFailed("Save as CSV did not finish")
        return _verify_csv(target, self._events)


def _has_ink(each: QIcon, size: int) -> bool:
    image = each.pixmap(size, size).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    if image.isNull():
        return False
    return any(image.pixelColor(x, y).alpha() == 255 for y in range(size) for x in range(size))


@contextlib.contextmanager
def _connected(signal, outcome: list[object], loop: QEventLoop) -> Iterator[None]:
    """While inside, the first emission of ``signal`` is recorded and ends ``loop``."""

    def record(value: object) -> None:
        outcome.append(value)
        loop.quit()

    signal.connect(record)
    try:
        yield
    finally:
        signal.disconnect(record)


def _wait(loop: QEventLoop, outcome: list[object]) -> None:
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(STEP_TIMEOUT_MS)
    if not outcome:
        loop.exec()
    timer.stop()


def _verify_csv(path: Path, events: int) -> str:
    if not path.is_file():
        raise CheckFailed(f"{path.name} was not written")
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header = next(reader, [])
        rows = sum(1 for _ in reader)
    if tuple(header) != CSV_COLUMNS:
        raise CheckFailed(f"header {header} is not {list(CSV_COLUMNS)}")
    if rows != events:
        raise CheckFailed(f"{rows:,} rows written, expected {events:,}")
    return f"{rows:,} rows and the header read back from {path.name}"
