"""A real HTTP server on loopback that speaks the platform contract, faults included.

It serves the demo (``audit-viewer --demo`` / ``audit-viewer sandbox``), the tests, and anyone
trying the app without credentials. It follows ``shared/platform-api.md`` to the letter so the
client is tested against the same behaviour an independent server shows.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import random
import secrets
import socket
import socketserver
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from audit_viewer.events import parse_timestamp
from audit_viewer.sandbox.data import (
    RETENTION_MS,
    Entry,
    EventIndex,
    Fields,
    SyntheticEvents,
    ms_to_iso,
    to_ms,
    ulid,
)

log = logging.getLogger(__name__)

LOGIN_PATH = "/authentication/login"
LIST_PATH = "/audit-logs"
MAX_LIMIT = 1000
#: The platform's limit: more list requests than this in any 1 s window answer 429.
RATE_LIMIT_PER_SECOND = 10
DEFAULT_TOKEN_TTL = 24 * 3600.0
SERVER_ERRORS = (500, 502, 503, 504)
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream hiccup</body></html>"


#: A sample of what hostile servers send (``audit-viewer sandbox --poison``): events with
#: poisoned times (Go's zero time, the year 9999, the Unix epoch), text no column can store
#: (NUL, a lone surrogate escape, invalid UTF-8 bytes), and entries no event can be made of.
POISON_SAMPLE: tuple[bytes, ...] = (
    b'{"id":"poison-go-zero","created_at":"0001-01-01T00:00:00Z","action":"Ticket created",'
    b'"user_name":"gopher"}',
    b'{"id":"poison-9999","created_at":"9999-12-31T23:59:59.999Z","action":"Ticket created"}',
    b'{"id":"poison-epoch","created_at":"1970-01-01T00:00:00Z","action":"Findings exported"}',
    b'{"id":"poison-nul","created_at":"2026-11-20T10:00:00Z","action":"Ticket created",'
    b'"description":"before\\u0000after"}',
    b'{"id":"poison-surrogate","created_at":"2026-11-20T11:00:00Z","action":"Ticket created",'
    b'"description":"lone \\ud800 surrogate"}',
    b'{"id":"poison-bytes","created_at":"2026-11-20T12:00:00Z","action":"Ticket created",'
    b'"description":"invalid \xff\xfe UTF-8"}',
    b'{"created_at":"2026-11-20T13:00:00Z","action":"an entry without an id"}',
    b'{"id":"poison-bad-time","created_at":"yesterday","action":"Ticket created"}',
)


@dataclass
class Faults:
    """Misbehaviour on demand. Counters are over list requests, starting at 1.

    Fields may be changed while the server runs; each request reads them afresh.
    """

    rate_limit_every: int = 0  # every Nth list request answers 429 with Retry-After
    # Seconds in that Retry-After header; HTTP allows whole seconds only, so rounded up.
    retry_after: float = 1.0
    server_error_every: int = 0  # every Nth list request answers 500, 502, 503, 504 in turn
    token_ttl: float | None = None  # seconds a token lives (then 401); None = 24 h
    slow_page_seconds: float = 0.0  # sleep before answering each list page
    enforce_rate_limit: bool = True  # >10 list requests in any 1 s window -> 429, counted
    malformed_every: int = 0  # every Nth list request answers 200 with an HTML body
    # Some pages start with the last event of the previous page again (as when events are
    # added while paging), so clients must deduplicate by id.
    repeat_across_pages: bool = False
    # Hostile events: JSON texts, as bytes sent verbatim (invalid UTF-8, lone surrogate escapes,
    # NUL escapes, absurd nesting, poisoned timestamps), spliced at the front of the ``data``
    # array of every range's first page, whatever their ``created_at`` says. Repeats across
    # ranges are harmless: clients deduplicate by id.
    raw_events: list[bytes] = field(default_factory=list)
    # Every list request answers 403 with this ``{"message": ...}`` (a tenant without the
    # feature, say); None serves normally. ``admin=False`` answers 403 with the stock reason.
    forbidden_message: str | None = None
    # Paging that never ends, as broken servers do it. Cursors cycle A -> B -> A -> ...
    # from a range's third page on:
    cycle_cursors: bool = False
    # Every page is the range's first page again, under a fresh cursor each time:
    repeat_page_forever: bool = False
    # The range's last page is not the last: empty pages with fresh cursors follow forever.
    empty_pages_forever: bool = False
    # List pages' bodies go out one byte at a time, this many seconds apart (headers at once),
    # as from a stalled proxy: each read gets a byte in time, the answer never ends.
    trickle_seconds: float = 0.0
    # Every Nth list request gets its headers (the full Content-Length) and half the body,
    # then the connection closes.
    drop_mid_body_every: int = 0


@dataclass
class ServerStats:
    """What the server saw, for tests and the demo."""

    logins: int = 0
    failed_logins: int = 0
    list_requests: int = 0
    unauthorized: int = 0  # list requests answered 401
    rate_limited: int = 0  # 429s because the client was too fast (not injected faults)
    faults_injected: int = 0
    arrivals: list[float] = field(default_factory=list)  # time.time() of every list request


class _Reply(Exception):
    """Raised inside request handling to answer with an error status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _splice_events(page: bytes, events: list[bytes]) -> bytes:
    """``page`` (our own compact JSON, ``{"data":[...``) with ``events`` first in its data."""
    head = b'{"data":['
    assert page.startswith(head), "the page layout changed"
    rest = page[len(head) :]
    joined = b",".join(events)
    return head + joined + (rest if rest.startswith(b"]") else b"," + rest)


