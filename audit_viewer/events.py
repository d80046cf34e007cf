"""The audit event as the app stores and shows it.

The platform sends loosely typed JSON (see ``shared/platform-api.md``); this module is the one
place that turns it into the row every other layer (cache, frame, export, UI) agrees on.

What the archive accepts: every event with an id and an ISO 8601 ``created_at`` Python can
read (years 1 to 9999), whatever else it holds. One poisoned event must never stop a sync or
break a reader, so instead of refusing odd events the row carries *flags* (:data:`FLAGS`):
``time`` for a time no real audit event has (before :data:`PLAUSIBLE_START`, or more than
:data:`FUTURE_TOLERANCE` after it was received), ``text`` for characters no database column
can hold (NUL, which PostgreSQL's text refuses, and lone surrogates, which are not UTF-8: from
``"\ud800"`` escapes or invalid UTF-8 bytes the client kept as U+DC80-U+DCFF). Such characters
are replaced by U+FFFD in the columns; ``raw`` keeps them as JSON escapes, so the event as
received is never lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

#: Columns of the columnar frame, in the order export and the table use by default.
FRAME_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "user",
    "user_name",
    "user_email",
    "actor_type",
    "action",
    "description",
    "flags",
    "raw",
)

#: Fields the contract names; everything else an event carries is an "extra field".
KNOWN_FIELDS = frozenset(
    {"id", "created_at", "user_name", "user_email", "actor_type", "action", "description"}
)

ACTOR_TYPES = ("user", "scm", "system")

#: Flags an event can carry (the ``flag:`` qualifier), with what each means to an admin.
FLAGS: dict[str, str] = {
    "time": "its time is implausible (before 2000 or later than when it was received)",
    "text": "it held characters that cannot be stored as text (NUL or invalid UTF-8); they show "
    "as the replacement mark U+FFFD, and the raw JSON keeps them as escapes",
}
#: No audit event of the platform is older than this; an older time is a poisoned value
#: (Go's zero time 0001-01-01, a Unix epoch 0, ...).
PLAUSIBLE_START = datetime(2000, 1, 1, tzinfo=UTC)
#: Clocks differ; an event up to a day "in the future" of its arrival is not suspicious.
FUTURE_TOLERANCE = timedelta(days=1)
#: Characters no column can store: NUL (PostgreSQL text) and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def flag_sentences(flags: str) -> list[str]:
    """The ``flags`` of a row as sentences for an admin ("Flagged: its time is ...")."""
    return [f"Flagged {name}: {FLAGS.get(name, 'unknown flag')}" for name in flags.split()]


class InvalidEventError(ValueError):
    """An event from the platform lacks what no row can do without (id, created_at)."""


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    created_at: datetime  # timezone-aware, UTC
    user: str
    user_name: str | None
    user_email: str | None
    actor_type: str
    action: str
    description: str
    raw: str  # the whole event as JSON text, unknown fields kept
    flags: str = ""  # names from FLAGS, space-separated; empty for a normal event


def display_user(actor_type: str, user_name: str | None, user_email: str | None) -> str:
    """The user string the platform's web page shows for an event."""
    if actor_type == "system":
        return "System"
    if actor_type == "scm":
        return f"{user_name or ''} (scm)"
    return user_email or user_name or ""


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 with ``Z`` or an offset -> aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Aware datetime -> ``2026-11-02T14:03:11.482Z`` (ISO 8601 UTC, milliseconds).

    Not strftime: its ``%Y`` drops the leading zeros of years before 1000 on glibc.
    """
    utc = value.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_zone(moment: datetime, tz: tzinfo | None) -> datetime:
    """``moment`` in ``tz`` (None: the system's zone), or in UTC where that zone's wall clock
    would fall outside years 1 to 9999 (a poisoned 0001-01-01T00:00Z is year 0 west of UTC)."""
    try:
        return moment.astimezone(tz)
    except (OverflowError, ValueError):
        return moment.astimezone(UTC)


class _Cleaner:
    """Replaces unstorable characters in an event's columns and remembers whether it had to."""

    def __init__(self) -> None:
        self.replaced = False

    def __call__(self, value: Any) -> str | None:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if _UNSTORABLE.search(text) is None:
            return text
        self.replaced = True
        return _UNSTORABLE.sub(REPLACEMENT, text)


def _brief(value: object) -> str:
    """A value quoted for a message: short, on one line, storable."""
    text = _UNSTORABLE.sub(REPLACEMENT, repr(value))
    return text if len(text) <= 60 else text[:59] + "…"


def raw_json(raw: Any) -> str:
    """An event as the cache keeps it: compact JSON, keys sorted, always valid UTF-8.

    Non-ASCII text stays readable, except in an event holding a lone surrogate: that one is
    written all-ASCII, where the surrogate survives as its ``\\udXXX`` escape (NUL is escaped
    by ``json`` anyway).
    """
    try:
        text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if _UNSTORABLE.search(text) is not None:
            text = json.dumps(raw, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    except RecursionError:  # parsed at the interpreter's limit, but one level too deep to write
        raise InvalidEventError("event nested too deeply to store") from None
    return text


def normalize_event(raw: dict[str, Any], received: datetime | None = None) -> EventRow:
    """Platform JSON -> :class:`EventRow`. Raises :class:`InvalidEventError` when unusable.

    ``received`` (default now) is when the event arrived: a time well after it is flagged.
    """
    if not isinstance(raw, dict):
        raise InvalidEventError(f"event is not an object: {type(raw).__name__}")
    clean = _Cleaner()
    event_id = raw.get("id")
    if not isinstance(event_id, str | int) or str(event_id) == "":
        raise InvalidEventError("event without an id")
    created = raw.get("created_at")
    if not isinstance(created, str):
        raise InvalidEventError(f"event {_brief(event_id)}: created_at missing")
    try:
        created_at = parse_timestamp(created)
    except (ValueError, OverflowError) as exc:
        raise InvalidEventError(
            f"event {_brief(event_id)}: unreadable created_at {_brief(created)}"
        ) from exc
    actor_type = clean(raw.get("actor_type")) or "user"
    user_name = clean(raw.get("user_name"))
    user_email = clean(raw.get("user_email"))
    row_id = clean(event_id)
    assert row_id is not None
    action = clean(raw.get("action")) or ""
    description = clean(raw.get("description")) or ""
    text = raw_json(raw)
    flags = []
    arrival = received or datetime.now(UTC)
    if created_at < PLAUSIBLE_START or created_at > arrival + FUTURE_TOLERANCE:
        flags.append("time")
    if clean.replaced:
        flags.append("text")
    return EventRow(
        id=row_id,
        created_at=created_at,
        user=display_user(actor_type, user_name, user_email),
        user_name=user_name,
        user_email=user_email,
        actor_type=actor_type,
        action=action,
        description=description,
        raw=text,
        flags=" ".join(flags),
    )
