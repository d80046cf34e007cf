"""The platform client against real servers on loopback: the sandbox, and a scripted one.

The scripted server answers each request from a list, to produce the broken responses and
echoes no well-behaved server would send; it is real HTTP too, nothing is mocked.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from audit_viewer.api import (
    AuthenticationError,
    BadRequestError,
    InsecureURLError,
    MalformedResponseError,
    Page,
    PermissionDeniedError,
    PlatformClient,
    PlatformError,
    RequestAborted,
    ServerUnavailableError,
)
from audit_viewer.sandbox import Faults, SandboxServer

SECRET = "s3cr3t-Zq81-never-show-me"
TOKEN = "tok-7f3a9c-never-show-me-either"


def client_for(server: SandboxServer | Scripted, **options: Any) -> PlatformClient:
    """A client with quick backoff, so retry tests stay fast."""
    options.setdefault("backoff_factor", 0.01)
    return PlatformClient(server.url, server.client_id, server.secret, **options)


def collect(client: PlatformClient, **window: datetime) -> list[dict]:
    return [event for page in client.iter_pages(**window) for event in page.events]


def ids(events: list[dict]) -> list[str]:
    return [event["id"] for event in events]


# -- a scripted server ----------------------------------------------------------------------


class Scripted:
    """A loopback HTTP server answering requests with queued ``(status, body, headers)``."""

    client_id = "scripted-client"
    secret = SECRET

    def __init__(self) -> None:
        self.answers: deque[tuple[int, Any, dict[str, str]]] = deque()
        self.seen: list[tuple[str, str]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                scripted.seen.append((self.command, self.path))
                status, body, headers = scripted.answers.popleft()
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def script(self, *answers: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> None:
        for answer in answers:
            status, body, *headers = answer
            self.answers.append((status, body, headers[0] if headers else {}))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


LOGIN_OK = (200, {"accessToken": TOKEN})


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- login and tokens -----------------------------------------------------------------------


def test_pagination_collects_exactly_the_servers_events_with_one_login(sandbox):
    with client_for(sandbox, page_size=50) as client:
        pages = list(client.iter_pages())
    assert len(pages) == 30
    assert all(isinstance(page, Page) and len(page.events) == 50 for page in pages)
    assert pages[-1].after is None
    assert [event for page in pages for event in page.events] == sandbox.all_events()
    assert sandbox.stats.logins == 1
    assert sandbox.stats.list_requests == 30


def test_window_is_sent_as_utc_iso_with_milliseconds(sandbox):
    events = sandbox.all_events()
    newest = datetime.fromisoformat(events[100]["created_at"])
    oldest = datetime.fromisoformat(events[400]["created_at"])
    india = timezone(timedelta(hours=5, minutes=30))  # any offset means the same instant
    with client_for(sandbox) as client:
        window = collect(client, start=oldest.astimezone(india), end=newest.astimezone(india))
    expected = [e for e in events if oldest <= datetime.fromisoformat(e["created_at"]) < newest]
    assert window == expected
    assert window
    with client_for(sandbox) as client, pytest.raises(ValueError, match="timezone"):
        collect(client, start=datetime(2026, 1, 1))


def test_bad_credentials_are_an_authentication_error(sandbox):
    with (
        PlatformClient(sandbox.url, sandbox.client_id, "wrong-secret") as client,
        pytest.raises(AuthenticationError, match="client ID and secret") as caught,
    ):
        client.login()
    assert "wrong-secret" not in str(caught.value)


def test_expired_token_logs_in_again_and_continues():
    with SandboxServer(events=300, faults=Faults(token_ttl=0.5)) as server:
        with client_for(server, page_size=50) as client:
            pages = client.iter_pages()
            first = next(pages)
            time.sleep(0.6)  # outlive the token
            rest = [event for page in pages for event in page.events]
        assert first.events + rest == server.all_events()
        assert server.stats.logins >= 2
        assert server.stats.unauthorized >= 1


def test_revoked_token_logs_in_again_and_continues(sandbox):
    with client_for(sandbox, page_size=500) as client:
        pages = client.iter_pages()
        first = next(pages)
        sandbox.revoke_tokens()
        rest = [event for page in pages for event in page.events]
    assert first.events + rest == sandbox.all_events()
    assert (sandbox.stats.logins, sandbox.stats.unauthorized) == (2, 1)


def test_a_second_401_is_an_authentication_error():
    with SandboxServer(events=20, faults=Faults(token_ttl=0.0)) as server:
        with client_for(server) as client, pytest.raises(AuthenticationError, match="401"):
            collect(client)
        assert (server.stats.logins, server.stats.unauthorized) == (2, 2)


def test_a_token_that_expires_while_a_call_waits_out_retries_is_renewed():
    # Tokens live 0.5 s. Request 3 is rate limited for 1 s, so request 4 finds the token
    # expired: log in again. Request 5, the repeated call, meets a 5xx and its retry comes 0.6 s
    # later, so that token has expired too. That 401 is expiry after waiting, not a refusal of a
    # fresh token: log in once more and go on (staying within the rate limit).
    faults = Faults(token_ttl=0.5, rate_limit_every=3, retry_after=1, server_error_every=5)
    with SandboxServer(events=200, faults=faults) as server:
        with client_for(server, page_size=50, backoff_factor=0.6) as client:
            assert collect(client) == server.all_events()
        assert server.stats.unauthorized >= 2
        assert server.stats.logins >= 3
        assert server.stats.rate_limited == 0


# -- retries --------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds():
    with SandboxServer(events=1500, faults=Faults(rate_limit_every=2, retry_after=1)) as server:
        with client_for(server, page_size=1000) as client:
            started = time.monotonic()
            events = collect(client)
            waited = time.monotonic() - started
        assert events == server.all_events()
        assert server.stats.faults_injected == 1
        assert waited >= 1.0  # a lower bound only: the client may not come back sooner


def test_retry_after_is_capped():
    slept: list[float] = []
    faults = Faults(rate_limit_every=1, retry_after=3600)
    with (
        SandboxServer(events=20, faults=faults) as server,
        client_for(server, retries=2, max_retry_after=0.2) as client,
        pytest.raises(ServerUnavailableError, match="429"),
    ):
        client.on_retry = lambda seconds, number, of: slept.append(seconds)
        collect(client)
    assert slept == [0.2, 0.2]


def test_5xx_is_retried_then_succeeds():
    with SandboxServer(events=1500, faults=Faults(server_error_every=2)) as server:
        with client_for(server, page_size=1000) as client:
            assert collect(client) == server.all_events()
        assert server.stats.faults_injected == 1
        assert server.stats.list_requests == 3


def test_5xx_forever_is_server_unavailable():
    with SandboxServer(events=20, faults=Faults(server_error_every=1)) as server:
        with (
            client_for(server, retries=2) as client,
            pytest.raises(ServerUnavailableError, match=r"HTTP 50\d after 2 retries"),
        ):
            collect(client)
        assert server.stats.list_requests == 3


def test_login_is_retried_on_503(scripted):
    scripted.script((503, {"message": "busy"}), LOGIN_OK, (200, {"data": [], "metadata": {}}))
    with client_for(scripted) as client:
        assert collect(client) == []
    assert [method for method, _ in scripted.seen] == ["POST", "POST", "GET"]


def test_a_refused_connection_fails_within_seconds_saying_each_retry():
    """Two quick retries (a restarting server), not five with 20 s of backoff; each is told."""
    url = f"http://127.0.0.1:{free_port()}"
    told: list[tuple[float, int, int]] = []
    with PlatformClient(url, "id", SECRET) as client:
        client.on_retry = lambda seconds, number, of: told.append((seconds, number, of))
        with pytest.raises(ServerUnavailableError, match="refused"):
            client.login()
    assert [(number, of) for _seconds, number, of in told] == [(1, 5), (2, 5)]
    assert sum(seconds for seconds, _n, _of in told) < 3


def test_retries_of_a_busy_platform_are_told_before_each_wait(scripted):
    busy = (503, {"message": "busy"})
    scripted.script(busy, busy, LOGIN_OK, (200, {"data": [], "metadata": {}}))
    told: list[tuple[int, int]] = []
    with client_for(scripted) as client:
        client.on_retry = lambda seconds, number, of: told.append((number, of))
        assert collect(client) == []
    assert told == [(1, client.retries), (2, client.retries)]


def test_abort_ends_a_request_blocked_on_a_slow_platform_at_once():
    with SandboxServer(events=20, faults=Faults(slow_page_seconds=60)) as server:
        client = client_for(server)
        outcome: list[BaseException] = []

        def fetch() -> None:
            try:
                collect(client)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=fetch)
        worker.start()
        deadline = time.monotonic() + 20
        while server.stats.list_requests < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stats.list_requests == 1  # blocked in the first page's read
        client.abort()
        worker.join(timeout=10)  # not the page's 60 s
        assert not worker.is_alive()
        assert [type(exc) for exc in outcome] == [RequestAborted]
        assert server.stats.list_requests == 1  # abandoned, not retried
        with pytest.raises(RequestAborted):  # and every later request too
            client.login()
        client.resume()  # until the next run lets them through again
        server.faults.slow_page_seconds = 0
        assert len(collect(client)) == 20
        client.close()


def test_connection_refused_is_server_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    with (
        PlatformClient(url, "id", SECRET, retries=1, backoff_factor=0.01) as client,
        pytest.raises(ServerUnavailableError, match="refused"),
    ):
        client.login()


# -- the client's own rate limit ------------------------------------------------------------


def test_client_stays_under_the_platform_rate_limit_across_threads(sandbox):
    """Two threads share one client; together they still send at most 10 requests a second."""
    events = sandbox.all_events()
    middle = datetime.fromisoformat(events[750]["created_at"])
    halves: dict[str, list[dict]] = {}
    with client_for(sandbox, page_size=40) as client:
        client.login()

        def read(name: str, **window: datetime) -> None:
            halves[name] = collect(client, **window)

        workers = [
            threading.Thread(target=read, args=("new",), kwargs={"start": middle}),
            threading.Thread(target=read, args=("old",), kwargs={"end": middle}),
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert halves["new"] + halves["old"] == events
    assert sandbox.stats.list_requests >= 38
    assert sandbox.stats.rate_limited == 0


# -- errors ---------------------------------------------------------------------------------


def test_not_an_administrator_is_permission_denied_with_the_platforms_reason(scripted):
    with (
        SandboxServer(events=20, admin=False) as server,
        client_for(server) as client,
        pytest.raises(PermissionDeniedError) as caught,
    ):
        collect(client)
    assert str(caught.value) == (
        'Access denied (HTTP 403): "Audit logs are available to administrators only". This API '
        "client must be an administrator, with the audit log enabled for the tenant."
    )
    scripted.script(LOGIN_OK, (403, b""))
    with client_for(scripted) as client, pytest.raises(PermissionDeniedError) as caught:
        collect(client)
    assert "not an administrator, or the audit log feature is not enabled" in str(caught.value)


def test_sandbox_answers_400_above_1000_and_the_client_refuses_such_a_page_size(sandbox):
    with requests.Session() as http:
        login = http.post(
            f"{sandbox.url}/authentication/login",
            json={"clientId": sandbox.client_id, "secret": sandbox.secret},
            timeout=10,
        )
        answer = http.get(
            f"{sandbox.url}/audit-logs",
            params={"limit": 1001},
            headers={"Authorization": f"Bearer {login.json()['accessToken']}"},
            timeout=10,
        )
    assert answer.status_code == 400
    assert "limit" in answer.json()["message"]
    for size in (0, 1001):
        with pytest.raises(ValueError, match="page size"):
            PlatformClient(sandbox.url, "id", SECRET, page_size=size)


def test_400_carries_the_server_message(scripted):
    scripted.script(LOGIN_OK, (400, {"message": "start_time must be within 90 days"}))
    with client_for(scripted) as client, pytest.raises(BadRequestError) as caught:
        collect(client)
    assert caught.value.server_message == "start_time must be within 90 days"
    assert "start_time must be within 90 days" in str(caught.value)


def test_malformed_json_from_the_sandbox():
    with (
        SandboxServer(events=1500, faults=Faults(malformed_every=2)) as server,
        client_for(server) as client,
        pytest.raises(MalformedResponseError, match="JSON"),
    ):
        collect(client)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ((200, b"<html>login page</html>"), "not JSON"),
        ((200, [1, 2]), "not a JSON object"),
        ((200, {"metadata": {"after": None}}), "no 'data'"),
        ((200, {"data": {"id": "x"}}), "'data' is not a list"),
        ((200, {"data": ["x"]}), "not an object"),
        ((200, {"data": [], "metadata": ["after"]}), "'metadata' is not an object"),
        ((200, {"data": [], "metadata": {"after": 7}}), "not a string"),
        ((404, {"message": "Not Found"}), "unexpected HTTP 404"),
        ((302, b"", {"Location": "https://elsewhere.example/"}), "redirect"),
    ],
)
def test_broken_responses_are_malformed(scripted, answer, problem):
    scripted.script(LOGIN_OK, answer)
    with client_for(scripted) as client, pytest.raises(MalformedResponseError, match=problem):
        collect(client)


def test_login_without_a_token_is_malformed(scripted):
    scripted.script((200, {"token": "wrong-field"}))
    with client_for(scripted) as client, pytest.raises(MalformedResponseError, match="token"):
        client.login()


def test_absent_metadata_ends_paging(scripted):
    scripted.script(LOGIN_OK, (200, {"data": [{"id": "a"}]}))
    with client_for(scripted) as client:
        assert collect(client) == [{"id": "a"}]


def test_duplicates_across_pages_are_passed_through():
    with SandboxServer(events=300, faults=Faults(repeat_across_pages=True)) as server:
        with client_for(server, page_size=20) as client:
            served = ids(collect(client))
        assert len(served) > len(set(served))  # the sync engine deduplicates, not the client
        assert list(dict.fromkeys(served)) == ids(server.all_events())


# -- URLs and TLS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://api.jit.io", "http://10.0.0.5:8080", "ftp://api.jit.io", "api.jit.io", "https://"],
)
def test_insecure_or_invalid_urls_are_refused(url):
    with pytest.raises(InsecureURLError) as caught:
        PlatformClient(url, "id", SECRET)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://api.jit.io/", "https://api.jit.io"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("HTTPS://Example.com/api/", "https://Example.com/api"),
    ],
)
def test_https_and_loopback_http_are_accepted(url, base):
    with PlatformClient(url, "id", SECRET) as client:
        assert client.base_url == base


def test_tls_failure_is_server_unavailable_and_not_retried(sandbox, tmp_path):
    """Speaking TLS to a plain-HTTP port fails the handshake; retrying cannot heal that."""
    https_url = sandbox.url.replace("http://", "https://")
    with (
        PlatformClient(https_url, "id", SECRET, retries=3, backoff_factor=0.01) as client,
        pytest.raises(ServerUnavailableError, match="TLS"),
    ):
        client.login()
    with pytest.raises(PlatformError, match="CA bundle"):
        PlatformClient("https://api.jit.io", "id", SECRET, ca_bundle=str(tmp_path / "none.pem"))


# -- secrets --------------------------------------------------------------------------------


def test_secret_and_token_never_leak(scripted, caplog):
    """Not in logs, reprs or any error text, even when a server echoes them back."""
    caplog.set_level(logging.DEBUG)
    raised: list[BaseException] = []
    clients: list[PlatformClient] = []

    def attempt(client: PlatformClient, action: Any = collect) -> None:
        clients.append(client)
        with client:
            try:
                action(client)
            except PlatformError as error:
                raised.append(error)

    with SandboxServer(events=300, secret=SECRET) as server:
        attempt(client_for(server, page_size=100))
        sandbox_token = clients[-1]._token  # only to search for it below
        attempt(PlatformClient(server.url, server.client_id, SECRET + "x"), PlatformClient.login)
        server.revoke_tokens()
        server.faults.server_error_every = 1
        attempt(client_for(server, retries=1))
    with SandboxServer(events=20, secret=SECRET, faults=Faults(token_ttl=0.0)) as server:
        attempt(client_for(server))
    with SandboxServer(events=20, secret=SECRET, admin=False) as server:
        attempt(client_for(server))
    echo = f"bad request from secret {SECRET} with token {TOKEN}"
    scripted.script(LOGIN_OK, (400, {"message": echo}))
    attempt(client_for(scripted))
    scripted.script((401, {"message": f"no client has the secret {SECRET}"}))
    attempt(client_for(scripted), PlatformClient.login)
    scripted.script(LOGIN_OK, (200, b"not json"))
    attempt(client_for(scripted))
    attempt(PlatformClient(f"http://127.0.0.1:{free_port()}", "id", SECRET, retries=0))

    assert len(raised) == 8
    assert sandbox_token
    texts = [caplog.text]
    texts += [text for client in clients for text in (str(client), repr(client))]
    for error in raised:
        chain: BaseException | None = error
        while chain is not None:
            texts += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__
    for text in texts:
        for secret in (SECRET, TOKEN, sandbox_token):
            assert secret not in text
