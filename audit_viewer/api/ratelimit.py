"""The client's cap on its request rate, shared per tenant by every process of this user.

The contract allows about 10 list requests per second per *tenant*, and two syncs of one tenant,
each keeping to 10/s on its own, reached 18-19/s together (issue 10). So the sliding window
lives in a small file in the per-user runtime folder (``config.runtime_dir()``), one per tenant,
and every acquire holds an exclusive ``flock`` on it while it reads and counts. The file is
named by a hash of the base URL and client id and holds only send times, never a credential.

Windows has no ``fcntl``: there, and wherever the runtime folder cannot be written, clients of
one tenant share an in-process limiter, so only the syncs inside one process keep to the limit
together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from audit_viewer import config

try:
    import fcntl
except ImportError:  # Windows: the in-process fallback, see the module docstring
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# The platform measures its 1 s window at arrival, we at sending: a 5 % longer window keeps
# network jitter from ever pushing our requests over its limit.
_WINDOW_MARGIN = 1.05
# No symlinks: the file is opened for writing in a folder other programs may share.
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)

_warned: set[str] = set()
_local_limiters: dict[tuple[str, float], LocalRateLimiter] = {}
_local_lock = threading.Lock()


class RateLimiter(Protocol):
    """What the client needs of a limiter."""

    def acquire(self) -> None:
        """Block until one more request may go, and count it."""


def _window_for(per_second: float) -> tuple[int, float]:
    """``(burst, window)``: at most ``burst`` requests in any ``window`` seconds.

    A sliding window (not a token bucket) because the platform counts requests in any 1 s
    window; a full bucket plus its refill would allow twice the rate inside one second.
    """
    if not per_second > 0:
        raise ValueError("max_requests_per_second must be positive")
    burst = max(1, math.floor(per_second))
    return burst, burst / per_second * _WINDOW_MARGIN


def tenant_key(base_url: str, client_id: str) -> str:
    """A tenant's name in file names: a hash, so the folder shows neither URL nor client id."""
    return hashlib.sha256(f"{base_url}\n{client_id}".encode()).hexdigest()[:32]


def _warn_once(key: str, message: str, *args: object) -> None:
    """One warning per cause and process: a limiter is made for every sync."""
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


class LocalRateLimiter:
    """The sliding window within one process, across threads (monotonic clock)."""

    def __init__(self, per_second: float) -> None:
        self._burst, self._window = _window_for(per_second)
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it."""
        with self._lock:  # held while sleeping so waiting threads go out in order
            now = time.monotonic()
            if len(self._sent) >= self._burst:
                wait = self._sent[0] + self._window - now
                if wait > 0:
                    time.sleep(wait)
                    now = time.monotonic()
                self._sent.popleft()
            self._sent.append(now)


def _local_limiter(key: str, per_second: float) -> LocalRateLimiter:
    """The process's one in-process limiter for a tenant, so its clients at least share that."""
    with _local_lock:
        return _local_limiters.setdefault((key, per_second), LocalRateLimiter(per_second))


class SharedRateLimiter:
    """The sliding window of one tenant, shared through a locked file by this user's processes.

    The file holds the wall-clock (``time.time()``) send times of the last window, as a JSON
    list: monotonic clocks are per process, so only wall-clock times compare across processes.
    ``clock`` and ``sleep`` are there for tests to steer time.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._burst, self._window = _window_for(per_second)
        self._per_second = per_second
        self._key = tenant_key(base_url, client_id)
        self._clock, self._sleep = clock, sleep
        # Each acquire opens the file afresh, so its flock excludes this process's threads too;
        # the lock keeps them in order while they wait, one of them polling the file.
        self._lock = threading.Lock()
        self._fallback: LocalRateLimiter | None = None
        self.path: Path | None = None
        if fcntl is None:
            self._fallback = _local_limiter(self._key, per_second)
            return
        try:
            self.path = config.runtime_dir() / f"ratelimit-{self._key}.json"
            os.close(os.open(self.path, _OPEN_FLAGS, 0o600))
        except OSError as exc:
            self._fall_back(exc)

    def acquire(self) -> None:
        """Block until one more request fits in the tenant's window, then count it."""
        with self._lock:  # held while sleeping so waiting threads go out in order
            while self._fallback is None:
                try:
                    wait = self._try_to_count()
                except OSError as exc:  # the folder went away or became unwritable
                    self._fall_back(exc)
                    break
                if wait <= 0:
                    return
                self._sleep(wait)  # with the file unlocked, so other processes go on
            fallback = self._fallback
            assert fallback is not None  # set by _fall_back
            fallback.acquire()

    def _try_to_count(self) -> float:
        """Count one request if it fits in the window (0), else the seconds until it would."""
        assert self.path is not None and fcntl is not None
        fd = os.open(self.path, _OPEN_FLAGS, 0o600)  # afresh: a deleted file is made again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            size = os.fstat(fd).st_size
            # A time more than a window ahead means the wall clock stepped back: forget it
            # rather than wait for it.
            sent = sorted(t for t in self._read(fd, size) if abs(now - t) < self._window)
            if len(sent) >= self._burst:
                return sent[-self._burst] + self._window - now
            sent.append(now)
            data = json.dumps(sent).encode()
            os.pwrite(fd, data, 0)
            if len(data) < size:  # times left the window: cut what is left of the old list
                os.ftruncate(fd, len(data))
            return 0.0
        finally:
            os.close(fd)  # which also releases the lock

    def _read(self, fd: int, size: int) -> list[float]:
        """The send times in the file; none for a new file, and for a corrupt one (reset)."""
        raw = os.pread(fd, size, 0)
        if not raw:
            return []
        try:
            sent = json.loads(raw)
        except (ValueError, RecursionError):
            sent = None
        if isinstance(sent, list) and all(isinstance(t, float) for t in sent):
            return sent
        _warn_once(
            f"corrupt:{self.path}",
            "The shared rate limit file %s was unreadable; starting it afresh",
            self.path,
        )
        return []

    def _fall_back(self, exc: OSError) -> None:
        _warn_once(
            "unshared",
            "Cannot share the request rate limit with other processes (%s); this process "
            "keeps to it on its own",
            exc.strerror or exc,
        )
        self._fallback = _local_limiter(self._key, self._per_second)
