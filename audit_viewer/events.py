"""The audit event as the app stores and shows it.

The platform sends loosely typed JSON (see ``shared/platform-api.md``); this module is the one
place that turns it into the row every other layer (cache, frame, export, UI) agrees on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
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
    "raw",
)

#: Fields the contract names; everything else an event carries is an "extra field".
KNOWN_FIELDS = frozenset(
    {"id", "created_at", "user_name", "user_email", "actor_type", "action", "description"}
)

ACTOR_TYPES = ("user", "scm", "system")


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
    """Aware datetime -> ``2026-11-02T14:03:11.482Z`` (ISO 8601 UTC, milliseconds)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def normalize_event(raw: dict[str, Any]) -> EventRow:
    """Platform JSON -> :class:`EventRow`. Raises :class:`InvalidEventError` when unusable."""
    if not isinstance(raw, dict):
        raise InvalidEventError(f"event is not an object: {type(raw).__name__}")
    event_id = raw.get("id")
    if not isinstance(event_id, str | int) or str(event_id) == "":
        raise InvalidEventError("event without an id")
    created = raw.get("created_at")
    if not isinstance(created, str):
        raise InvalidEventError(f"event {event_id}: created_at missing")
    try:
        created_at = parse_timestamp(created)
    except ValueError as exc:
        raise InvalidEventError(f"event {event_id}: bad created_at {created!r}") from exc
    actor_type = _text(raw.get("actor_type")) or "user"
    user_name = _text(raw.get("user_name"))
    user_email = _text(raw.get("user_email"))
    return EventRow(
        id=str(event_id),
        created_at=created_at,
        user=display_user(actor_type, user_name, user_email),
        user_name=user_name,
        user_email=user_email,
        actor_type=actor_type,
        action=_text(raw.get("action")) or "",
        description=_text(raw.get("description")) or "",
        raw=json.dumps(raw, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
    )
