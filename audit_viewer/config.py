"""Where the app keeps its files, the saved connection profiles, and their secrets.

Paths come from platformdirs so each OS gets its usual places; ``AUDIT_VIEWER_HOME`` moves all
of them under one folder (tests, portable installs), ``AUDIT_VIEWER_RUNTIME_DIR`` just the
runtime one. Profiles live in a small JSON file in the config dir that never holds a secret:
client secrets go to the OS keyring, or, where no keyring exists, come from the
``AUDIT_VIEWER_CLIENT_SECRET`` environment variable. There is deliberately no plain-text
fallback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import platformdirs

from audit_viewer import urls

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

APP_NAME = "audit-viewer"
#: One switch: when set, every path (config, data, cache, logs) lives under it.
ENV_HOME = "AUDIT_VIEWER_HOME"
#: Where processes of this user meet (the shared rate limiter's state); wins over the home.
ENV_RUNTIME_DIR = "AUDIT_VIEWER_RUNTIME_DIR"
#: The client secret for headless use and for machines without a keyring. Wins over the keyring.
ENV_SECRET = "AUDIT_VIEWER_CLIENT_SECRET"
#: Picks the default profile without touching the settings file.
ENV_PROFILE = "AUDIT_VIEWER_PROFILE"
#: Keyring service name; the keyring username is the profile name.
KEYRING_SERVICE = "audit-viewer"
DEFAULT_BASE_URL = "https://api.jit.io"
#: What the log file may record, most detailed first; ``--log-level`` or the setting picks one.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"

_SETTINGS_VERSION = 1
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}")
# catch_warnings swaps process-wide state: two threads inside it at once could restore it wrongly.
_warnings_lock = threading.Lock()


class ConfigError(Exception):
    """The settings file or a profile is not usable; the message tells an admin what to fix."""


class SecretStoreError(Exception):
    """The keyring refused to store or delete a secret."""


def _home() -> Path | None:
    value = os.environ.get(ENV_HOME)
    return Path(value).expanduser().resolve() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The folder of the settings file (created on first use)."""
    home = _home()
    if home is not None:
        return _ensure(home / "config")
    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)))


def data_dir() -> Path:
    """The folder of the default cache database (created on first use)."""
    home = _home()
    if home is not None:
        return _ensure(home / "data")
    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))


def log_dir(*, create: bool = True) -> Path:
    """The folder of the log file (created on first use unless ``create`` is false).

    The log itself creates it only when it writes, so a folder that cannot be made never stops
    the work (see :mod:`audit_viewer.logs`).
    """
    home = _home()
    path = (
        home / "logs"
        if home is not None
        else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    )
    return _ensure(path) if create else path


def runtime_dir() -> Path:
    """The folder where this user's processes share state (created on first use).

    Every process of one user must find the same folder, so a sync started from cron meets one
    started from the desktop: platformdirs' own fallback when ``XDG_RUNTIME_DIR`` is unset
    (``/run/user/<uid>``, else a private ``runtime-<uid>`` in the temp folder) is kept, and its
    warning goes to the log. Only where no runtime folder can be had does the cache folder
    stand in.
    """
    override = os.environ.get(ENV_RUNTIME_DIR)
    if override:
        return _ensure(Path(override).expanduser().resolve())
    home = _home()
    if home is not None:
        return _ensure(home / "runtime")
    try:
        with _warnings_lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = Path(
                platformdirs.user_runtime_dir(APP_NAME, appauthor=False, ensure_exists=True)
            )
        for warning in caught:
            log.info("Runtime folder: %s", warning.message)
        return _ensure(path)
    except OSError as exc:
        log.info("No runtime folder (%s); using the cache folder", exc.strerror or exc)
        return _ensure(Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)))


def settings_path() -> Path:
    """The JSON file holding the profiles and the default profile name (never a secret)."""
    return config_dir() / "settings.json"


@dataclass
class Profile:
    """How to reach one platform tenant; the secret is looked up by ``name``, never stored here."""

    name: str
    base_url: str = DEFAULT_BASE_URL
    client_id: str = ""
    page_size: int = 1000
    ca_bundle: str | None = None
    timezone: str = "local"
    cache: str | None = None


