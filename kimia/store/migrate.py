"""The schema's revision: brought to the newest by ``kimia init`` (Alembic), checked by every other start.

A process never migrates as a side effect of being built: under the ``check`` policy
(kimia.settings) it refuses a database that is missing (``not_initialized``) or behind the code
(``schema_outdated``) without writing anything, not even an empty SQLite file.
"""

from __future__ import annotations

from functools import lru_cache

import pluggy
from alembic import command
from alembic.config import Config

from kimia.errors import Phrase, reject
from kimia.store.engine import connect_url, is_sqlite, make_engine, sqlite_path
from kimia.store.plugin_schema import require_plugins, upgrade_plugins


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "kimia.store:migrations")
    config.set_main_option("sqlalchemy.url", connect_url(url))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision of the code's migrations (read once: they do not change while running)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: no kimia schema)."""
    from alembic.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def require_head(url: str, plugins: pluggy.PluginManager | None = None) -> None:
    """Refuse (``not_initialized``, ``schema_outdated``) a database ``kimia init`` has not brought
    to the newest revision, its plugins' steps included (``plugins``: the process's by default).
    A missing SQLite file is refused before it could be created."""
    path = sqlite_path(url) if is_sqlite(url) else None
    if path is not None and not path.exists():
        raise reject("not_initialized", detail=Phrase(f"there is no database at {path}", f"پایگاه داده‌ای در {path} نیست"))
    current, head = current_revision(url), head_revision()
    if current is None:
        raise reject("not_initialized", detail=Phrase(f"{_where(url)} has no kimia schema", f"پایگاه داده {_where(url)} هنوز ساخته نشده است"))
    if current != head:
        raise reject("schema_outdated", current=current, head=head)
    require_plugins(url, _plugins(plugins))


def _plugins(plugins: pluggy.PluginManager | None) -> pluggy.PluginManager:
    if plugins is not None:
        return plugins
    from kimia.plugins import default_plugin_manager

    return default_plugin_manager()


def _where(url: str) -> str:
    """The URL with any password hidden, for a message."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def upgrade(url: str | None = None, plugins: pluggy.PluginManager | None = None) -> None:
    """Bring the database at ``url`` to the newest revision, then apply the plugins' own steps
    (kimia.store.plugin_schema; ``plugins``: the process's by default). Idempotent."""
    url = connect_url(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    upgrade_plugins(url, _plugins(plugins))
