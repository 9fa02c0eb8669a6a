"""Persistence: SQLAlchemy models, engines (SQLite by default, PostgreSQL at scale), migrations."""

from kimia.store.engine import connect_url, make_engine
from kimia.store.models import Base

__all__ = ["Base", "connect_url", "make_engine"]
