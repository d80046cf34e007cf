"""The Qt side of starting the app: the QApplication, deferred calls, the event loop.

``audit_viewer.app`` decides what to open from the command line; this module is what it needs
from Qt, so the rule "only ``audit_viewer/ui`` imports Qt" holds for the launcher too.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from audit_viewer import __version__
from audit_viewer.config import APP_NAME as PROG
from audit_viewer.ui import crash
from audit_viewer.ui.icons import app_icon
from audit_viewer.ui.main_window import MainWindow

#: Shown by desktops and used by Qt for per-organisation paths; none of the app's own paths
#: (config, cache, logs) depend on it.
ORGANIZATION = "Jit"
ORGANIZATION_DOMAIN = "jit.io"


def application() -> QApplication:
    """The running QApplication (pytest-qt makes one) or a new one set up for this app."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else PROG])
    assert isinstance(app, QApplication)
    app.setApplicationName(PROG)
    app.setApplicationDisplayName(PROG)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(ORGANIZATION)
    app.setOrganizationDomain(ORGANIZATION_DOMAIN)
    app.setDesktopFileName(PROG)
    app.setWindowIcon(app_icon())
    return app


def call_soon(function: Callable[[], object]) -> None:
    """Run ``function`` once the event loop is running (e.g. the demo's first sync)."""
    QTimer.singleShot(0, function)


def show_startup_error(message: str) -> None:
    """A person at a desktop may have no terminal: say it in a dialog too."""
    QMessageBox.critical(None, PROG, message)


def run(window: MainWindow) -> int:
    """Show the window and run the event loop until it closes; returns the exit code."""
    app = application()
    # Ctrl+C in the terminal closes the window cleanly (Python runs signal handlers only when
    # the interpreter gets control, hence the idle timer).
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
    reporter = crash.install(window)  # an error in a slot: a dialog, and the app goes on
    window.show()
    try:
        return app.exec()
    finally:
        reporter.uninstall()
        ticker.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
