"""Alembic migrations of the consultbot schema (see storage.schema)."""
