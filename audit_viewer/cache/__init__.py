"""The local cache: events and sync state in SQLite (default) or PostgreSQL."""

from audit_viewer.cache.store import (
    CacheCorruptError,
    CacheError,
    CacheStore,
    CacheTooNewError,
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
    "SyncState",
    "resolve_cache_url",
]
