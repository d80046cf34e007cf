"""The app's log: one rotating file in the user log folder, scrubbed of every secret.

The command line and the desktop window both log through :func:`session`, so there is one
place that decides where the file is, how detailed it is (``--log-level``, else the
``log_level`` setting, else INFO) and that no secret reaches it. Redaction is the last line of
defence: the HTTP client registers the client secret and each access token with :data:`redact`
as soon as it holds them, and every formatted line (file, stderr, crash dialog) goes through it.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import logging.handlers
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from audit_viewer import config

LOG_FILE_NAME = "audit-viewer.log"
MAX_BYTES = 2_000_000
BACKUP_COUNT = 3  # audit-viewer.log.1 ... .3: at most 8 MB of logs
#: Each line starts with local time and its UTC offset (2026-12-04T14:03:11.482+01:00), so lines
#: from machines in other zones, or from both sides of a DST change, still line up.
FILE_FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
# Whatever follows "Bearer" is a token, known to us or not (a server echoing a header).
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")


#: A record carrying this attribute (``extra={FILE_ONLY: True}``) goes to the log file only:
#: the command line prints its own one-line error for it.
FILE_ONLY = "audit_viewer_file_only"
#: What an error line shown to the admin may hold; the log keeps the whole text.
LINE_LIMIT = 600  # room for two long paths; a cause quoted at length is cut


def log_file() -> Path:
    """The current log file (older ones sit next to it as ``.1``, ``.2``, ``.3``)."""
    return config.log_dir(create=False) / LOG_FILE_NAME


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """``text`` as one short line for the admin: whitespace collapsed, secrets masked, cut."""
    line = redact(" ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Redactor:
    """Replaces every registered secret, and its URL-encoded and base64 forms, with ``***``.

    Thread-safe: the sync worker registers a fresh token while the GUI thread formats lines.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._needles: tuple[str, ...] = ()

    def add(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (None and "" are ignored)."""
        if not secret:
            return
        raw = secret.encode()
        forms = {
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
        }
        with self._lock:
            # Longest first, so a secret that contains another is masked whole.
            self._needles = tuple(sorted(set(self._needles) | forms, key=len, reverse=True))

    def clear(self) -> None:
        with self._lock:
            self._needles = ()

    def __call__(self, text: str) -> str:
        for needle in self._needles:  # a tuple: safe to read while another thread adds
            text = text.replace(needle, MASK)
        return _BEARER.sub(rf"\g<1>{MASK}", text)


#: The process's one redactor: everything that logs or shows an error uses it.
redact = Redactor()


class RedactingFormatter(logging.Formatter):
    """A formatter whose output (message, arguments and traceback alike) is redacted, with
    ISO 8601 times that carry their zone's offset."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is now (rich redirects it while a progress bar is live)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _ConsoleFormatter(RedactingFormatter):
    """The terminal's lines: one per record, without tracebacks (the log file keeps those)."""

    def format(self, record: logging.LogRecord) -> str:
        bare = {"exc_info": None, "exc_text": None, "stack_info": None}
        return super().format(logging.makeLogRecord({**record.__dict__, **bare}))


class _LogFileHandler(logging.handlers.RotatingFileHandler):
    """The rotating log file, which must never break the work it records.

    When it cannot be written (no permission, a full disk, a file where its folder should be),
    it says so once on stderr and stops trying; the command goes on and exits as its work
    decides. The folder is created on the first line written, not before.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
        self.failed = False

    def _open(self) -> Any:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)  # a malformed log call: a bug, reported by logging
            return
        self.failed = True
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
        reason = exc.strerror or type(exc).__name__
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"{config.APP_NAME}: warning: cannot write the log file {self.baseFilename} "
                f"({reason}); going on without it\n"
            )

    def close(self) -> None:
        with contextlib.suppress(OSError):  # what is still buffered may not fit either
            super().close()


def resolve_level(flag: str | None) -> int:
    """The file's level: ``--log-level`` wins, then the setting, then INFO.

    A settings file that cannot be read is reported where the app reads its profiles; the log
    then keeps the default instead of failing before anything could be logged.
    """
    if flag is not None:
        name = config.check_log_level(flag)
    else:
        try:
            name = config.log_level()
        except config.ConfigError:
            name = config.DEFAULT_LOG_LEVEL
    return logging.getLevelNamesMapping()[name]


@dataclass
class _Session:
    console: logging.Handler
    logfile: logging.Handler


_active: _Session | None = None


def _apply_root_level(active: _Session) -> None:
    logging.getLogger().setLevel(min(active.console.level, active.logfile.level))


def file_level() -> str | None:
    """The level the log file records now (None outside a session)."""
    return logging.getLevelName(_active.logfile.level) if _active else None


def set_file_level(level: str) -> None:
    """Change how much the log file records, for the rest of this session (the menu's choice)."""
    if _active is None:
        return
    _active.logfile.setLevel(resolve_level(level))
    _apply_root_level(_active)


@contextlib.contextmanager
def session(level: str | None = None, verbosity: int = 0) -> Iterator[None]:
    """Log to the rotating file (at ``level``, see :func:`resolve_level`) and to stderr.

    stderr gets the app's own warnings; ``verbosity`` 1 adds every logger's info, 2 debug. The
    file level does not follow ``verbosity``: ``-v`` is for the terminal, ``--log-level`` for
    the file. Inside a running session (the command line starting the window), a nested one
    only applies its explicit ``level`` until it ends.
    """
    global _active
    if _active is not None:
        outer = _active
        previous = outer.logfile.level
        if level is not None:
            outer.logfile.setLevel(resolve_level(level))
            _apply_root_level(outer)
        try:
            yield
        finally:
            outer.logfile.setLevel(previous)
            _apply_root_level(outer)
        return

    console_level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    console = _StderrHandler()
    console.setLevel(console_level)
    if verbosity == 0:  # by default only our own warnings; -v adds the libraries' (retries, ...)
        console.addFilter(logging.Filter("audit_viewer"))
    console.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
    console.setFormatter(_ConsoleFormatter(f"{config.APP_NAME}: %(levelname)s: %(message)s"))
    logfile = _LogFileHandler(log_file())
    logfile.setLevel(resolve_level(level))
    logfile.setFormatter(RedactingFormatter(FILE_FORMAT))
    root = logging.getLogger()
    old_level = root.level
    _active = _Session(console, logfile)
    _apply_root_level(_active)
    root.addHandler(console)
    root.addHandler(logfile)
    try:
        yield
    finally:
        _active = None
        for handler in (console, logfile):
            root.removeHandler(handler)
            handler.close()
        root.setLevel(old_level)
