"""Texts for the status line: "Showing 1,234 of 56,789 events · cache: PATH · last sync 5 min ago".

Plain functions (no widgets) so the wording is tested without a window.
"""

from __future__ import annotations

from datetime import UTC, datetime

from audit_viewer.sync import SyncResult

SEPARATOR = " · "
#: What "offline" means here: the archive is browsable, but nothing syncs without a secret.
OFFLINE = "offline: no profile or secret to sync with, browsing the cache only"


def ago(when: datetime, now: datetime | None = None) -> str:
    """A rough human age: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    now = now or datetime.now(UTC)
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    days = hours // 24
    return f"{days} days ago"


def sync_phrase(
    last_sync_at: datetime | None,
    last_outcome: str | None,
    last_error: str | None,
    now: datetime | None = None,
) -> str:
    """How fresh the cache is, the way the admin reads it at a glance.

    ``last_outcome`` is the cache's record of the last run: "ok", "failed" or "cancelled".
    """
    if last_outcome == "failed":
        lines = (last_error or "").strip().splitlines()
        return f"sync failed: {lines[0]}" if lines else "sync failed"
    if last_sync_at is None:
        text = "never synced"
    else:
        text = f"last sync {ago(last_sync_at, now)}"
        if last_outcome == "cancelled":
            text += " (cancelled)"
    return text


def showing(visible: int, total: int) -> str:
    noun = "event" if total == 1 else "events"
    return f"Showing {visible:,} of {total:,} {noun}"


def status_line(visible: int, total: int, cache: str, sync: str, *, offline: bool) -> str:
    parts = [showing(visible, total), f"cache: {cache}", sync]
    if offline:
        parts.append(OFFLINE)
    return SEPARATOR.join(parts)


def sync_summary(result: SyncResult) -> str:
    """What the status bar says for a while after a sync ends."""
    what = "Sync cancelled" if result.cancelled else "Sync done"
    return (
        f"{what}: {result.new_events:,} new events, {result.total_cached:,} cached "
        f"({result.elapsed:.1f} s)"
    )
