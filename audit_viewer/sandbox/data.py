"""Synthetic, realistic audit events for the sandbox server, and their ordered index.

A million events must be ready in seconds, so only the ordering keys (the millisecond and the
ULID-like id) are generated up front, vectorized with numpy. Every other field is derived on
demand from ``(seed, generation index)``, so an event looks the same every time it is served
and the memory stays at a few dozen bytes per event.
"""

from __future__ import annotations

import bisect
import copy
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from audit_viewer.events import format_timestamp, parse_timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RETENTION = timedelta(days=90)
RETENTION_MS = RETENTION // timedelta(milliseconds=1)
# Generated events stay a little inside the window so a test run never sees them age out.
_SPREAD_MS = int(89.5 * 86_400_000)
_CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SHARED_FRACTION = 0.25  # events that copy another event's millisecond (bulk actions)
_BURST = 150  # one bulk action larger than a default page: ties across a page boundary


def to_ms(value: datetime) -> int:
    """Aware (or UTC-naive) datetime -> integer milliseconds since the epoch."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // timedelta(milliseconds=1)


def ms_to_iso(ms: int) -> str:
    return format_timestamp(EPOCH + timedelta(milliseconds=ms))


def ulid(ms: int, rng: random.Random) -> str:
    """A ULID-like id: 10 Crockford characters of time, 16 of randomness."""
    value = (ms << 80) | rng.getrandbits(80)
    return "".join(chr(_CROCKFORD[(value >> shift) & 31]) for shift in range(125, -1, -5))


# -- what events look like ----------------------------------------------------------------

USERS: tuple[tuple[str | None, str | None], ...] = (
    ("alice", "alice@example.com"),
    ("bob", "bob@example.com"),
    ("carol.nguyen", "carol.nguyen@example.com"),
    ("dmitri", "dmitri.ivanov@example.org"),
    ("François Dupont", "francois.dupont@example.fr"),
    ("李雷", "li.lei@example.cn"),
    ("sean.o'brien", "sean.obrien@example.ie"),
    ("-mallory", "mallory@example.com"),
    (None, "no-name@example.com"),
    ("svc-without-email", None),
)
SCM_LOGINS = ("octocat", "dependabot[bot]", "github-actions[bot]", "renovate[bot]", "jdoe-gh")
REPOS = ("payments-api", "web-frontend", "infra-terraform", "mobile-app", "data-pipeline")
REASONS = ("false_positive", "accepted_risk", "not_relevant", "compensating_control")
COMMENTS = (
    "Not relevant findings",
    "Test fixture, not shipped",
    "Covered by WAF rule 12, see ticket",
    'Vendor says "won\'t fix", risk accepted',
    "Dev-only dependency",
)
ARTIFACTS = ("SBOM", "Findings", "Compliance report")

HOSTILE_DESCRIPTIONS = (
    "=cmd|' /C calc'!A0",
    "+1+1, Comment: 'plus sign first'",
    "-2+3, Reason: 'minus first'",
    "@SUM(A1:A9)",
    "Comment: 'He said \"ship it\", then left', Reason: 'quotes, and commas'",
    "Line one\nLine two, Comment: 'multi\nline'\r\nLine three",
    "Emoji 🔥🚀 and RTL \u202eexe.live\u202c — שלום עולם, مرحبا بالعالم",
    "\tTab first, then a, b, c",
    "Comment: 'it\\'s escaped', URL: 'https://example.com/a?b=1&c=\"2\"'",
    "",
)
_LONG_DESCRIPTION = (
    "Bulk import finished, Comment: '"
    + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 350
    + "', ID: 'bulk-0001'"
)

Fields = dict[str, Any]


def _uuid(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


def _user(r: random.Random) -> tuple[str | None, str | None]:
    return USERS[r.randrange(len(USERS))]


def _ignored_backlog(r: random.Random) -> tuple[str, str]:
    count = r.randint(1, 40)
    noun = "finding" if count == 1 else "findings"
    return "Findings ignored from backlog", (
        f"{count} {noun} ignored, Reason: '{r.choice(REASONS)}', "
        f"Comment: '{r.choice(COMMENTS)}', Ignore rule ID: '{_uuid(r)}'"
    )


def _ignored_pr(r: random.Random) -> tuple[str, str]:
    repo, number = r.choice(REPOS), r.randint(1, 4000)
    return "Findings ignored from PR", (
        f"1 finding ignored, Reason: '{r.choice(REASONS)}', Comment: '{r.choice(COMMENTS)}', "
        f"URL: 'https://github.com/acme/{repo}/pull/{number}', Ignore rule ID: '{_uuid(r)}'"
    )


def _security_plan(r: random.Random) -> tuple[str, str]:
    plan = r.choice(("Jit Baseline", "SOC 2", "OWASP Top 10", "ISO 27001"))
    return "Export Security Plan results", f"Plan: '{plan}', Format: '{r.choice(('csv', 'pdf'))}'"


def _ticket(r: random.Random) -> tuple[str, str]:
    key = f"{r.choice(('SEC', 'APPSEC', 'OPS'))}-{r.randint(1, 9999)}"
    return "Ticket created", (
        f"Ticket created for finding, ID: '{key}', URL: 'https://acme.atlassian.net/browse/{key}'"
    )


def _export(r: random.Random) -> tuple[str, str]:
    artifact = r.choice(ARTIFACTS)
    return f"Export {artifact}", f"{artifact} exported, Format: '{r.choice(('json', 'csv'))}'"


def _export_failure(r: random.Random) -> tuple[str, str]:
    artifact = r.choice(ARTIFACTS)
    reason = r.choice(("timeout", "no assets selected", "internal error"))
    return f"Export {artifact} failure", f"{artifact} export failed, Reason: '{reason}'"


def _login(r: random.Random) -> tuple[str, str]:
    return "User logged in", f"Method: '{r.choice(('SSO', 'password', 'GitHub'))}'"


def _removed_user(r: random.Random) -> tuple[str, str]:
    email = _user(r)[1] or "bob@example.com"
    return f"Removed user {email} from account", f"User: '{email}', ID: '{_uuid(r)}'"


def _roles(action: str) -> Callable[[random.Random], tuple[str, str]]:
    def make(r: random.Random) -> tuple[str, str]:
        roles = ", ".join(r.sample(("admin", "member", "developer", "security_champion"), 2))
        return action, f"Roles: '{roles}', User: '{_user(r)[1] or 'bob@example.com'}'"

    return make


def _added_user(r: random.Random) -> tuple[str, str]:
    return "Added user", f"User: '{_user(r)[1] or 'new@example.com'}', Roles: 'member'"


def _api_key(action: str) -> Callable[[random.Random], tuple[str, str]]:
    def make(r: random.Random) -> tuple[str, str]:
        name = r.choice(("ci-pipeline", "siem-export", "audit-viewer", "terraform"))
        return action, f"Name: '{name}', ID: '{_uuid(r)}'"

    return make


def _profile(r: random.Random) -> tuple[str, str]:
    return "Updated profile", r.choice(("Field: 'display_name'", "Field: 'timezone'", ""))


def _unannounced(r: random.Random) -> tuple[str, str]:
    """An action the contract does not list yet: "new values appear without notice"."""
    return "Integration connected", f"Integration: 'Slack', ID: '{_uuid(r)}'"


# (make, weight, actor weights user/scm/system)
_KINDS: tuple[tuple[Callable[[random.Random], tuple[str, str]], int, tuple[int, int, int]], ...] = (
    (_ignored_backlog, 22, (95, 0, 5)),
    (_ignored_pr, 14, (40, 60, 0)),
    (_security_plan, 4, (100, 0, 0)),
    (_ticket, 8, (70, 0, 30)),
    (_export, 6, (90, 0, 10)),
    (_export_failure, 2, (50, 0, 50)),
    (_login, 25, (100, 0, 0)),
    (_removed_user, 2, (90, 0, 10)),
    (_roles("Assigned roles"), 4, (90, 0, 10)),
    (_roles("Removed roles"), 2, (90, 0, 10)),
    (_added_user, 3, (85, 0, 15)),
    (_api_key("Created API key"), 3, (100, 0, 0)),
    (_api_key("Deleted API key"), 2, (100, 0, 0)),
    (_profile, 3, (100, 0, 0)),
    (_unannounced, 1, (0, 0, 100)),
)
_WEIGHTS = tuple(weight for _, weight, _ in _KINDS)
#: The first events of every data set name these actions, so even small sets show them all.
_GUARANTEED = (
    ("Export SBOM", "SBOM exported, Format: 'CycloneDX 1.5'"),
    ("Export SBOM failure", "SBOM export failed, Reason: 'timeout'"),
    ("Removed user bob@example.com from account", "User: 'bob@example.com'"),
)
_LONG_INDEX = 20  # the generation index that carries the ~20 KB description


class SyntheticEvents:
    """Derives event ``i`` of a data set from the seed: the same event on every call."""

    def __init__(self, count: int, seed: int) -> None:
        self.count = count
        self.seed = seed
        self._burst = range(max(0, count - _BURST), count) if count >= 10 * _BURST else range(0)
        self._tenant = _uuid(random.Random(seed))

    def keys(self, now_ms: int) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Milliseconds, ids and generation indices of all events, newest first, ties by id.

        Recent days are denser, a quarter of the events share a millisecond with another one,
        and the last ``_BURST`` events share one (a bulk ignore larger than a page).
        """
        n = self.count
        rng = np.random.default_rng(self.seed)
        ms = now_ms - 1000 - (rng.random(n) ** 1.7 * _SPREAD_MS).astype(np.int64)
        shared = rng.random(n) < _SHARED_FRACTION
        ms[shared] = ms[rng.integers(0, max(n, 1), int(shared.sum()))]
        if self._burst:
            ms[self._burst.start :] = ms[self._burst.start]
        high = rng.integers(0, 1 << 60, n, dtype=np.int64)  # 80 random bits: 60 + 20
        low = rng.integers(0, 1 << 20, n, dtype=np.int64)
        order = np.lexsort((low, high, -ms))
        ms, high, low = ms[order], high[order], low[order]
        digits = np.empty((n, 26), dtype=np.uint8)
        digits[:, :10] = (ms[:, None] >> np.arange(45, -1, -5, dtype=np.int64)) & 31
        digits[:, 10:22] = (high[:, None] >> np.arange(55, -1, -5, dtype=np.int64)) & 31
        digits[:, 22:] = (low[:, None] >> np.arange(15, -1, -5, dtype=np.int64)) & 31
        alphabet = np.frombuffer(_CROCKFORD, dtype=np.uint8)
        ids = alphabet[digits].view("S26").ravel().astype("U26").tolist()
        return ms, ids, order.astype(np.int64)

    def event(self, index: int, ms: int, event_id: str) -> Fields:
        """The full event with generation index ``index`` (any int; beyond ``count`` is fine)."""
        r = random.Random(self.seed * 1_000_003 + index)
        if index < len(_GUARANTEED):
            make, actor_weights = None, (80, 0, 20)
            action, description = _GUARANTEED[index]
        elif index < len(_GUARANTEED) + len(_KINDS):
            make, _, actor_weights = _KINDS[index - len(_GUARANTEED)]
        elif index in self._burst:
            make, _, actor_weights = _KINDS[0][0], 0, (100, 0, 0)
            r = random.Random(self.seed * 1_000_003 + self._burst.start)  # one bulk action
        else:
            make, _, actor_weights = r.choices(_KINDS, weights=_WEIGHTS)[0]
        if make is not None:
            action, description = make(r)
        actor = r.choices(("user", "scm", "system"), weights=actor_weights)[0]
        if actor == "user":
            user_name, user_email = _user(r)
        elif actor == "scm":
            user_name, user_email = r.choice(SCM_LOGINS), None
        else:
            user_name = user_email = None
        if index == _LONG_INDEX:
            description = _LONG_DESCRIPTION
        elif index % 61 == 17:
            description = HOSTILE_DESCRIPTIONS[(index // 61) % len(HOSTILE_DESCRIPTIONS)]
        event: Fields = {
            "id": event_id,
            "created_at": ms_to_iso(ms),
            "user_name": user_name,
            "user_email": user_email,
            "actor_type": actor,
            "action": action,
            "description": description,
        }
        if index % 7 == 3:
            event["ip_address"] = f"203.0.113.{r.randint(1, 254)}"
            event["tenant_id"] = self._tenant
        if index % 11 == 5:
            event["metadata"] = {
                "source": r.choice(("web", "api", "cli")),
                "request_id": _uuid(r),
                "tags": r.sample(("prod", "eu", "bulk", "sso"), 2),
            }
        return event


@dataclass(frozen=True, slots=True)
class Entry:
    """One slot of the index: enough to order, page and materialize an event."""

    ms: int
    id: str
    index: int  # generation index, or -1 for an added event


class EventIndex:
    """Events ordered newest first, ties by id; every lookup is a bisect, never a scan.

    Not thread-safe by itself: the server holds its lock around every call.
    """

    def __init__(self, synthetic: SyntheticEvents, now_ms: int) -> None:
        self._synthetic = synthetic
        ms, self._ids, self._index = synthetic.keys(now_ms)
        self._neg_ms = -ms  # ascending, so numpy's searchsorted applies
        self._added: dict[str, Fields] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def _ties(self, ms: int) -> tuple[int, int]:
        return (
            int(np.searchsorted(self._neg_ms, -ms, side="left")),
            int(np.searchsorted(self._neg_ms, -ms, side="right")),
        )

    def position(self, ms: int, event_id: str) -> int:
        """Index of the first slot at or after ``(ms, id)`` in the order."""
        low, high = self._ties(ms)
        return bisect.bisect_left(self._ids, event_id, low, high)

    def position_after(self, ms: int, event_id: str) -> int:
        """Index of the first slot strictly after ``(ms, id)``: where a cursor resumes."""
        low, high = self._ties(ms)
        return bisect.bisect_right(self._ids, event_id, low, high)

    def entry(self, position: int) -> Entry:
        return Entry(-int(self._neg_ms[position]), self._ids[position], int(self._index[position]))

    def find(self, ms: int, event_id: str) -> Entry | None:
        position = self.position(ms, event_id)
        if position < len(self._ids) and self._ids[position] == event_id:
            return self.entry(position)
        return None

    def bounds(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Slots holding ``start_ms <= created_at < end_ms``."""
        first = int(np.searchsorted(self._neg_ms, -end_ms, side="right"))
        stop = int(np.searchsorted(self._neg_ms, -start_ms, side="right"))
        return first, max(first, stop)

    def entries(self, first: int, stop: int) -> list[Entry]:
        return [self.entry(position) for position in range(first, stop)]

    def add(self, events: list[Fields]) -> None:
        """Insert (or replace) whole events; ``id`` and ``created_at`` place them."""
        placed: dict[str, tuple[int, Fields]] = {}
        for event in events:
            placed[str(event["id"])] = (to_ms(parse_timestamp(event["created_at"])), event)
        new: list[tuple[int, str]] = []
        for event_id, (ms, event) in placed.items():
            self._added[event_id] = copy.deepcopy(event)
            position = self.position(ms, event_id)
            if position < len(self._ids) and self._ids[position] == event_id:
                self._index[position] = -1  # an existing event replaced in place
            else:
                new.append((ms, event_id))
        new.sort(key=lambda item: (-item[0], item[1]))
        positions = [self.position(ms, event_id) for ms, event_id in new]
        self._neg_ms = np.insert(self._neg_ms, positions, [-ms for ms, _ in new])
        self._index = np.insert(self._index, positions, -1)
        ids: list[str] = []
        previous = 0
        for position, (_, event_id) in zip(positions, new, strict=True):
            ids.extend(self._ids[previous:position])
            ids.append(event_id)
            previous = position
        ids.extend(self._ids[previous:])
        self._ids = ids

    def materialize(self, entry: Entry) -> Fields:
        """The event a slot stands for, as a fresh dict the caller may change."""
        if entry.index < 0:
            return copy.deepcopy(self._added[entry.id])
        return self._synthetic.event(entry.index, entry.ms, entry.id)

    def iter_events(self, first: int, stop: int) -> Iterator[Fields]:
        for entry in self.entries(first, stop):
            yield self.materialize(entry)
