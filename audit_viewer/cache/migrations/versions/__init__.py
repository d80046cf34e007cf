"""Alembic revision scripts (one file per schema version); alembic skips this file."""
