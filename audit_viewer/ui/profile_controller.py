"""Profiles and caches: which profile is shown, its settings, and opening another cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QWidget

from audit_viewer.cache import CacheError, CacheStore, resolve_cache_url
from audit_viewer.cached_profiles import choose
from audit_viewer.config import ConfigError, Profile, load_profiles
from audit_viewer.ui.dialogs import ProfileDialog
from audit_viewer.ui.session import Session


class ProfileController(QObject):
    """Switches the session's profile or cache and edits profiles; the window re-renders."""

    #: Something the admin must read (the banner): saved profiles unreadable, busy, ...
    problem = Signal(str)
    #: A passing message for the status bar.
    message = Signal(str, int)
    #: A profile saved in the dialog asks for times in UTC.
    utcWanted = Signal()
    #: A new profile was saved and is shown now: its first sync should start.
    created = Signal()

    def __init__(self, session: Session, parent: QWidget, *, busy: Callable[[], bool]) -> None:
        super().__init__(parent)
        self._session = session
        self._parent = parent
        self._busy = busy  # a sync, an export or a load is running

    def fill_menu(self, menu: QMenu) -> None:
        """File → Cached profiles: every profile of the cache and the settings, the shown one
        checked."""
        menu.clear()
        try:
            names = sorted(set(self._session.store.profiles()) | set(load_profiles()))
        except (ConfigError, CacheError) as exc:  # shown in the menu, not a crash
            menu.addAction(f"Unavailable: {exc}").setEnabled(False)
            return
        for name in names:
            act = menu.addAction(name)
            act.setCheckable(True)
            act.setChecked(name == self._session.profile_name)
            act.triggered.connect(lambda _=False, n=name: self.switch_profile(n))
        if not names:
            menu.addAction("No profiles yet").setEnabled(False)

    def switch_profile(self, name: str) -> None:
        """Show another profile's cached events (and sync that profile from now on)."""
        if name == self._session.profile_name or self._busy():
            return
        self._session.switch(name, self.saved_profile(name))

    def saved_profile(self, name: str | None) -> Profile | None:
        """The saved profile of that name; None when there is none or the settings are broken."""
        if name is None:
            return None
        try:
            return load_profiles().get(name)
        except ConfigError as exc:
            self.problem.emit(f"Saved profiles are unavailable: {exc}")
            return None

    def edit_profile(self) -> None:
        """The shown profile's settings; a cache synced from the command line has a profile
        name but no saved profile yet: the dialog starts from that name."""
        name, profile = self._session.profile_name, self._session.profile
        self._run_dialog(profile or (Profile(name=name) if name else None))

    def new_profile(self) -> None:
        self._run_dialog(None)

    def _run_dialog(self, profile: Profile | None) -> None:
        dialog = ProfileDialog(profile, self._session.secrets, self._parent)
        if dialog.exec() != ProfileDialog.DialogCode.Accepted or dialog.profile is None:
            return
        saved, new = dialog.profile, profile is None
        if saved.name != self._session.profile_name:
            if self._busy():
                self.message.emit(
                    f"Saved profile {saved.name}; switch to it once the sync has finished.", 15_000
                )
                return
            self._session.switch(saved.name, saved)
        if saved.timezone.upper() == "UTC":
            self.utcWanted.emit()
        self._session.update(saved, dialog.session_secret)
        if new:
            self.created.emit()

    def open_cache_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._parent,
            "Open cache",
            str(Path(self._session.store.location).parent),
            "Cache databases (*.sqlite3 *.sqlite *.db);;All files (*)",
        )
        if path:
            self.open_cache(path)

    def open_cache(self, url: str) -> None:
        """Switch to another cache file/URL; the current one stays open if that fails."""
        if self._busy():
            self.problem.emit(
                "Wait for the sync, export or loading to finish before switching caches."
            )
            return
        resolved = resolve_cache_url(url)
        try:
            store = CacheStore.open_for_reading(resolved)
            profiles = store.profiles()
        except CacheError as exc:
            QMessageBox.critical(self._parent, "Open cache", f"Could not open {url}.\n\n{exc}")
            return
        choice = choose(profiles, preferred=self._session.profile_name)
        name = choice.name
        if choice.ask:
            name = self._pick(choice.ask, store)
            if name is None:  # the admin did not choose: the current cache stays open
                store.close()
                return
        self._session.switch(name, self.saved_profile(name), store=store, cache_url=resolved)

    def ask_which(self, names: tuple[str, ...]) -> None:
        """The open cache holds several profiles and none was preferred: ask which to show."""
        name = self._pick(names, self._session.store)
        if name is None:
            self.problem.emit(
                f"This cache holds {len(names)} profiles; choose one in File → Cached profiles."
            )
        else:
            self.switch_profile(name)

    def _pick(self, names: tuple[str, ...], store: CacheStore) -> str | None:
        """The profile the admin picks from ``names`` (each with its count), or None."""
        labels = {}
        for name in names:
            try:
                count = store.count(name)
                labels[f"{name} ({count:,} event{'' if count == 1 else 's'})"] = name
            except CacheError:
                labels[name] = name
        label, ok = QInputDialog.getItem(
            self._parent,
            "Which profile?",
            f"{store.location} holds the events of several profiles. Show:",
            list(labels),
            0,
            False,
        )
        return labels.get(label) if ok else None
