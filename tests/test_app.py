"""Starting the app: offline on an empty or existing cache, profiles, errors, and the demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring_backend import MemoryKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from audit_viewer import app, config
from audit_viewer.app import StartupError, create_window

pytestmark = pytest.mark.gui


def test_no_arguments_opens_the_default_cache_offline(qtbot, isolated_home):
    win = create_window([])
    qtbot.addWidget(win)
    assert win.windowTitle() == ""
    assert win.model.rowCount() == 0
    assert win.session.offline
    text = win.status_area.label.text()
    assert "Showing 0 of 0 events" in text and "offline" in text
    assert str(Path(isolated_home).resolve()) in win.session.store.url
    # A newcomer is welcomed with the way forward, not an empty table and nothing else.
    assert win.banner.isVisibleTo(win) and win.banner.kind == "info"
    assert "--demo" in win.banner.text.text()
    assert win.banner.action_button.text() == "New profile…"
    win.acts.sync.trigger()  # nothing to sync with: says so, does not crash
    assert win.banner.isVisibleTo(win) and win.sync.thread is None
    assert win.banner.kind == "error" and "No profile" in win.banner.text.text()
    win.close()


def test_utc_flag_shows_times_in_utc(qtbot, tmp_path):
    win = create_window(["--cache", str(tmp_path / "c.sqlite3"), "--utc"])
    qtbot.addWidget(win)
    assert win.model.is_utc and win.acts.utc.isChecked()
    assert win.model.headerData(0, Qt.Orientation.Horizontal) == "Time (UTC)"
    win.close()


def test_unknown_profile_is_a_clear_error(qtbot, tmp_path):
    with pytest.raises(StartupError, match="nope"):
        create_window(["--cache", str(tmp_path / "c.sqlite3"), "--profile", "nope"])


def test_a_corrupt_cache_is_reported_and_left_alone(qtbot, tmp_path, monkeypatch):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StartupError):
        create_window(["--cache", str(bad)])
    assert bad.read_bytes() == b"this is not a database" * 100
    shown = []
    monkeypatch.setattr(
        QMessageBox,
        "critical",
        staticmethod(lambda *a: shown.append(a[2]) or QMessageBox.StandardButton.Ok),
    )
    assert app.main(["--cache", str(bad)]) == 2
    assert shown


def test_help_and_bad_arguments_exit_without_a_window(capsys):
    assert app.main(["--help"]) == 0
    assert "--demo" in capsys.readouterr().out
    assert app.main(["--no-such-flag"]) == 2


def test_saved_default_profile_is_used(qtbot, tmp_path, sandbox, monkeypatch):
    config.save_profile(
        config.Profile(
            name="prod", base_url=sandbox.url, client_id=sandbox.client_id, timezone="UTC"
        )
    )
    config.set_default_profile("prod")
    monkeypatch.setenv(config.ENV_SECRET, sandbox.secret)
    win = create_window(["--cache", str(tmp_path / "c.sqlite3")])
    qtbot.addWidget(win)
    assert win.windowTitle() == "prod"
    assert not win.session.offline
    assert "never synced" in win.status_area.label.text()
    assert win.model.is_utc  # the profile's time zone
    win.close()


def test_demo_syncs_from_an_in_process_sandbox_and_cleans_up(qtbot):
    win = create_window(["--demo", "--demo-events", "1200"])
    qtbot.addWidget(win)
    assert win.windowTitle() == "demo"
    with qtbot.waitSignal(win.syncFinished, timeout=60_000) as blocker:
        pass  # the demo starts its sync from the event loop
    assert not blocker.args[0].cancelled
    assert win.model.rowCount() == 1200
    cache_file = Path(win.session.store.url.removeprefix("sqlite:///"))
    assert cache_file.exists()
    win.close()
    assert not cache_file.parent.exists()


@pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # offscreen platform
def test_main_runs_the_event_loop_until_the_window_closes(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def close_soon():
        for widget in QApplication.topLevelWidgets():
            if widget.objectName() == "mainWindow":
                widget.close()

    QTimer.singleShot(200, close_soon)
    QTimer.singleShot(10_000, QApplication.quit)  # a safety net: never hang the suite
    # exec() on the QApplication pytest-qt made; closing the last window ends it.
    assert app.main(["--cache", str(tmp_path / "c.sqlite3")]) == 0
    assert "audit-viewer" in QApplication.applicationName()


def test_profile_dialog_saves_the_profile_and_keeps_the_secret_out_of_sight(qtbot, sandbox):

    from audit_viewer.ui.dialogs import ProfileDialog

    secrets = config.SecretStore(backend=MemoryKeyring())
    dialog = ProfileDialog(None, secrets)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText("lab")
    dialog.url_edit.setText(sandbox.url)
    dialog.client_edit.setText(sandbox.client_id)
    qtbot.keyClicks(dialog.secret_edit, sandbox.secret)
    assert dialog.secret_edit.echoMode() == dialog.secret_edit.EchoMode.Password
    with qtbot.waitSignal(dialog.test_button.clicked, timeout=1000):
        dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.test_result.text().startswith("Connected"), timeout=10_000)
    dialog.page_spin.setValue(250)
    dialog.tz_combo.setCurrentIndex(1)
    dialog.accept()
    assert dialog.result() == ProfileDialog.DialogCode.Accepted
    saved = config.load_profiles()["lab"]
    assert (saved.base_url, saved.client_id, saved.page_size, saved.timezone) == (
        sandbox.url,
        sandbox.client_id,
        250,
        "UTC",
    )
    assert secrets.get("lab") == sandbox.secret
    assert config.default_profile_name() == "lab"

    again = ProfileDialog(saved, secrets)
    qtbot.addWidget(again)
    assert again.secret_edit.text() == ""
    assert "keyring" in again.secret_edit.placeholderText()
    assert again.name_edit.isReadOnly()


@pytest.mark.parametrize("existing", [False, True])
def test_profile_dialog_access_keys_are_unique(qtbot, existing):
    from PySide6.QtWidgets import QAbstractButton, QLabel

    from audit_viewer.ui.dialogs import ProfileDialog

    profile = config.Profile(name="lab") if existing else None
    dialog = ProfileDialog(profile, config.SecretStore(backend=MemoryKeyring()))
    qtbot.addWidget(dialog)
    texts = [w.text() for w in dialog.findChildren(QLabel) if w.buddy() is not None]
    texts += [w.text() for w in dialog.findChildren(QAbstractButton)]
    keys = [t[t.index("&") + 1].lower() for t in texts if "&" in t.replace("&&", "")]
    assert len(keys) >= 8  # six fields, the check box, Test connection (and Save, Cancel)
    assert len(keys) == len(set(keys)), sorted(keys)


def test_profile_dialog_without_a_keyring_explains_the_environment_variable(qtbot):
    from keyring.backends import fail

    from audit_viewer.ui.dialogs import ProfileDialog

    dialog = ProfileDialog(None, config.SecretStore(backend=fail.Keyring()))
    qtbot.addWidget(dialog)
    assert config.ENV_SECRET in dialog.keyring_note.text()
    dialog.name_edit.setText("lab")
    dialog.url_edit.setText("http://example.com")  # plain http off loopback: refused inline
    dialog.client_edit.setText("id")
    dialog.accept()
    assert dialog.error_label.isVisibleTo(dialog) and "http" in dialog.error_label.text()
    dialog.url_edit.setText("https://example.com")
    dialog.secret_edit.setText("s3cret")
    dialog.accept()
    assert dialog.session_secret == "s3cret"  # used for this run only
    assert "lab" in config.load_profiles()


def test_an_explicit_cache_shows_its_own_events(qtbot, tmp_path, sandbox):
    from audit_viewer.cache import CacheStore
    from audit_viewer.events import normalize_event

    config.save_profile(config.Profile(name="prod", base_url=sandbox.url, client_id="x"))
    config.set_default_profile("prod")
    archive = tmp_path / "colleague.sqlite3"
    with CacheStore.open(archive) as store:
        store.upsert_events("acme", [normalize_event(e) for e in sandbox.all_events()[:10]])
    win = create_window(["--cache", str(archive)])
    qtbot.addWidget(win)
    assert win.windowTitle() == "acme"
    assert win.model.rowCount() == 10
    assert win.session.offline  # no saved profile "acme": browse only
    win.close()
