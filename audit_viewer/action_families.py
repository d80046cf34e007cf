"""Action families: actions that embed a value grouped under one name.

The platform writes some actions with a value inside ("Removed user bob@example.com from
account"), so every removed user is an action of its own, and the Action checklist would list
each. Replacing the embedded value by "…" gives the family ("Removed user … from account"),
which the checklist shows as one row with the count of all its actions; the value is a field of
its own in the detail pane (and ``action:bob@example.com`` still finds it).
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Values actions embed: email addresses, URLs, UUIDs.
_EMBEDDED = re.compile(
    r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"
    r"|https?://\S+"
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
PLACEHOLDER = "…"


@lru_cache(maxsize=4096)
def family(action: str) -> str:
    """The action with each embedded value replaced by "…" (the action itself without one)."""
    return _EMBEDDED.sub(PLACEHOLDER, action)


def embedded_values(action: str) -> list[str]:
    """The values an action embeds, in order (none for most actions)."""
    return [match.group() for match in _EMBEDDED.finditer(action)]
