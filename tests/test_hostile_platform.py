"""A hostile or broken platform, served for real by the sandbox over 127.0.0.1.

Each test is one way a server can misbehave (issue 10) and asserts what the admin notices: the
one-line error, and that the events already stored stay stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from audit_viewer.api import PermissionDeniedError, PlatformClient
from audit_viewer.cache import CacheStore
from audit_viewer.sandbox import SandboxServer
from audit_viewer.sync import SyncEngine

PROFILE = "hostile"
SECRET = "s3cr3t-hostile-never-show-me"


def client_for(server: SandboxServer, **options: Any) -> PlatformClient:
    """A client with quick backoff and no own rate limit, so the tests stay fast."""
    options.setdefault("backoff_factor", 0.01)
    options.setdefault("max_requests_per_second", 1000)
    return PlatformClient(server.url, server.client_id, server.secret, **options)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and SECRET not in text
    return text


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(events=1500, seed=11, secret=SECRET) as sandbox:
        sandbox.faults.enforce_rate_limit = False
        yield sandbox


@pytest.fixture
def store(cache_url: str) -> Iterator[CacheStore]:
    with CacheStore.open(cache_url) as cache:
        yield cache


def sync(server: SandboxServer, store: CacheStore, **options: Any) -> SyncEngine:
    return SyncEngine(client_for(server, **options), store, PROFILE, chunk=timedelta(days=30))


# -- 403 ------------------------------------------------------------------------------------


def test_the_platforms_403_reason_is_shown_on_one_line_without_secrets(server, store):
    reason = "Audit logs are not enabled for tenant acme"
    server.faults.forbidden_message = f"{reason}.\nContact support, quoting {SECRET}. " + "x" * 500
    with pytest.raises(PermissionDeniedError) as caught:
        sync(server, store).run()
    text = one_line(caught.value)
    assert text.startswith(f'Access denied (HTTP 403); the platform says "{reason}. Contact')
    assert "***" in text  # the echoed secret, masked
    assert len(text) < 400  # the server's reason is cut short
    assert "not an administrator" in text
    assert store.sync_state(PROFILE).last_error == text
