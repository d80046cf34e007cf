"""Which profile of a cache to show or export: one rule for the command line and the window.

A cache may hold several tenants' events (a team's shared archive). The profile asked for by
name must be there; otherwise the preferred one (the default profile, or the one shown now)
wins when the cache has it, and a cache with one profile needs no choice. With several and no
preference the caller must ask: the command line lists them and stops, the window asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class NotCachedError(ValueError):
    """The profile asked for by name has no events in the cache."""

    def __init__(self, wanted: str, cached: tuple[str, ...], location: str) -> None:
        known = ", ".join(cached) or "none"
        super().__init__(f"No events for profile {wanted!r} in {location}; profiles there: {known}")
        self.wanted, self.cached = wanted, cached


@dataclass(frozen=True)
class Choice:
    """The profile to use (None: the cache is empty, or the caller must ask) and, when the
    caller must ask, the profiles to choose from (sorted)."""

    name: str | None
    ask: tuple[str, ...] = ()


def choose(
    cached: Iterable[str],
    *,
    wanted: str | None = None,
    preferred: str | None = None,
    location: str = "the cache",
) -> Choice:
    """The rule above. Raises :class:`NotCachedError` when ``wanted`` is not cached."""
    names = tuple(sorted(set(cached)))
    if wanted is not None:
        if wanted not in names:
            raise NotCachedError(wanted, names, location)
        return Choice(wanted)
    if preferred is not None and preferred in names:
        return Choice(preferred)
    if len(names) == 1:
        return Choice(names[0])
    return Choice(None, names if len(names) > 1 else ())
