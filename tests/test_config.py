"""Paths, saved profiles and secrets: what an admin's machine ends up holding."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path

import platformdirs
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer
from keyring_backend import MemoryKeyring

from audit_viewer import config
from audit_viewer.config import ConfigError, Profile, SecretStore, SecretStoreError


class BrokenKeyring(KeyringBackend):
    """A backend that is there but fails, like a locked or crashed Secret Service."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("dbus said no")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("dbus said no")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("dbus said no")


# --- paths ---------------------------------------------------------------------------------


def test_home_env_puts_every_path_under_one_folder(isolated_home: Path) -> None:
    home = isolated_home.resolve()
    for path in (config.config_dir(), config.data_dir(), config.log_dir()):
        assert path.is_dir()
        assert path.is_relative_to(home)
    assert len({config.config_dir(), config.data_dir(), config.log_dir()}) == 3
    assert config.settings_path().parent == config.config_dir()


@pytest.mark.skipif(sys.platform != "linux", reason="XDG variables steer platformdirs on Linux")
def test_without_home_env_paths_follow_platform_conventions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(config.ENV_HOME)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert config.config_dir() == Path(platformdirs.user_config_dir("audit-viewer"))
    assert config.config_dir() == tmp_path / "xdg-config" / "audit-viewer"
    assert config.data_dir() == tmp_path / "xdg-data" / "audit-viewer"
    assert config.log_dir() == Path(platformdirs.user_log_dir("audit-viewer"))
    assert config.log_dir().is_relative_to(tmp_path)


