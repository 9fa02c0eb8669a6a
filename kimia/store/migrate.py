"""Create or upgrade a database to the newest schema with Alembic (``kimia init``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from kimia.store.engine import connect_url, make_engine


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "kimia.store:migrations")
    config.set_main_option("sqlalchemy.url", connect_url(url))
    return config


def upgrade(url: str | None = None) -> None:
    """Bring the database at ``url`` to the newest revision (idempotent)."""
    url = connect_url(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
