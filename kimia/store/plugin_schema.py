"""Plugins' own tables: each plugin's migrations (``kimia_register_schema``) run in their list
order, after kimia's own, each step in its own transaction and recorded in ``plugin_migrations``
(migration 0016). ``kimia init`` and the ``upgrade`` policy apply them; the ``check`` policy
refuses to start while one is missing (``schema_outdated``), as it does for kimia's."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from kimia.errors import reject
from kimia.plugins.types import Migration, PluginSchema
from kimia.service.sql import Tx
from kimia.store.engine import raw_connect
from kimia.store.models import utc_now_s


def schemas(pm: pluggy.PluginManager) -> list[PluginSchema]:
    """Every registered plugin's schema, in registration order; two with one name is an error."""
    found = [s for s in pm.hook.kimia_register_schema() if s is not None]
    found.reverse()  # pluggy calls the last registered first; kimia's built-ins go first
    names = [s.name for s in found]
    if len(names) != len(set(names)):
        raise ValueError(f"two plugins register a schema under one name: {sorted(names)}")
    return found


def applied(tx: Tx) -> set[tuple[str, str]]:
    return {(str(p), str(r)) for p, r in tx.all("SELECT plugin, revision FROM plugin_migrations")}


def missing(url: str, pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(plugin, revision) of every step not applied to the database at ``url``."""
    conn = raw_connect(url)
    try:
        tx = Tx(conn)
        done = applied(tx)
        return [(s.name, m.revision) for s in schemas(pm) for m in s.migrations if (s.name, m.revision) not in done]
    finally:
        conn.close()


def upgrade_plugins(url: str, pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """Apply every missing step, in order, each in its own transaction; what was applied."""
    from kimia.service.plugin_services import PluginDb

    conn = raw_connect(url)
    done: list[tuple[str, str]] = []
    try:
        tx = Tx(conn)
        for schema in schemas(pm):
            for step in _steps(schema.migrations):
                if (schema.name, step.revision) in applied(tx):
                    continue
                tx.begin_write()
                try:
                    step.upgrade(PluginDb(tx))
                    tx.execute("INSERT INTO plugin_migrations (plugin, revision, applied_at) VALUES (?,?,?)",
                               (schema.name, step.revision, utc_now_s()))
                    tx.commit()
                except BaseException:
                    tx.rollback()
                    raise
                done.append((schema.name, step.revision))
    finally:
        conn.close()
    return done


def require_plugins(url: str, pm: pluggy.PluginManager) -> None:
    """Refuse (``schema_outdated``) a database missing a plugin's step."""
    lacking = missing(url, pm)
    if lacking:
        plugin, revision = lacking[0]
        raise reject("schema_outdated", current="(plugin " + plugin + ")", head=f"{plugin}:{revision}")


def _steps(migrations: Iterable[Migration]) -> list[Migration]:
    steps = list(migrations)
    revisions = [m.revision for m in steps]
    if len(revisions) != len(set(revisions)):
        raise ValueError(f"a plugin's migrations repeat a revision: {revisions}")
    return steps
