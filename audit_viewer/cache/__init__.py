"""The local cache: events and sync state in SQLite (default) or PostgreSQL."""

from audit_viewer.cache.errors import (
    CacheCorruptError,
    CacheError,
    CacheTooNewError,
    SyncBusyError,
)
from audit_viewer.cache.store import (
    CacheStore,
    RejectedEvent,
    SyncState,
    resolve_cache_url,
)

__all__ = [
    "CacheCorruptError",
    "CacheError",
    "CacheStore",
    "CacheTooNewError",
    "RejectedEvent",
    "SyncBusyError",
    "SyncState",
    "resolve_cache_url",
]
