"""Dialogs: the connection profile editor and the keyboard-shortcut list."""

from __future__ import annotations

import html
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from audit_viewer import __version__, logs
from audit_viewer.config import (
    DEFAULT_BASE_URL,
    ENV_SECRET,
    ConfigError,
    Profile,
    SecretStore,
    SecretStoreError,
    check_base_url,
    check_profile_name,
    default_profile_name,
    save_profile,
    set_default_profile,
)
from audit_viewer.ui.theme import error_color
from audit_viewer.ui.workers import LoginWorker, WorkerThread

TIMEZONES = (("Local time", "local"), ("UTC", "UTC"))


class ProfileDialog(QDialog):
    """Edit or create a connection profile; the secret goes to the keyring and never comes back.

    After ``accept()``: ``profile`` is the saved profile and ``session_secret`` the secret typed
    in when no keyring could store it (the window then uses it for this run only).
    """

    def __init__(
        self,
        profile: Profile | None,
        secrets: SecretStore,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("profileDialog")
        self._secrets = secrets
        self._existing = profile
        self._test: WorkerThread | None = None
        self.profile: Profile | None = None
        self.session_secret: str | None = None
        self.setWindowTitle("Profile settings" if profile else "New profile")
        self.setMinimumWidth(480)

        p = profile or Profile(name="")
        self.name_edit = QLineEdit(p.name, objectName="profileName")
        self.name_edit.setPlaceholderText("e.g. production")
        self.name_edit.setReadOnly(profile is not None)
        self.url_edit = QLineEdit(p.base_url or DEFAULT_BASE_URL, objectName="baseUrl")
        self.client_edit = QLineEdit(p.client_id, objectName="clientId")
        self.secret_edit = QLineEdit(objectName="secret")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.setPlaceholderText(self._secret_placeholder(p.name))
        self.page_spin = QSpinBox(objectName="pageSize")
        self.page_spin.setRange(1, 1000)
        self.page_spin.setValue(p.page_size)
        self.page_spin.setToolTip("Events per request (the platform allows 1 to 1000)")
        self.tz_combo = QComboBox(objectName="timezone")
        for label, value in TIMEZONES:
            self.tz_combo.addItem(label, value)
        self.tz_combo.setCurrentIndex(1 if p.timezone.upper() == "UTC" else 0)
        self.default_check = QCheckBox("Open this profile by &default", objectName="makeDefault")
        self.default_check.setChecked(default_profile_name() in (None, p.name or None))

        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Base URL:", self.url_edit)
        form.addRow("&Client ID:", self.client_edit)
        form.addRow("Client s&ecret:", self.secret_edit)
        form.addRow("&Page size:", self.page_spin)
        form.addRow("Time &zone:", self.tz_combo)
        form.addRow("", self.default_check)

        self.keyring_note = QLabel(objectName="keyringNote")
        self.keyring_note.setWordWrap(True)
        if not secrets.available:
            self.keyring_note.setText(
                f"No keyring to store the secret: {secrets.reason}. A secret typed here is used "
                f"until the app closes; to keep one, set the environment variable {ENV_SECRET} "
                "before starting audit-viewer."
            )
        self.keyring_note.setVisible(not secrets.available)

        self.test_button = QPushButton("&Test connection", objectName="testConnection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel(objectName="testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)

        self.error_label = QLabel(objectName="profileError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {error_color(self.palette()).name()};")
        self.error_label.setVisible(False)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.keyring_note)
        layout.addLayout(test_row)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        (self.client_edit if profile else self.name_edit).setFocus()

    def _secret_placeholder(self, name: str) -> str:
        if os.environ.get(ENV_SECRET):
            return f"from {ENV_SECRET}"
        if name and self._secrets.get(name):
            return "stored in keyring (type to replace)"
        return "required"

    def _stored_secret(self, name: str) -> str | None:
        typed = self.secret_edit.text()
        if typed:
            return typed
        return os.environ.get(ENV_SECRET) or (self._secrets.get(name) if name else None)

    def _form_profile(self) -> Profile:
        """The profile as typed; raises ConfigError for a bad name or URL."""
        base = self._existing or Profile(name="")
        return Profile(
            name=check_profile_name(self.name_edit.text().strip()),
            base_url=check_base_url(self.url_edit.text()),
            client_id=self.client_edit.text().strip(),
            page_size=self.page_spin.value(),
            ca_bundle=base.ca_bundle,
            timezone=self.tz_combo.currentData(),
            cache=base.cache,
        )

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def test_connection(self) -> None:
        """Log in with what is typed, in a thread; the result shows next to the button."""
        if self._test is not None:
            return
        try:
            profile = self._form_profile()
        except ConfigError as exc:
            self.test_result.setText(str(exc))
            return
        secret = self._stored_secret(profile.name)
        if not secret:
            self.test_result.setText("Type the client secret first.")
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Connecting…")
        worker = LoginWorker(profile, secret)
        worker.finished.connect(self._test_done)
        worker.failed.connect(self._test_done)
        self._test = WorkerThread(worker)
        self._test.start()

    def _test_done(self, message: str) -> None:
        self.test_result.setText(message)
        self.test_button.setEnabled(True)
        if self._test is not None:
            self._test.finish()
            self._test = None

    def done(self, result: int) -> None:
        if self._test is not None:
            self._test.stop()
            self._test = None
        super().done(result)

    def accept(self) -> None:
        try:
            profile = self._form_profile()
        except ConfigError as exc:
            self._show_error(str(exc))
            return
        if not profile.client_id:
            self._show_error("The client ID is required.")
            return
        secret = self.secret_edit.text()
        if secret and self._secrets.available:
            try:
                self._secrets.set(profile.name, secret)
            except SecretStoreError as exc:
                self._show_error(f"{exc}. Set {ENV_SECRET} instead.")
                return
        elif secret:
            self.session_secret = secret
        try:
            save_profile(profile)
            if self.default_check.isChecked():
                set_default_profile(profile.name)
        except ConfigError as exc:
            self._show_error(str(exc))
            return
        self.profile = profile
        super().accept()


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: every action that has one, as the menus show them."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        rows = [
            (
                a.text().replace("&", ""),
                a.shortcut().toString(a.shortcut().SequenceFormat.NativeText),
            )
            for a in actions
            if not a.shortcut().isEmpty()
        ]
        rows += [
            ("Clear the search (in the search bar)", "Esc"),
            ("Walk the filter row", "Tab / Shift+Tab"),
            ("Open the selected event's details", "Enter"),
        ]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (name, keys) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(name))
            table.setItem(r, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.resizeColumnToContents(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(440, 480)


def show_about(parent: QWidget, cache: str, settings: Path) -> None:
    """Help → About: the version and the paths in use (cache, settings, log)."""
    QMessageBox.about(
        parent,
        "About audit-viewer",
        f"<b>audit-viewer {__version__}</b><p>Browse, search and archive the platform's "
        "audit trail: events sync into a local cache that outlives the platform's 90-day "
        f"retention.</p><p>Cache: {html.escape(cache)}<br>"
        f"Settings: {html.escape(str(settings))}<br>"
        f"Log: {html.escape(str(logs.log_file()))}</p>",
    )