def encode_cursor(ms: int, event_id: str, **extra: str | int) -> str:
    """A cursor resuming after ``(ms, id)``; ``extra`` fields serve the paging faults."""
    raw = json.dumps({"t": ms_to_iso(ms), "i": event_id, **extra}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_fields(cursor: str) -> dict[str, Any]:
    """A cursor's JSON fields, or a 400 for one this server never issued."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _Reply(400, "after is not a cursor this server issued") from None
    if not isinstance(value, dict):
        raise _Reply(400, "after is not a cursor this server issued")
    return value


def decode_cursor(cursor: str) -> tuple[int, str]:
    value = _cursor_fields(cursor)
    try:
        return to_ms(parse_timestamp(value["t"])), str(value["i"])
    except (ValueError, OverflowError, KeyError, TypeError, AttributeError):
        raise _Reply(400, "after is not a cursor this server issued") from None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on odd resolvers.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real platform
    # Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms
    # for the client's delayed ACK, which made every loopback page 20x slower than it is.
    disable_nagle_algorithm = True
    server_version = "AuditSandbox/1.0"
    timeout = 30  # idle keep-alive connections close after this
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.sandbox._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.sandbox._handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s - %s", self.address_string(), format % args)

    def reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drop_mid_body(self, body: bytes, content_type: str) -> None:
        """Promise ``body`` in the headers, send half of it and hang up."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def trickle(self, body: bytes, content_type: str, seconds: float) -> None:
        """Answer 200 with ``body`` sent one byte every ``seconds``, until the client leaves."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes((byte,)))
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:  # the client gave up: what this fault is for
            self.close_connection = True


class SandboxServer:
    """The platform's audit-log API on 127.0.0.1 with synthetic events from ``seed``."""

    def __init__(
        self,
        *,
        events: int = 5000,
        seed: int = 1,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        now: Callable[[], datetime] | None = None,
        client_id: str = "demo-client",
        secret: str = "demo-secret",
        admin: bool = True,
        default_limit: int = 100,
    ) -> None:
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self.client_id = client_id
        self.secret = secret
        self.admin = admin
        self.default_limit = default_limit
        self.stats = ServerStats()
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._synthetic = SyntheticEvents(events, seed)
        self._index = EventIndex(self._synthetic, to_ms(self._now()))
        self._next_index = events  # generation indices for make_event
        self._id_rng = random.Random(seed ^ 0x5EED)
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._arrivals: deque[float] = deque()  # served list requests, for the rate limit
        self._error_turn = 0
        self._fresh = 0  # numbers the fresh cursors of the endless-paging faults
        self._lifecycle = threading.Lock()  # start/stop may come from different threads
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r}, events={len(self._index)})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Listen and serve in a daemon thread; ``url`` holds the real port afterwards."""
        with self._lifecycle:
            if self._httpd is not None:
                return self
            httpd = _HTTPServer((self.host, self.port), self)
            self.port = httpd.server_address[1]
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"sandbox-{self.port}",
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
        log.info("Sandbox platform listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice and from any thread."""
        with self._lifecycle:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.server_close()
        thread.join()

    def serve_forever(self) -> None:
        """Serve in the foreground until Ctrl+C or stop() (what ``audit-viewer sandbox`` does)."""
        self.start()
        thread = self._thread
        try:
            while thread is not None and thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test and demo helpers ---------------------------------------------------------------

    def all_events(self) -> list[Fields]:
        """Every event inside retention now, in the order the API serves them."""
        with self._lock:
            now_ms = to_ms(self._now())
            first, stop = self._index.bounds(now_ms - RETENTION_MS, 2**62)
            return list(self._index.iter_events(first, stop))

    def add_events(self, events: list[Fields]) -> None:
        """Make events visible from now on, e.g. late ones with a ``created_at`` in the past."""
        with self._lock:
            self._index.add(events)

    def make_event(self, created_at: datetime, **fields: Any) -> Fields:
        """A realistic event at ``created_at`` with a fresh id (not added; see add_events)."""
        ms = to_ms(created_at)
        with self._lock:
            index = self._next_index
            self._next_index += 1
            event_id = ulid(ms, self._id_rng)
        event = self._synthetic.event(index, ms, event_id)
        event.update(fields)
        return event

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on."""
        with self._lock:
            self._tokens.clear()

    # -- request handling --------------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        path = urlsplit(handler.path).path
        try:
            body = self._read_body(handler)
            if path == LOGIN_PATH:
                self._require_method(method, "POST")
                self._send_json(handler, 200, self._login(body))
            elif path == LIST_PATH:
                self._require_method(method, "GET")
                self._list(handler)
            else:
                raise _Reply(404, f"No such endpoint: {path}")
        except _Reply as reply:
            self._send_json(handler, reply.status, {"message": reply.message}, reply.headers)

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.close_connection = True
            raise _Reply(400, "Content-Length is not a number") from None
        return handler.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _require_method(method: str, allowed: str) -> None:
        if method != allowed:
            raise _Reply(405, f"Use {allowed} here", {"Allow": allowed})

    @staticmethod
    def _send_json(
        handler: _Handler, status: int, value: Any, headers: dict[str, str] | None = None
    ) -> None:
        handler.reply(status, _json_bytes(value), JSON_CONTENT_TYPE, headers or {})

    def _login(self, body: bytes) -> dict[str, str]:
        try:
            credentials = json.loads(body or b"null")
        except ValueError:
            raise _Reply(400, "The body is not JSON") from None
        ok = (
            isinstance(credentials, dict)
            and secrets.compare_digest(str(credentials.get("clientId", "")), self.client_id)
            and secrets.compare_digest(str(credentials.get("secret", "")), self.secret)
        )
        with self._lock:
            if not ok:
                self.stats.failed_logins += 1
                raise _Reply(401, "Invalid client credentials")
            self.stats.logins += 1
            ttl = DEFAULT_TOKEN_TTL if self.faults.token_ttl is None else self.faults.token_ttl
            token = self._new_token(ttl)
            self._tokens[token] = time.monotonic() + ttl
        return {"accessToken": token}

    def _new_token(self, ttl: float) -> str:
        """An opaque JWT-shaped token (the platform issues JWTs; clients must not parse them)."""

        def part(value: dict[str, Any]) -> str:
            raw = json.dumps(value, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        issued = int(time.time())
        claims = {
            "sub": self.client_id,
            "iat": issued,
            "exp": issued + int(ttl),
            "jti": secrets.token_hex(8),
        }
        return ".".join(
            (part({"alg": "HS256", "typ": "JWT"}), part(claims), secrets.token_urlsafe(32))
        )

    def _list(self, handler: _Handler) -> None:
        with self._lock:
            self.stats.list_requests += 1
            self.stats.arrivals.append(time.time())
            number = self.stats.list_requests
            self._enforce_rate_limit()
            self._authorize(handler.headers.get("Authorization", ""))
            if not self.admin:
                raise _Reply(403, "Audit logs are available to administrators only")
            if self.faults.forbidden_message is not None:
                self.stats.faults_injected += 1
                raise _Reply(403, self.faults.forbidden_message)
            query = self._parse_query(handler.path)
            self._inject_status_fault(number)
            if self._every(self.faults.malformed_every, number):
                self.stats.faults_injected += 1
                body, content_type = _MALFORMED_BODY, "text/html"
            else:
                page = self._endless_paging(self._page(*query), *query, handler.path)
                body, content_type = _json_bytes(page), JSON_CONTENT_TYPE
                if query[2] is None and self.faults.raw_events:
                    body = _splice_events(body, self.faults.raw_events)
            delay = self.faults.slow_page_seconds
            trickle = self.faults.trickle_seconds
            drop = self._every(self.faults.drop_mid_body_every, number)
            if drop:
                self.stats.faults_injected += 1
        if delay > 0:
            time.sleep(delay)
        if drop:
            handler.drop_mid_body(body, content_type)
        elif trickle > 0:
            handler.trickle(body, content_type, trickle)
        else:
            handler.reply(200, body, content_type, {})

    @staticmethod
    def _every(every: int, number: int) -> bool:
        return every > 0 and number % every == 0

    def _enforce_rate_limit(self) -> None:
        if not self.faults.enforce_rate_limit:
            return
        now = time.monotonic()
        while self._arrivals and self._arrivals[0] <= now - 1.0:
            self._arrivals.popleft()
        if len(self._arrivals) >= RATE_LIMIT_PER_SECOND:
            self.stats.rate_limited += 1
            wait = max(1, math.ceil(self._arrivals[0] + 1.0 - now))
            raise _Reply(429, "Too many requests", {"Retry-After": str(wait)})
        self._arrivals.append(now)

    def _authorize(self, header: str) -> None:
        scheme, _, token = header.partition(" ")
        expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or expiry <= time.monotonic():
            self.stats.unauthorized += 1
            raise _Reply(401, "The access token is missing, expired or revoked")

    def _inject_status_fault(self, number: int) -> None:
        if self._every(self.faults.rate_limit_every, number):
            self.stats.faults_injected += 1
            seconds = str(max(0, math.ceil(self.faults.retry_after)))
            raise _Reply(429, "Too many requests", {"Retry-After": seconds})
        if self._every(self.faults.server_error_every, number):
            self.stats.faults_injected += 1
            status = SERVER_ERRORS[self._error_turn % len(SERVER_ERRORS)]
            self._error_turn += 1
            raise _Reply(status, HTTPStatus(status).phrase)

    def _parse_query(self, target: str) -> tuple[int, int, tuple[int, str] | None, int]:
        """``start_time``, ``end_time``, ``after`` and ``limit`` -> (start, end, cursor, limit)."""
        params = {key: values[0] for key, values in parse_qs(urlsplit(target).query).items()}
        now_ms = to_ms(self._now())
        floor = now_ms - RETENTION_MS
        start_ms, end_ms = floor, now_ms
        for name in ("start_time", "end_time"):
            if name not in params:
                continue
            try:
                value = to_ms(parse_timestamp(params[name]))
            except (ValueError, OverflowError):
                raise _Reply(400, f"{name} is not an ISO 8601 timestamp") from None
            if name == "start_time":
                start_ms = max(value, floor)
            else:
                end_ms = value
        limit_text = params.get("limit", str(self.default_limit))
        try:
            limit = int(limit_text)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise _Reply(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
        cursor = decode_cursor(params["after"]) if "after" in params else None
        return start_ms, end_ms, cursor, limit

    def _endless_paging(
        self,
        page: dict[str, Any],
        start_ms: int,
        end_ms: int,
        cursor: tuple[int, str] | None,
        limit: int,
        target: str,
    ) -> dict[str, Any]:
        """``page`` as the endless-paging faults (if any) change it."""
        faults = self.faults
        metadata = page["metadata"]
        if faults.repeat_page_forever:
            page = self._page(start_ms, end_ms, None, limit)
            page["metadata"]["after"] = self._fresh_cursor(start_ms)
        elif faults.empty_pages_forever and metadata["after"] is None:
            metadata["after"] = self._fresh_cursor(start_ms)  # resumes past the range's end
        elif faults.cycle_cursors and cursor is not None and metadata["after"] is not None:
            # The second page's cursor A leads to B, and B leads back to A.
            previous = parse_qs(urlsplit(target).query)["after"][0]
            back = _cursor_fields(previous).get("b")
            if isinstance(back, str):
                metadata["after"] = back
            else:
                metadata["after"] = encode_cursor(*decode_cursor(metadata["after"]), b=previous)
        return page

    def _fresh_cursor(self, start_ms: int) -> str:
        """A cursor never issued before, resuming past every event of a range from start_ms."""
        self._fresh += 1
        return encode_cursor(start_ms - 1, "", n=self._fresh)

    def _page(
        self, start_ms: int, end_ms: int, cursor: tuple[int, str] | None, limit: int
    ) -> dict[str, Any]:
        first, stop = self._index.bounds(start_ms, end_ms)
        repeated: list[Entry] = []
        if cursor is not None:
            after = self._index.position_after(*cursor)
            if (
                self.faults.repeat_across_pages
                and limit > 1
                and zlib.crc32(cursor[1].encode()) % 2 == 0
                and first <= after - 1 < stop
                and self._index.entry(after - 1).id == cursor[1]
            ):
                repeated = [self._index.entry(after - 1)]
            first = max(first, after)
        end = min(stop, first + limit - len(repeated))
        entries = repeated + self._index.entries(first, end)
        last = entries[-1] if end < stop and entries else None
        return {
            "data": [self._index.materialize(entry) for entry in entries],
            "metadata": {
                "count": len(entries),
                "after": encode_cursor(last.ms, last.id) if last else None,
            },
        }