def test_runtime_dir_env_wins_over_home(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config.runtime_dir() == isolated_home.resolve() / "runtime"
    assert config.runtime_dir().is_dir()
    monkeypatch.setenv(config.ENV_RUNTIME_DIR, str(tmp_path / "run"))
    assert config.runtime_dir() == (tmp_path / "run").resolve()
    assert config.runtime_dir().is_dir()


@pytest.mark.skipif(sys.platform != "linux", reason="XDG variables steer platformdirs on Linux")
def test_runtime_dir_follows_xdg_runtime_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg-runtime"
    xdg.mkdir(mode=0o700)
    monkeypatch.delenv(config.ENV_HOME)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    assert config.runtime_dir() == xdg / "audit-viewer"
    assert config.runtime_dir().is_dir()


def test_runtime_dir_logs_platformdirs_fallback_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without XDG_RUNTIME_DIR platformdirs warns and falls back: news for the log, not stderr."""

    def fall_back(*args: object, **kwargs: object) -> str:
        warnings.warn("XDG_RUNTIME_DIR is not set, falling back", UserWarning, stacklevel=2)
        return str(tmp_path / "fallback")

    monkeypatch.delenv(config.ENV_HOME)
    monkeypatch.setattr(platformdirs, "user_runtime_dir", fall_back)
    with caplog.at_level(logging.INFO, logger="audit_viewer.config"):
        assert config.runtime_dir() == tmp_path / "fallback"
    assert "XDG_RUNTIME_DIR is not set" in caplog.text


@pytest.mark.skipif(sys.platform != "linux", reason="XDG variables steer platformdirs on Linux")
def test_runtime_dir_falls_back_to_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "runtime directory is owned by another user")

    monkeypatch.delenv(config.ENV_HOME)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(platformdirs, "user_runtime_dir", refuse)
    assert config.runtime_dir() == tmp_path / "xdg-cache" / "audit-viewer"
    assert config.runtime_dir().is_dir()


# --- profiles ------------------------------------------------------------------------------


def test_profiles_round_trip_through_the_settings_file() -> None:
    assert config.load_profiles() == {}
    prod = Profile(name="prod", client_id="abc", page_size=500, timezone="UTC")
    lab = Profile(
        name="lab", base_url="http://127.0.0.1:8765/", client_id="demo-client", cache="/x.db"
    )
    config.save_profile(prod)
    config.save_profile(lab)
    loaded = config.load_profiles()
    assert loaded["prod"] == prod
    assert loaded["lab"].base_url == "http://127.0.0.1:8765"  # trailing slash dropped
    assert loaded["lab"].cache == "/x.db"
    assert json.loads(config.settings_path().read_text())["profiles"]["prod"]["client_id"] == "abc"
    # Only the settings file is left in the folder: the write went through a renamed temp file.
    assert [p.name for p in config.config_dir().iterdir()] == ["settings.json"]


def test_saving_a_profile_again_replaces_it() -> None:
    config.save_profile(Profile(name="prod", client_id="old"))
    config.save_profile(Profile(name="prod", client_id="new"))
    assert config.load_profiles()["prod"].client_id == "new"


@pytest.mark.parametrize("name", ["", " prod", "a b", "x/y", "-lead", "é", "a" * 129, "a\nb"])
def test_bad_profile_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="Invalid profile name"):
        config.save_profile(Profile(name=name))
    assert config.load_profiles() == {}


@pytest.mark.parametrize(
    "url",
    [
        "http://api.jit.io",
        "ftp://api.jit.io",
        "api.jit.io",
        "https://",
        "http://10.0.0.1:80",
        "http://127.0.0.2",
    ],
)
def test_base_urls_the_client_would_refuse_are_refused_when_saved(url: str) -> None:
    with pytest.raises(ConfigError):
        config.save_profile(Profile(name="p", base_url=url))


@pytest.mark.parametrize(
    "url", ["https://api.jit.io", "http://127.0.0.1:9000", "http://localhost", "http://[::1]:80"]
)
def test_https_and_loopback_http_base_urls_are_accepted(url: str) -> None:
    assert config.check_base_url(url + "/") == url


def test_page_size_outside_the_contract_is_refused() -> None:
    with pytest.raises(ConfigError, match="1 to 1000"):
        config.save_profile(Profile(name="p", page_size=1001))


def test_default_profile_is_saved_cleared_and_overridden_by_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert config.default_profile_name() is None
    config.save_profile(Profile(name="prod"))
    config.save_profile(Profile(name="lab"))
    config.set_default_profile("prod")
    assert config.default_profile_name() == "prod"
    monkeypatch.setenv(config.ENV_PROFILE, "lab")
    assert config.default_profile_name() == "lab"
    assert config.default_profile_name(include_env=False) == "prod"
    with pytest.raises(ConfigError, match="No profile named 'nope'"):
        config.set_default_profile("nope")
    config.set_default_profile(None)
    assert config.default_profile_name(include_env=False) is None


def test_removing_the_default_profile_clears_the_default() -> None:
    config.save_profile(Profile(name="prod"))
    config.set_default_profile("prod")
    config.remove_profile("prod")
    assert config.load_profiles() == {}
    assert config.default_profile_name() is None
    with pytest.raises(ConfigError, match="No profile named 'prod'"):
        config.remove_profile("prod")


def test_a_corrupt_settings_file_is_reported_and_left_alone() -> None:
    config.settings_path().write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        config.load_profiles()
    with pytest.raises(ConfigError):
        config.save_profile(Profile(name="prod"))
    assert config.settings_path().read_text(encoding="utf-8") == "{not json"


def test_settings_other_parts_of_the_app_wrote_survive_a_profile_change() -> None:
    config.settings_path().write_text(json.dumps({"profiles": {}, "window": {"w": 800}}))
    config.save_profile(Profile(name="prod"))
    assert json.loads(config.settings_path().read_text())["window"] == {"w": 800}


@pytest.mark.parametrize(
    ("base_url", "client_id", "expected"),
    [
        ("https://api.jit.io", "abc123", "api.jit.io-abc123"),
        ("https://API.jit.io:443/", "abc123", "api.jit.io-abc123"),
        ("https://api.jit.io:8443", "abc", "api.jit.io:8443-abc"),
        ("http://127.0.0.1:8765", "demo-client", "127.0.0.1:8765-demo-client"),
        (
            "https://api.jit.io",
            "id with spaces/and\\slashes",
            "api.jit.io-id_with_spaces_and_slashes",
        ),
    ],
)
def test_derived_profile_names_are_stable_and_valid(
    base_url: str, client_id: str, expected: str
) -> None:
    name = config.derived_profile_name(base_url, client_id)
    assert name == expected
    assert config.check_profile_name(name) == name


# --- secrets -------------------------------------------------------------------------------


def test_secrets_live_in_the_keyring_under_the_app_service(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore()
    assert store.available and store.reason == ""
    store.set("prod", "s3cret-prod")
    assert memory_keyring.stored() == {("audit-viewer", "prod"): "s3cret-prod"}
    assert store.get("prod") == "s3cret-prod"
    assert store.get("other") is None
    store.delete("prod")
    store.delete("prod")  # already gone: not an error
    assert memory_keyring.stored() == {}


def test_no_keyring_backend_means_unavailable_with_a_reason() -> None:
    store = SecretStore()  # the autouse fixture left keyring's fail backend in place
    assert not store.available
    assert "no system keyring" in store.reason
    assert store.get("prod") is None
    with pytest.raises(SecretStoreError, match="no system keyring"):
        store.set("prod", "s3cret")
    store.delete("prod")  # nothing to delete, nothing to fail


def test_a_chainer_with_no_backends_is_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    store = SecretStore(chainer.ChainerBackend())
    assert not store.available
    assert "no system keyring" in store.reason


def test_a_failing_keyring_becomes_unavailable_without_leaking_the_secret() -> None:
    store = SecretStore(BrokenKeyring())
    assert store.available  # looks fine until it is used
    assert store.get("prod") is None
    assert not store.available
    assert "RuntimeError" in store.reason
    with pytest.raises(SecretStoreError) as info:
        SecretStore(BrokenKeyring()).set("prod", "s3cret-value")
    assert "s3cret-value" not in str(info.value)


def test_get_secret_prefers_the_environment_over_the_keyring(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    SecretStore().set("prod", "from-keyring")
    assert config.get_secret("prod") == "from-keyring"
    assert config.get_secret("other") is None
    assert config.get_secret(None) is None
    monkeypatch.setenv(config.ENV_SECRET, "from-env")
    assert config.get_secret("prod") == "from-env"
    assert config.get_secret(None) == "from-env"


def test_get_secret_uses_the_environment_when_there_is_no_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert config.get_secret("prod") is None
    monkeypatch.setenv(config.ENV_SECRET, "from-env")
    assert config.get_secret("prod") == "from-env"


def test_removing_a_profile_deletes_its_secret_and_the_file_never_holds_one(
    memory_keyring: MemoryKeyring,
) -> None:
    config.save_profile(Profile(name="prod", client_id="abc"))
    SecretStore().set("prod", "s3cret-prod")
    assert "s3cret-prod" not in config.settings_path().read_text(encoding="utf-8")
    config.remove_profile("prod")
    assert memory_keyring.stored() == {}
