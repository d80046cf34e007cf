"""The platform client: login, paging and error handling of the audit-log API.

It speaks exactly ``shared/platform-api.md``: one ``requests.Session`` per profile, a token
reused until the platform refuses it, retries of 429/5xx through urllib3's ``Retry`` on the
session's adapter (and of bodies that stall or break off, here), a deadline per request, a
bound on the sum of all waits, a client-side cap on the request rate, and typed errors whose
text an administrator understands. The secret and the token are never logged, shown or put
in errors.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from audit_viewer import __version__, logs, urls
from audit_viewer.api.abort import Aborter
from audit_viewer.api.errors import (
    AuthenticationError,
    BadRequestError,
    InsecureURLError,
    MalformedResponseError,
    PermissionDeniedError,
    PlatformError,
    ServerUnavailableError,
)
from audit_viewer.api.ratelimit import RateLimiter, SharedRateLimiter
from audit_viewer.events import format_timestamp

log = logging.getLogger(__name__)

#: Hosts that may be reached over plain ``http://`` (the sandbox and tests).
MAX_PAGE_SIZE = 1000
#: Statuses the contract calls transient: retried by urllib3, then a ServerUnavailableError.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# A 401 straight after a new login is the contract's "second 401": the platform refuses the
# client itself. One that comes only after the repeated call sat out 429/5xx retries may just be
# the new token expiring meanwhile, so the client logs in again, a bounded number of times.
MAX_LOGINS_PER_CALL = 3

LOGIN_PATH = "/authentication/login"
LIST_PATH = "/audit-logs"

_BACKOFF_MAX = 30.0
#: Bytes asked for per read of a body: any that have arrived are taken, so a stalled body
#: cannot hold one read for long.
_READ_CHUNK = 1 << 16
_MESSAGE_LIMIT = 300
#: The 403 reason shares its line with our hint, which must fit the cache's last_error too.
_REASON_LIMIT = 180


@dataclass(frozen=True)
class Page:
    """One page of the list call, as the server sent it."""

    events: list[dict[str, Any]]  # raw event dicts, unknown fields kept
    after: str | None  # next cursor; None on the last page


class _Waits:
    """The waits sat out for the platform (Retry-After, backoff), summed and bounded.

    Each wait is capped, but a platform answering 429 to every request would still park a sync
    for hours; past ``limit`` seconds in all (over the client's life, which is one sync) the
    client stops asking.
    """

    def __init__(self, limit: float, base_url: str, aborter: Aborter, retries: int) -> None:
        self.limit = limit
        self.total = 0.0
        self._base_url = base_url
        self._lock = threading.Lock()
        self._aborter = aborter
        #: Told (seconds, retry number, ``retries``) before each wait for a retry.
        self.on_retry: Callable[[float, int, int], None] | None = None
        self.retries = retries

    def check_aborted(self) -> None:
        self._aborter.check()

    def retry(self, seconds: float, number: int) -> None:
        """Wait before retry ``number``, saying so first (the window shows it)."""
        if self.on_retry is not None:
            self.on_retry(seconds, number, self.retries)
        self.sleep(seconds)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or raise at once if that would pass the limit."""
        with self._lock:
            if self.total + seconds > self.limit:
                raise ServerUnavailableError(
                    "Stopped: the platform kept asking to wait (rate limiting or server errors "
                    f"at {self._base_url}), more than {self.limit:g} s in all. Try again later."
                )
            self.total += seconds
        self._aborter.check()
        if seconds > 0:
            self._aborter.wait(seconds)  # a cancelled sync does not sit out a Retry-After


class _PlatformRetry(Retry):
    """urllib3's ``Retry`` adjusted to the contract.

    - ``Retry-After`` is capped at ``max_retry_after`` (the contract says "capped"; a
      misbehaving server must not park a sync for hours) and may be fractional.
    - Backoff starts at the first failure (urllib3 retries it at once), with jitter.
    - Every retry passes the client's rate limiter, since the platform counts retries too.
    - Every wait counts against the client's total (``_Waits``).
    """

    def __init__(
        self,
        *args: Any,
        limiter: RateLimiter | None = None,
        max_retry_after: float = 60.0,
        waits: _Waits,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = limiter
        self.max_retry_after = max_retry_after
        self.waits = waits

    def new(self, **kw: Any) -> Self:
        return super().new(
            limiter=self.limiter, max_retry_after=self.max_retry_after, waits=self.waits, **kw
        )

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = float(retry_after)
        except ValueError:
            try:
                seconds = super().parse_retry_after(retry_after)  # an HTTP date
            except InvalidHeader:
                return 0.0  # unreadable: fall back to exponential backoff
        if math.isnan(seconds):
            return 0.0
        return min(max(seconds, 0.0), self.max_retry_after)

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        self.waits.check_aborted()  # an abandoned request is not retried
        return super().increment(*args, **kwargs)

    def get_backoff_time(self) -> float:
        return _backoff(len(self.history), self.backoff_factor)

    def sleep(self, response: Any = None) -> None:
        seconds = self.get_retry_after(response) if response is not None else None
        if not seconds:
            seconds = self.get_backoff_time()
        self.waits.retry(seconds, len(self.history))
        if self.limiter is not None:
            self.limiter.acquire()


class _BodyFailure(Exception):
    """Internal: the body did not arrive whole; retried like a 5xx."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem  # what the platform did, for the error after the last retry


def _backoff(failures: int, factor: float) -> float:
    """Seconds before retry number ``failures``: exponential with jitter, from the first."""
    if failures == 0:
        return 0.0
    delay = factor * 2.0 ** (failures - 1) + random.random() * factor
    return min(_BACKOFF_MAX, delay)


def _window(start: datetime | None, end: datetime | None) -> str:
    """`` from <start> to <end> UTC`` for the error texts, as far as the window is bounded."""
    parts = [
        f"{word} {moment.astimezone(UTC):%Y-%m-%d %H:%M}"
        for word, moment in (("from", start), ("to", end))
        if moment is not None
    ]
    return " " + " ".join(parts) + " UTC" if parts else ""


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash, or InsecureURLError (see :mod:`audit_viewer.urls`)."""
    try:
        return urls.check_base_url(url)
    except urls.BadURLError as exc:
        raise InsecureURLError(str(exc)) from None


def _was_retried(response: requests.Response) -> bool:
    """Whether urllib3 retried this request (429/5xx) before the answer came."""
    retries = getattr(response.raw, "retries", None)
    return bool(retries is not None and retries.history)


def _utc_param(value: datetime, name: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return format_timestamp(value)


def _connection_problem(exc: requests.RequestException) -> str:
    """What went wrong on the wire, in words, without requests' internal object dumps."""
    reason: object = exc.args[0] if exc.args else exc
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            "the secure (TLS) connection failed, for example because its certificate could "
            "not be verified (for a private certificate authority, set the profile's CA bundle)"
        )
    if isinstance(reason, NameResolutionError):
        return "the host name could not be resolved"
    if isinstance(reason, NewConnectionError):
        return "the connection was refused or the host is unreachable"
    if isinstance(reason, ConnectTimeoutError) or isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(reason, ReadTimeoutError) or isinstance(exc, requests.ReadTimeout):
        return "it did not answer in time"
    if isinstance(reason, ProtocolError):
        return "the connection was dropped"
    return f"the request failed ({type(exc).__name__})"


class PlatformClient:
    """Talks to one platform tenant with one API client (a profile)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        *,
        page_size: int = 1000,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] = (10, 60),
        max_requests_per_second: float = 10.0,
        retries: int = 5,
        connect_retries: int = 2,
        max_retry_after: float = 60.0,
        backoff_factor: float = 0.5,
        limiter: RateLimiter | None = None,
        request_deadline: float = 120.0,
        max_total_wait: float = 300.0,
    ) -> None:
        self.base_url = check_base_url(base_url)
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        if ca_bundle and not os.path.exists(ca_bundle):
            raise PlatformError(f"The CA bundle {ca_bundle} does not exist.")
        self.client_id = client_id
        self._secret = secret
        logs.redact.add(secret)  # whatever logs or shows an error from now on masks it
        self._token: str | None = None
        self.page_size = page_size
        self.timeout = timeout
        self.retries = retries
        self.request_deadline = request_deadline
        self._backoff_factor = backoff_factor
        self._verify: str | bool = ca_bundle or True  # never False
        # The limit is the tenant's: by default shared with this user's other processes. An
        # injected limiter brings its own rate, so max_requests_per_second does not apply then.
        self._limiter = (
            limiter
            if limiter is not None
            else SharedRateLimiter(self.base_url, client_id, max_requests_per_second)
        )
        self._aborter = Aborter()
        self._waits = _Waits(max_total_wait, self.base_url, self._aborter, retries)
        retry = _PlatformRetry(
            total=retries,
            # A refused or unanswered connection is not a busy server: two quick retries (a
            # restart), then the admin hears it within seconds instead of after 20 s of backoff.
            connect=min(connect_retries, retries),
            read=retries,
            status=retries,
            other=0,  # TLS and other errors will not heal by retrying
            # Login is safe to repeat (it only issues a token), so POST retries too.
            allowed_methods=frozenset({"GET", "POST"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,  # hand back the last 429/5xx so the error can name it
            limiter=self._limiter,
            max_retry_after=max_retry_after,
            waits=self._waits,
        )
        self._session = requests.Session()
        adapter = self._aborter.adapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = f"audit-viewer/{__version__}"
        self._session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"PlatformClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    @property
    def on_retry(self) -> Callable[[float, int, int], None] | None:
        """Called (seconds to wait, retry number, retries allowed) before each retry."""
        return self._waits.on_retry

    @on_retry.setter
    def on_retry(self, callback: Callable[[float, int, int], None] | None) -> None:
        self._waits.on_retry = callback

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def abort(self) -> None:
        """Abandon the request in flight and every later one (from any thread): each raises
        :class:`RequestAborted` at once, a blocked read included, until :meth:`resume`."""
        self._aborter.abort()

    def resume(self) -> None:
        """Send requests again after :meth:`abort` (the next sync run)."""
        self._aborter.resume()

    def login(self) -> None:
        """Exchange the client id and secret for an access token, kept for later calls."""
        response = self._send(
            "POST",
            LOGIN_PATH,
            "the login",
            payload={"clientId": self.client_id, "secret": self._secret},
        )
        if response.status_code == 401:
            detail = self._server_message(response)
            raise AuthenticationError(
                "The platform rejected the client ID and secret"
                + (f" ({detail})" if detail else "")
                + ". Check the profile's client ID and secret.",
                status=401,
            )
        if response.status_code != 200:
            raise self._status_error(response, "the login")
        body = self._json(response, "the login")
        token = body.get("accessToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError(
                "The platform's answer to the login holds no access token."
            )
        self._token = token
        logs.redact.add(token)
        log.info("Logged in to %s as client %s", self.base_url, self.client_id)

    def iter_pages(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Page]:
        """Yield the pages of ``[start, end)`` newest first, following ``metadata.after``.

        No deduplication here: a page may repeat an event, and the sync engine upserts by id.
        Nor loop detection: the sync engine stops a server that pages without end.
        """
        params: dict[str, str | int] = {}
        if start is not None:
            params["start_time"] = _utc_param(start, "start")
        if end is not None:
            params["end_time"] = _utc_param(end, "end")
        params["limit"] = self.page_size
        window = _window(start, end)
        after: str | None = None
        number = 0
        while True:
            query = params if after is None else {**params, "after": after}
            number += 1
            page = self._parse_page(self._list(query, f"page {number} of the audit log{window}"))
            log.debug("Page %d: %d events, more: %s", number, len(page.events), bool(page.after))
            yield page
            if page.after is None:
                return
            after = page.after

    # -- internals -------------------------------------------------------------------------

    def _list(self, params: dict[str, str | int], what: str) -> Any:
        """One list call, logging in first, or again when the token is refused."""
        if self._token is None:
            self.login()
        response = self._send("GET", LIST_PATH, what, params=params, token=self._token)
        logins = 0
        while response.status_code == 401:
            if logins and (not _was_retried(response) or logins == MAX_LOGINS_PER_CALL):
                raise AuthenticationError(
                    "The platform refused a freshly issued access token (HTTP 401). The API "
                    "client may have been disabled or lost its access; check it on the platform.",
                    status=401,
                )
            log.info("The platform refused the access token (expired or revoked); logging in again")
            self.login()
            logins += 1
            response = self._send("GET", LIST_PATH, what, params=params, token=self._token)
        if response.status_code != 200:
            raise self._status_error(response, what)
        return self._json(response, what)

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, str | int] | None = None,
        payload: dict[str, str] | None = None,
        token: str | None = None,
    ) -> requests.Response:
        """One request with its whole body, plus retries; each attempt passes the limiter.

        urllib3 retries 429/5xx and failed connections; an answer whose body stalls past the
        deadline or breaks off is retried here, with the same backoff, as transient too.
        """
        headers = {"Authorization": f"Bearer {token}"} if token else None
        failures = 0
        while True:
            self._aborter.check()
            self._limiter.acquire()
            try:
                return self._attempt(method, path, params, payload, headers)
            except _BodyFailure as failure:
                self._aborter.check()  # cut off by an abort, not by the platform
                if failures == self.retries:
                    raise ServerUnavailableError(
                        f"The platform at {self.base_url} {failure.problem} ({what}), also "
                        f"after {self.retries} retries. Try again later."
                    ) from None
                failures += 1
                log.info("Retrying %s: the platform %s", what, failure.problem)
                self._waits.retry(_backoff(failures, self._backoff_factor), failures)

    def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, str | int] | None,
        payload: dict[str, str] | None,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        """One request whose whole answer must arrive within ``request_deadline``.

        The read timeout bounds each read only: a body trickling a byte at a time would never
        end. The deadline is checked while the body arrives; the headers have the read timeout.
        Waits for urllib3's retries inside the attempt do not count (``_Waits`` bounds them).
        """
        deadline = time.monotonic() + self.request_deadline
        waited = self._waits.total
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                json=payload,
                headers=headers,
                timeout=self.timeout,
                verify=self._verify,  # explicit, so no environment variable can loosen it
                allow_redirects=False,  # never carry the secret or token to another address
                stream=True,  # the body is read below, against the deadline
            )
        except requests.RequestException as exc:
            self._aborter.check()  # the abort shut the connection down
            raise ServerUnavailableError(
                f"Could not reach the platform at {self.base_url}: {_connection_problem(exc)}."
            ) from exc
        deadline += self._waits.total - waited
        try:
            # Where requests keeps a body it read itself, so .content, .text and .json() work.
            response._content = self._read_body(response.raw, deadline)
            response._content_consumed = True  # type: ignore[attr-defined]
        finally:
            response.close()  # back to the pool when read whole, else the connection is closed
        return response

    def _read_body(self, raw: Any, deadline: float) -> bytes:
        """The body of ``raw`` (urllib3's response), or _BodyFailure past the deadline."""
        late = _BodyFailure(f"did not finish its answer within {self.request_deadline:g} s")
        body = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise late
            connection = raw.connection  # None once urllib3 has released it
            if connection is not None and connection.sock is not None:
                connection.sock.settimeout(min(remaining, self.timeout[1]))
            try:
                chunk = raw.read1(_READ_CHUNK, decode_content=True)
            except ReadTimeoutError:
                if time.monotonic() >= deadline:
                    raise late from None
                raise _BodyFailure("stopped sending in the middle of its answer") from None
            except ProtocolError:  # urllib3's word for a connection closed or reset mid-body
                raise _BodyFailure("dropped the connection in the middle of its answer") from None
            except DecodeError:
                raise _BodyFailure("sent a compressed answer that did not decompress") from None
            if not chunk:
                return bytes(body)
            body += chunk

    def _status_error(self, response: requests.Response, what: str) -> PlatformError:
        status = response.status_code
        if status == 400:
            message = self._server_message(response)
            return BadRequestError(
                f"The platform rejected {what} (HTTP 400): {message or 'no reason given'}.",
                server_message=message,
            )
        if status == 403:
            reason = self._server_message(response, _REASON_LIMIT)
            if reason:
                message = (
                    f'Access denied (HTTP 403): "{reason}". This API client must be an '
                    "administrator, with the audit log enabled for the tenant."
                )
            else:
                message = (
                    "Access denied (HTTP 403): this API client is not an administrator, or the "
                    "audit log feature is not enabled for the tenant."
                )
            return PermissionDeniedError(message, status=403)
        if status == 429:
            return ServerUnavailableError(
                f"The platform at {self.base_url} kept rate limiting {what} (HTTP 429) after "
                f"{self.retries} retries. Try again later.",
                status=429,
            )
        if status in RETRY_STATUSES:
            return ServerUnavailableError(
                f"The platform at {self.base_url} is unavailable: it still answered HTTP "
                f"{status} after {self.retries} retries. Try again later.",
                status=status,
            )
        if 300 <= status < 400:
            location = response.headers.get("Location", "another address")
            return MalformedResponseError(
                f"The platform answered {what} with a redirect (HTTP {status}) to "
                f"{self._scrub(location)}. Set the profile's base URL to the final address.",
                status=status,
            )
        return MalformedResponseError(
            f"The platform answered {what} with an unexpected HTTP {status} "
            f"{self._scrub(response.reason or '')}. Check that the base URL {self.base_url} "
            "is the platform's API.",
            status=status,
        )

    def _json(self, response: requests.Response, what: str) -> Any:
        """The body as JSON; bytes that are not UTF-8 survive as lone surrogates.

        ``surrogateescape`` rather than requests' replacement characters: the cache flags such
        text and keeps the original bytes' escapes in the event's raw JSON.
        """
        text = response.content.decode("utf-8-sig", errors="surrogateescape")
        try:
            return json.loads(text)
        except RecursionError:
            raise MalformedResponseError(
                f"The platform's answer to {what} is nested too deeply to read.",
                status=response.status_code,
            ) from None
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise MalformedResponseError(
                f"The platform's answer to {what} is not JSON ({self._scrub(kind)}). Check "
                f"that the base URL {self.base_url} is the platform's API.",
                status=response.status_code,
            ) from None

    @staticmethod
    def _parse_page(body: Any) -> Page:
        def broken(problem: str) -> MalformedResponseError:
            return MalformedResponseError(
                f"The platform sent a malformed audit log page: {problem}."
            )

        if not isinstance(body, dict):
            raise broken("the body is not a JSON object")
        if "data" not in body:
            raise broken("it has no 'data' field")
        data = body["data"]
        if not isinstance(data, list):
            raise broken("'data' is not a list")
        if not all(isinstance(event, dict) for event in data):
            raise broken("'data' holds an entry that is not an object")
        metadata = body.get("metadata")
        if metadata is None:
            return Page(events=data, after=None)
        if not isinstance(metadata, dict):
            raise broken("'metadata' is not an object")
        after = metadata.get("after")
        if after is not None and not isinstance(after, str):
            raise broken("'metadata.after' is not a string")
        return Page(events=data, after=after or None)

    def _server_message(self, response: requests.Response, limit: int = _MESSAGE_LIMIT) -> str:
        """The server's ``{"message": ...}`` (or start of its body), safe to show on one line."""
        text = response.content.decode("utf-8-sig", errors="replace")
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            text = body["message"]
        # Control and formatting characters (NUL, bidi overrides) would garble the line.
        text = "".join(char if char.isprintable() else " " for char in self._scrub(text))
        return logs.one_line(text, limit)

    def _scrub(self, text: str) -> str:
        """Mask the secret and token should a server echo them back."""
        for secret in (self._secret, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text
