"""Which cache and which profile the window shows: the one place every controller reads them.

Like vorta's profile provider: the sync, export, load and profile controllers are given this
object instead of the window, and the window re-renders when it says it changed.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from PySide6.QtCore import QObject, Signal

from audit_viewer.cache import CacheStore
from audit_viewer.config import Profile, SecretStore, get_secret

log = logging.getLogger(__name__)


class Session(QObject):
    """The open cache, the profile whose events are shown, and that profile's secret."""

    #: Another profile or cache is shown now (:meth:`switch`): its events must be loaded.
    switched = Signal()
    #: The shown profile's settings or secret changed (:meth:`update`).
    changed = Signal()

    def __init__(
        self,
        *,
        store: CacheStore,
        cache_url: str,
        profile_name: str | None,
        profile: Profile | None,
        secrets: SecretStore | None = None,
        session_secret: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.cache_url = cache_url
        self.profile_name = profile_name
        self.profile = profile
        self.secrets = secrets if secrets is not None else SecretStore()
        #: A secret given for this run only (the demo's, or typed without saving it).
        self.session_secret = session_secret
        #: No profile or no secret: the cache is browsable, but a sync cannot run. Kept, not
        #: asked each time: the status line reads it on every keystroke, and asking the
        #: keyring is a round trip to the desktop's secret service.
        self.offline = self._is_offline()

    def secret(self) -> str | None:
        """The secret to sync with: this run's, else the keyring's or the environment's."""
        if self.session_secret:
            return self.session_secret
        profile = self.profile
        return get_secret(profile.name, secrets=self.secrets) if profile else None

    def _is_offline(self) -> bool:
        return self.profile is None or self.secret() is None

    def whole_json(self, frame: pd.DataFrame) -> list[str]:
        """Each event of ``frame`` as its whole JSON (an SQLite cache's frames hold only the
        extra fields; the rest comes from the cache). Safe in an export's worker thread."""
        store = self.store
        if store.frames_hold_whole_json or self.profile_name is None:
            return [str(text) for text in frame["raw"].tolist()]
        return store.events_json(self.profile_name, [str(i) for i in frame["id"].tolist()])

    def zone(self) -> ZoneInfo | None:
        """The IANA zone the profile shows times in; None: the machine's (or UTC, by toggle)."""
        name = self.profile.timezone if self.profile else "local"
        if name.lower() in ("local", "utc", ""):
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("Unknown time zone %r in profile; using the local zone", name)
            return None

    def switch(
        self,
        profile_name: str | None,
        profile: Profile | None,
        *,
        store: CacheStore | None = None,
        cache_url: str | None = None,
    ) -> None:
        """Show another profile (of another cache, when given); closes the cache it leaves."""
        if store is not None and cache_url is not None:
            self.store.close()
            self.store, self.cache_url = store, cache_url
        self.profile_name, self.profile = profile_name, profile
        self.session_secret = None
        self.offline = self._is_offline()
        self.switched.emit()

    def update(self, profile: Profile, session_secret: str | None = None) -> None:
        """The shown profile's settings (or secret) were edited."""
        self.profile = profile
        if session_secret:
            self.session_secret = session_secret
        self.offline = self._is_offline()
        self.changed.emit()