def check_profile_name(name: str) -> str:
    """Profile names key the cache and the keyring, so keep them short and printable."""
    if not _PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            f"Invalid profile name {name!r}: use 1-128 letters, digits and . _ @ : + - "
            "(starting with a letter or digit)"
        )
    return name


def check_base_url(url: str) -> str:
    """Refuse a base URL the client would refuse anyway, early, when a profile is saved.

    The rule is the client's own (:mod:`audit_viewer.urls`), so a profile can never hold a URL
    that sync would then reject.
    """
    try:
        return urls.check_base_url(url)
    except urls.BadURLError as exc:
        raise ConfigError(str(exc)) from None


def derived_profile_name(base_url: str, client_id: str) -> str:
    """The profile a sync without ``--profile`` files its events under: host(:port)-client id.

    Stable for the same platform and client, so repeated syncs and a later export meet in the
    same place without any saved profile.
    """
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "platform").lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    name = f"{host}-{client_id.strip()}"
    name = re.sub(r"[^A-Za-z0-9._@:+-]", "_", name).lstrip("._@:+-")
    return name[:128] or "platform"


# --- settings file -------------------------------------------------------------------------


def _read_settings() -> dict[str, Any]:
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": _SETTINGS_VERSION, "profiles": {}}
    except OSError as exc:
        raise ConfigError(f"Cannot read settings {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Settings file {path} is not valid JSON (line {exc.lineno}); fix or remove it"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles", {}), dict):
        raise ConfigError(f"Settings file {path} has an unexpected layout; fix or remove it")
    doc.setdefault("profiles", {})
    return doc


def _write_settings(doc: dict[str, Any]) -> None:
    """Write to a temp file in the same folder and rename, so a crash never leaves half a file."""
    path = settings_path()
    doc["version"] = _SETTINGS_VERSION
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_PROFILE_FIELDS = {f.name for f in dataclasses.fields(Profile)}


def _profile_from(name: str, data: Any) -> Profile:
    if not isinstance(data, dict):
        raise ConfigError(f"Profile {name!r} in {settings_path()} is not a table of settings")
    known = {k: v for k, v in data.items() if k in _PROFILE_FIELDS and k != "name"}
    return Profile(name=name, **known)


def load_profiles() -> dict[str, Profile]:
    """All saved profiles by name."""
    doc = _read_settings()
    return {name: _profile_from(name, data) for name, data in doc["profiles"].items()}


def save_profile(profile: Profile) -> None:
    """Add or replace a profile. Raises ConfigError for a bad name or base URL."""
    check_profile_name(profile.name)
    profile.base_url = check_base_url(profile.base_url)
    if not 1 <= profile.page_size <= 1000:
        raise ConfigError(f"Page size must be 1 to 1000, not {profile.page_size}")
    doc = _read_settings()
    data = dataclasses.asdict(profile)
    del data["name"]
    doc["profiles"][profile.name] = data
    _write_settings(doc)


def remove_profile(name: str, *, secrets: SecretStore | None = None) -> None:
    """Forget a profile and delete its keyring secret, so nothing of it is left behind."""
    doc = _read_settings()
    if name not in doc["profiles"]:
        raise ConfigError(f"No profile named {name!r}")
    del doc["profiles"][name]
    if doc.get("default_profile") == name:
        doc.pop("default_profile")
    _write_settings(doc)
    store = secrets if secrets is not None else SecretStore()
    if store.available:
        store.delete(name)


def default_profile_name(*, include_env: bool = True) -> str | None:
    """``AUDIT_VIEWER_PROFILE`` if set (and ``include_env``), else the default saved in settings."""
    env = os.environ.get(ENV_PROFILE, "").strip() if include_env else ""
    if env:
        return env
    value = _read_settings().get("default_profile")
    return value if isinstance(value, str) and value else None


def set_default_profile(name: str | None) -> None:
    """Make a saved profile the default (``None`` clears it)."""
    doc = _read_settings()
    if name is None:
        doc.pop("default_profile", None)
    elif name not in doc["profiles"]:
        raise ConfigError(f"No profile named {name!r}")
    else:
        doc["default_profile"] = name
    _write_settings(doc)


def check_log_level(value: str) -> str:
    """The level's canonical name (``debug`` -> ``DEBUG``); ConfigError for anything else."""
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"Unknown log level {value!r}: use one of {', '.join(LOG_LEVELS)}")
    return level


