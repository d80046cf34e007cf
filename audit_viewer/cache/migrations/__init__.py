"""Alembic migrations of the cache schema, applied by :meth:`CacheStore.open`.

``env.py`` runs on the connection the store hands over (``config.attributes["connection"]``),
inside the store's own transaction, so a migration is all-or-nothing on SQLite and PostgreSQL.
To add a revision from a source checkout::

    python -c "from audit_viewer.cache.store import alembic_config; from alembic import command; \
command.revision(alembic_config(), message='what changed')"

then fill in ``upgrade()`` (and the tables in ``cache/schema.py``).
"""
