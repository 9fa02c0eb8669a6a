"""Alembic migrations of kimia's schema."""
