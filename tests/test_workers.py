"""The window's background jobs, each in its own QThread, against the sandbox and real files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QApplication

from audit_viewer.api import PlatformClient
from audit_viewer.cache import CacheStore
from audit_viewer.config import Profile
from audit_viewer.events import normalize_event
from audit_viewer.frame import frame_from_events, take_chunks
from audit_viewer.sandbox import Faults, SandboxServer
from audit_viewer.ui.workers import ExportWorker, LoginWorker, SyncWorker, WorkerThread

pytestmark = pytest.mark.gui


def profile_for(server: SandboxServer, name: str = "w") -> Profile:
    return Profile(name=name, base_url=server.url, client_id=server.client_id, page_size=500)


class Relay(QObject):
    """Re-emits a worker's signal in the GUI thread, as the window's slots receive it.

    pytest-qt's waitSignal must not be connected straight to a signal emitted in another
    thread (its timer would be stopped from that thread).
    """

    received = Signal(object)

    @Slot(object)
    def take(self, value: object) -> None:
        self.received.emit(value)


def run(qtbot, worker, signal, timeout=30_000):
    """Start ``worker`` in a thread, wait for ``signal``, join the thread; returns its value."""
    relay = Relay()
    signal.connect(relay.take)
    job = WorkerThread(worker)
    with qtbot.waitSignal(relay.received, timeout=timeout) as blocker:
        job.start()
    job.finish()
    assert job.thread.isFinished()
    return blocker.args


def test_sync_worker_fills_the_cache_and_reports(qtbot, sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    threads = []

    def client(*args, **kwargs):
        threads.append(QThread.currentThread())
        return PlatformClient(*args, **kwargs)

    worker = SyncWorker(
        cache_url=url, profile=profile_for(sandbox), secret=sandbox.secret, client_factory=client
    )
    progress, frames = [], []
    worker.progress.connect(progress.append)
    worker.frameLoaded.connect(frames.append)
    (result,) = run(qtbot, worker, worker.finished)
    assert not result.cancelled and result.new_events == 1500
    assert threads and threads[0] is not QApplication.instance().thread()  # off the GUI thread
    assert progress and progress[-1].events >= 1500
    assert len(frames[-1]) == 1500  # the final frame, loaded in the worker thread
    with CacheStore.open(url) as store:
        assert store.count("w") == 1500


def test_sync_worker_reports_errors_without_the_secret(qtbot, sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    worker = SyncWorker(cache_url=url, profile=profile_for(sandbox), secret="not-the-secret")
    (message,) = run(qtbot, worker, worker.failed)
    assert message and "not-the-secret" not in message


def test_sync_worker_cancels_between_pages(qtbot, tmp_path):
    with SandboxServer(events=2000, seed=5, faults=Faults(slow_page_seconds=0.2)) as server:
        url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
        worker = SyncWorker(cache_url=url, profile=profile_for(server), secret=server.secret)
        worker.progress.connect(lambda _p: worker.cancel())
        (result,) = run(qtbot, worker, worker.finished)
        assert result.cancelled
        with CacheStore.open(url) as store:
            assert 0 < store.count("w") < 2000


def test_export_worker_writes_and_cancels(qtbot, sandbox, tmp_path):
    frame = frame_from_events(normalize_event(e) for e in sandbox.all_events())
    order = frame.index.to_numpy()[::-1].copy()  # oldest first: an order the cache never has

    target = tmp_path / "out.csv"
    worker = ExportWorker(take_chunks(frame, order, 100), target, bom=False)
    counts = []
    worker.progress.connect(counts.append)
    (outcome,) = run(qtbot, worker, worker.finished)
    assert outcome.rows == 1500 and not outcome.cancelled and outcome.path == target
    assert counts and counts[-1] == 1500
    with target.open(newline="", encoding="utf-8") as fh:
        ids = [row[0] for row in list(csv.reader(fh))[1:]]
    assert ids == frame["id"].take(order).tolist()

    cancelled_target = tmp_path / "cancelled.csv"
    worker = ExportWorker(take_chunks(frame, order, 100), cancelled_target, bom=False)
    worker.progress.connect(lambda _n: worker.cancel())
    (outcome,) = run(qtbot, worker, worker.finished)
    assert outcome.cancelled
    assert not cancelled_target.exists()
    assert [p.name for p in tmp_path.iterdir() if "cancelled" in p.name] == []  # no temp left


def test_export_worker_reports_a_failure(qtbot, sandbox, tmp_path):
    from audit_viewer.frame import empty_frame

    target = tmp_path / "no-such-dir" / "out.csv"
    worker = ExportWorker(iter([empty_frame()]), target, bom=False)
    (message,) = run(qtbot, worker, worker.failed)
    assert message
    assert not Path(target).exists()


def test_login_worker(qtbot, sandbox):
    ok = LoginWorker(profile_for(sandbox), sandbox.secret)
    (message,) = run(qtbot, ok, ok.finished)
    assert message.startswith("Connected")
    bad = LoginWorker(profile_for(sandbox), "wrong")
    (message,) = run(qtbot, bad, bad.failed)
    assert message and "wrong" not in message
    with SandboxServer(events=10, admin=False) as forbidden:
        denied = LoginWorker(profile_for(forbidden), forbidden.secret)
        (message,) = run(qtbot, denied, denied.failed)
        assert message
