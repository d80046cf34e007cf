"""Unhandled exceptions in the window: logged with their traceback, shown, and survived.

PySide6 hands an exception escaping a slot, an event handler or a worker thread to
``sys.excepthook``, and plain Python threads hand theirs to ``threading.excepthook``; without
a hook the traceback goes to a terminal a desktop user never sees. :class:`CrashReporter`
logs it (the log formatter masks secrets), then shows a dialog with the summary, the log
file's path and a "Copy details" button, on the GUI thread, whichever thread failed. The app
keeps running: the failed slot is abandoned, everything else goes on, and the cache is
unaffected because every cache write is one transaction that a failure rolls back.

One dialog at a time: errors while it is open are counted in it, and an error that was already
shown once (the same type at the same line, e.g. in a repaint) is only logged from then on.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import traceback
from types import TracebackType

import PySide6
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from audit_viewer import __version__, logs
from audit_viewer.config import APP_NAME as PROG

log = logging.getLogger(__name__)

MAX_SUMMARY = 300  # characters of the exception's message in the dialog; the log has it all

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _summary(exc: BaseException) -> str:
    text = logs.one_line(str(exc), MAX_SUMMARY)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _where(tb: TracebackType | None) -> str:
    """The innermost frame's file:line, which tells one recurring error from another."""
    frames = traceback.extract_tb(tb)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _details(info: ExcInfo, thread: str) -> str:
    """What "Copy details" copies: versions, thread and traceback, with secrets masked."""
    head = (
        f"{PROG} {__version__}, Python {platform.python_version()}, "
        f"PySide6 {PySide6.__version__}, {platform.platform()}\nthread: {thread}\n\n"
    )
    return logs.redact(head + "".join(traceback.format_exception(*info)))


class CrashDialog(QDialog):
    """Like a critical QMessageBox, plus a Copy details button that does not close it."""

    QUIT = 2  # the result when the user chose Quit (Accepted is 1, Rejected 0)

    def __init__(self, summary: str, details: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle(f"{PROG}: unexpected error")
        self.details = details
        self.more_errors = 0
        icon = QLabel()
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(48, 48)
        )
        self.summary_label = QLabel(f"Something went wrong: {summary}", objectName="crashSummary")
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self._note = (
            f"{PROG} keeps running, but what you just did may not have finished. The cache is "
            f"not affected. The details are in the log file:\n{logs.log_file()}"
        )
        self.note_label = QLabel(self._note, objectName="crashNote")
        self.note_label.setTextFormat(Qt.TextFormat.PlainText)
        self.note_label.setWordWrap(True)
        self.note_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QDialogButtonBox()
        self.copy_button = buttons.addButton(
            "&Copy details", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.quit_button = buttons.addButton(
            f"&Quit {PROG}", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.continue_button = buttons.addButton(
            "C&ontinue", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.continue_button.setDefault(True)
        self.copy_button.clicked.connect(self.copy_details)
        self.quit_button.clicked.connect(lambda: self.done(self.QUIT))
        buttons.accepted.connect(self.accept)

        text = QVBoxLayout()
        text.addWidget(self.summary_label)
        text.addWidget(self.note_label)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details)
        self.copy_button.setText("&Copied")

    def count_another(self) -> None:
        """Another error came while this dialog was open: say so instead of stacking dialogs."""
        self.more_errors += 1
        plural = "error" if self.more_errors == 1 else "errors"
        self.note_label.setText(
            f"{self._note}\n\n{self.more_errors} more {plural} since; see the log."
        )


class CrashReporter(QObject):
    """Installs the hooks; ``dialog`` is the open crash dialog, if any."""

    # (summary, details, where); queued onto the GUI thread when a worker thread failed.
    _report = Signal(str, str, str)

    def __init__(self, window: QWidget) -> None:
        super().__init__()
        self._window = window
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        self._handling = threading.local()  # an error inside our own handling: give up
        self._shown: set[str] = set()
        self.dialog: CrashDialog | None = None
        self._report.connect(self._show)

    def install(self) -> CrashReporter:
        sys.excepthook = self._sys_hook
        threading.excepthook = self._threading_hook
        return self

    def uninstall(self) -> None:
        """Put the previous hooks back (the window has closed)."""
        sys.excepthook = self._previous_sys
        threading.excepthook = self._previous_threading
        if self.dialog is not None:
            self.dialog.accept()

    def _sys_hook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_sys(exc_type, exc, tb)
            return
        name = threading.current_thread().name
        if threading.current_thread() is not threading.main_thread():
            # A QThread (the sync, export and load workers) is named after its worker; Python
            # only knows it as "Dummy-N".
            name = QThread.currentThread().objectName() or name
        self._handle((exc_type, exc, tb), name)

    def _threading_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "unknown thread"
        self._handle((args.exc_type, args.exc_value, args.exc_traceback), name)

    def _handle(self, info: ExcInfo, thread: str) -> None:
        if getattr(self._handling, "active", False):
            sys.__excepthook__(*info)
            return
        self._handling.active = True
        try:
            log.critical("Unhandled error in thread %s", thread, exc_info=info)
            self._report.emit(_summary(info[1]), _details(info, thread), _where(info[2]))
        except Exception:
            sys.__excepthook__(*info)
        finally:
            self._handling.active = False

    @Slot(str, str, str)
    def _show(self, summary: str, details: str, where: str) -> None:
        if self.dialog is not None:
            self.dialog.count_another()
            return
        key = f"{summary.split(':', 1)[0]}@{where}"
        if key in self._shown:
            return  # logged above; showing it again would trap the user in a loop of dialogs
        self._shown.add(key)
        self.dialog = CrashDialog(summary, details, self._window)
        self.dialog.finished.connect(self._closed)
        self.dialog.open()  # not exec(): no nested event loop inside an error handler

    def _closed(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is None:
            return
        quit_chosen = dialog.result() == CrashDialog.QUIT
        dialog.deleteLater()
        if quit_chosen:
            self._window.close()  # the window's own close: threads stop, the cache closes


def install(window: QWidget) -> CrashReporter:
    """Report unhandled errors of this window's session; call ``uninstall()`` when it ends."""
    return CrashReporter(window).install()
