"""An unhandled error in the window: logged, shown in one dialog without secrets, survived."""

from __future__ import annotations

import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QThread, QTimer, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from audit_viewer import app, config, logs
from audit_viewer.app import create_window
from audit_viewer.cache import CacheStore
from audit_viewer.events import normalize_event
from audit_viewer.ui import crash

# The reporter replaces pytest-qt's own hook on purpose; these tests check what it caught.
pytestmark = [pytest.mark.gui, pytest.mark.qt_no_exception_capture]

SECRET = "crash-secret-Q9v2!x"


def log_text() -> str:
    return "".join(p.read_text(encoding="utf-8") for p in config.log_dir().glob("*.log*"))


@pytest.fixture
def events(sandbox):
    return [normalize_event(e) for e in sandbox.all_events()[:20]]


@pytest.fixture
def window(qtbot, tmp_path, events):
    cache = tmp_path / "c.sqlite3"
    with CacheStore.open(cache) as store:
        store.upsert_events("acme", events)
    with logs.session():
        win = create_window(["--cache", str(cache)])
        qtbot.addWidget(win)
        win.show()
        yield win
        win.close()
    logs.redact.clear()


@pytest.fixture
def reporter(window):
    hooks = (sys.excepthook, threading.excepthook)
    reporter = crash.install(window)
    yield reporter
    reporter.uninstall()
    assert (sys.excepthook, threading.excepthook) == hooks


def fail_soon(message: str) -> None:
    def boom() -> None:
        raise RuntimeError(message)

    QTimer.singleShot(0, boom)


def test_an_error_in_a_slot_shows_a_dialog_logs_it_and_the_window_goes_on(
    qtbot, window, reporter, events
):
    logs.redact.add(SECRET)
    fail_soon(f"the server said {SECRET} with Bearer eyJ0b2tlbg.payload.sig")
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
    dialog = reporter.dialog
    summary = dialog.summary_label.text()
    assert summary.startswith("Something went wrong: RuntimeError: the server said ***")
    assert SECRET not in summary and "eyJ0b2tlbg" not in summary
    assert str(logs.log_file()) in dialog.note_label.text()
    assert "keeps running" in dialog.note_label.text()

    text = log_text()
    assert "Unhandled error in thread MainThread" in text
    assert "Traceback" in text and "in boom" in text
    assert SECRET not in text and "eyJ0b2tlbg" not in text

    dialog.continue_button.click()
    assert reporter.dialog is None and window.isVisible()
    # The window still does its job: the search bar filters the table.
    user = events[0].user
    assert window.model.rowCount() == len(events)
    qtbot.keyClicks(window.search_bar, f"user:{user}")
    qtbot.keyClick(window.search_bar, "\r")
    expected = sum(e.user == user for e in events)
    qtbot.waitUntil(lambda: window.model.rowCount() == expected)


def test_copy_details_copies_the_traceback_without_secrets_and_keeps_the_dialog(
    qtbot, window, reporter
):
    logs.redact.add(SECRET)
    fail_soon(f"token {SECRET}")
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    reporter.dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("audit-viewer ") and "PySide6" in copied and "Python" in copied
    assert "Traceback" in copied and "RuntimeError: token ***" in copied
    assert SECRET not in copied
    assert reporter.dialog is not None and reporter.dialog.isVisible()
    reporter.dialog.continue_button.click()


def test_errors_while_the_dialog_is_open_are_counted_not_stacked(qtbot, window, reporter):
    fail_soon("first")
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    dialog = reporter.dialog
    fail_soon("second")
    fail_soon("third")
    qtbot.waitUntil(lambda: dialog.more_errors == 2)
    assert "2 more errors since" in dialog.note_label.text()
    assert [w for w in QApplication.topLevelWidgets() if w.objectName() == "crashDialog"] == [
        dialog
    ]
    assert all(f"RuntimeError: {m}" in log_text() for m in ("first", "second", "third"))
    dialog.continue_button.click()