def log_level() -> str:
    """The log level saved in settings, else ``DEFAULT_LOG_LEVEL``."""
    value = _read_settings().get("log_level")
    if value is None:
        return DEFAULT_LOG_LEVEL
    if not isinstance(value, str):
        raise ConfigError(f"Settings file {settings_path()}: log_level must be a level name")
    return check_log_level(value)


def set_log_level(level: str) -> None:
    """Save the log level the app starts with (``--log-level`` still wins for one run)."""
    doc = _read_settings()
    doc["log_level"] = check_log_level(level)
    _write_settings(doc)


# --- secrets -------------------------------------------------------------------------------


def _backend_problem(backend: KeyringBackend) -> str | None:
    """Why this keyring backend cannot keep a secret, or None when it can."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return "no system keyring is available (keyring found no usable backend)"
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return "no system keyring is available (keyring found no usable backend)"
    return None


class SecretStore:
    """Client secrets in the OS keyring (service "audit-viewer", username = profile name).

    ``available`` is False when there is no usable backend or the backend fails; ``reason`` then
    says why, so the app can tell the user to use the environment variable instead.
    """

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self.reason = ""
        self._backend: KeyringBackend | None
        try:
            import keyring

            self._backend = backend if backend is not None else keyring.get_keyring()
        except Exception as exc:  # a broken keyring setup must not stop the app
            self._backend = None
            self.reason = f"the keyring could not be loaded ({type(exc).__name__})"
        else:
            self.reason = _backend_problem(self._backend) or ""

    @property
    def available(self) -> bool:
        return not self.reason

    @property
    def backend_name(self) -> str:
        return type(self._backend).__name__ if self._backend is not None else "none"

    def _fail(self, action: str, exc: Exception) -> str:
        # Only the exception type: backend messages are not ours to vouch for.
        self.reason = f"the keyring failed to {action} a secret ({type(exc).__name__})"
        log.warning("Keyring %s failed to %s a secret: %s", self.backend_name, action, type(exc))
        return self.reason

    def get(self, profile: str) -> str | None:
        """The stored secret, or None (also when the keyring is unavailable or fails)."""
        if self._backend is None or not self.available:
            return None
        try:
            return self._backend.get_password(KEYRING_SERVICE, profile) or None
        except Exception as exc:
            self._fail("read", exc)
            return None

    def set(self, profile: str, secret: str) -> None:
        """Store a secret. Raises SecretStoreError when the keyring cannot."""
        if self._backend is None or not self.available:
            raise SecretStoreError(f"Cannot store the secret: {self.reason}")
        try:
            self._backend.set_password(KEYRING_SERVICE, profile, secret)
        except Exception as exc:
            raise SecretStoreError(f"Cannot store the secret: {self._fail('store', exc)}") from None

    def delete(self, profile: str) -> None:
        """Delete a stored secret; a secret that is not there is not an error."""
        if self._backend is None or not self.available:
            return
        from keyring.errors import PasswordDeleteError

        try:
            self._backend.delete_password(KEYRING_SERVICE, profile)
        except PasswordDeleteError:
            return
        except Exception as exc:
            raise SecretStoreError(
                f"Cannot delete the secret: {self._fail('delete', exc)}"
            ) from None


def get_secret(profile_name: str | None, *, secrets: SecretStore | None = None) -> str | None:
    """The client secret to use: the environment variable wins, then the keyring."""
    env = os.environ.get(ENV_SECRET)
    if env:
        return env
    if not profile_name:
        return None
    store = secrets if secrets is not None else SecretStore()
    return store.get(profile_name)
