"""What can go wrong with the cache, as exceptions whose text an administrator can act on."""


class CacheError(Exception):
    """The cache cannot be used; ``str()`` says why in words an administrator can act on."""


class CacheCorruptError(CacheError):
    """Not a database, not an audit-viewer cache, or damaged. The file is never overwritten."""


class CacheTooNewError(CacheError):
    """Written by a newer audit-viewer whose schema this version does not know; left untouched."""


class SyncBusyError(CacheError):
    """Another sync of the same profile into the same cache is running."""