def test_an_error_that_was_shown_once_is_only_logged_when_it_recurs(qtbot, window, reporter):
    def recurring() -> None:
        raise ValueError("in a repaint, say")

    QTimer.singleShot(0, recurring)
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    reporter.dialog.continue_button.click()
    QTimer.singleShot(0, recurring)
    qtbot.waitUntil(lambda: log_text().count("ValueError: in a repaint, say") == 2)
    qtbot.wait(50)
    assert reporter.dialog is None


class _FailingWorker(QObject):
    @Slot()
    def run(self) -> None:
        raise KeyError("worker thread")


def test_errors_in_other_threads_are_shown_on_the_gui_thread(qtbot, window, reporter):
    def thread_body() -> None:
        raise OSError("plain thread")

    thread = threading.Thread(target=thread_body, name="exporter")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert "OSError: plain thread" in reporter.dialog.summary_label.text()
    assert "Unhandled error in thread exporter" in log_text()
    reporter.dialog.continue_button.click()

    qthread, worker = QThread(), _FailingWorker()
    qthread.setObjectName("FailingWorker")
    worker.moveToThread(qthread)
    qthread.started.connect(worker.run)
    qthread.start()
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    assert "KeyError: 'worker thread'" in reporter.dialog.summary_label.text()
    assert reporter.dialog.thread() is QApplication.instance().thread()
    assert "Unhandled error in thread FailingWorker" in log_text()
    reporter.dialog.continue_button.click()
    qthread.quit()
    qthread.wait()


def test_quit_closes_the_window_the_normal_way(qtbot, window, reporter):
    fail_soon("cannot go on")
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    reporter.dialog.quit_button.click()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert reporter.dialog is None
    # Closed through shutdown(): the layout is saved and the cache closed (its WAL folded in).
    assert Path(config.config_dir(), "window.ini").exists()
    assert not Path(window.session.store.location + "-wal").exists()


def test_the_app_installs_the_reporter_for_its_event_loop(qtbot, tmp_path, monkeypatch):
    def raise_then_close() -> None:
        QTimer.singleShot(0, lambda: (_ for _ in ()).throw(LookupError("from the loop")))
        QTimer.singleShot(300, close_all)

    def close_all() -> None:
        for widget in QApplication.topLevelWidgets():
            if widget.objectName() == "crashDialog":
                widget.accept()
        for widget in QApplication.topLevelWidgets():
            if widget.objectName() == "mainWindow":
                widget.close()

    hooks = (sys.excepthook, threading.excepthook)
    QTimer.singleShot(100, raise_then_close)
    QTimer.singleShot(10_000, QApplication.quit)  # a safety net: never hang the suite
    assert app.main(["--cache", str(tmp_path / "c.sqlite3")]) == 0
    assert "LookupError: from the loop" in log_text()
    assert (sys.excepthook, threading.excepthook) == hooks


@pytest.mark.slow
def test_an_error_during_a_sync_leaves_a_complete_cache(qtbot, tmp_path, sandbox, monkeypatch):
    """A bug in the window's progress handling must not cost a single event."""
    config.save_profile(
        config.Profile(name="prod", base_url=sandbox.url, client_id=sandbox.client_id)
    )
    monkeypatch.setenv(config.ENV_SECRET, sandbox.secret)
    cache = tmp_path / "sync.sqlite3"
    with logs.session():
        win = create_window(["--cache", str(cache), "--profile", "prod"])
        qtbot.addWidget(win)
        win.show()
        reporter = crash.install(win)
        try:

            def buggy(progress) -> None:
                raise ZeroDivisionError(f"at page {progress.pages}")

            win.syncProgress.connect(buggy)
            with qtbot.waitSignal(win.syncFinished, timeout=120_000) as done:
                win.sync.start()
            assert not done.args[0].cancelled
            assert reporter.dialog is not None  # shown once, however many pages failed
            assert "ZeroDivisionError" in reporter.dialog.summary_label.text()
            reporter.dialog.continue_button.click()
            assert win.model.rowCount() == len(sandbox.all_events())
        finally:
            reporter.uninstall()
            win.close()
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM events").fetchone() == (len(sandbox.all_events()),)
        assert db.execute("SELECT last_outcome FROM sync_state").fetchone() == ("ok",)
