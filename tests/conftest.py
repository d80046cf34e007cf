"""Shared fixtures: every test runs with its own home, headless Qt, and no real secrets."""

from __future__ import annotations

import os
from collections.abc import Iterator

import keyring.core
import pytest
from keyring.backends import fail
from keyring_backend import MemoryKeyring

# Before any Qt import: the suite runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point every app path at a fresh folder so no test touches the real user dirs."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("AUDIT_VIEWER_HOME", str(home))
    for name in ("AUDIT_VIEWER_CACHE", "AUDIT_VIEWER_CLIENT_SECRET", "AUDIT_VIEWER_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the developer's real keyring: each starts with no keyring at all."""
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """A working keyring that lives in this test's memory."""
    backend = MemoryKeyring()
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
    return backend


@pytest.fixture
def sandbox() -> Iterator:
    """A real sandbox platform server on 127.0.0.1 with a small, fixed event set."""
    from audit_viewer.sandbox import SandboxServer

    with SandboxServer(events=1500, seed=7) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def cache_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A cache URL on a real SQLite file, and on PostgreSQL when AUDIT_VIEWER_TEST_PG_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cache.sqlite3'}"
        return
    base = os.environ.get("AUDIT_VIEWER_TEST_PG_URL")
    if not base:
        pytest.skip("AUDIT_VIEWER_TEST_PG_URL is not set")
    yield _fresh_pg_database(base)


def _fresh_pg_database(base: str) -> str:
    """Create an empty database for one test so tests never see each other's rows."""
    import uuid

    import sqlalchemy as sa

    name = f"av_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(sa.make_url(base).set(database=name).render_as_string(hide_password=False))
