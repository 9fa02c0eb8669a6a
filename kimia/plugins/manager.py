"""Build the plugin manager: built-in plugins first, then those installed under the ``kimia``
entry-point group (or those ``KIMIA_PLUGINS`` names: entry points or dotted module paths), then
any passed in (tests). And the start-up and shut-down of a process's plugins (:func:`started`,
:func:`stopping`), which every kind of process calls the same way."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal

import pluggy

from kimia.plugins import hookspecs
from kimia.plugins.types import Services

PROJECT = "kimia"

log = logging.getLogger("kimia.plugins")

#: Modules that are part of kimia and registered as plugins.
BUILTIN_PLUGINS = (
    "kimia.terminal.handlers",
    "kimia.terminal.dialect",
    "kimia.extras.notifications.plugin",
    "kimia.extras.attendance.plugin",
    "kimia.extras.cash.plugin",
    "kimia.extras.appointments.plugin",
    "kimia.extras.messages.plugin",
)

#: Where a plugin came from, as ``kimia plugins`` shows it.
Origin = Literal["built-in", "entry point", "configuration", "passed in"]


def make_plugin_manager(extra: Iterable[object] = (), *, load_entry_points: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(PROJECT)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


class PluginNotFound(LookupError):
    """A name ``KIMIA_PLUGINS`` gives is neither an installed entry point nor an importable module."""


def load_configured(pm: pluggy.PluginManager, names: Iterable[str]) -> None:
    """Load the plugins ``KIMIA_PLUGINS`` names into ``pm``: each is the name of an entry point
    of the ``kimia`` group (an installed package), else a dotted module path
    (``my_pkg.kimia_plugin``) imported and registered under that name, so a plugin can be used
    without packaging it; ``*`` loads every installed one. :class:`PluginNotFound` when it is
    neither."""
    for name in names:
        if name == "*":
            pm.load_setuptools_entrypoints(PROJECT)
            continue
        if pm.load_setuptools_entrypoints(PROJECT, name=name):
            continue
        if pm.get_plugin(name) is not None:
            continue
        if not all(part.isidentifier() for part in name.split(".")):
            raise PluginNotFound(f"no plugin {name} is installed under the kimia entry points")
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                raise PluginNotFound(f"no plugin {name} is installed under the kimia entry points,"
                                     " and there is no module of that name") from None
            raise
        pm.register(module, name=name)
    pm.check_pending()


def origin(pm: pluggy.PluginManager, name: str) -> tuple[Origin, str]:
    """Where the plugin registered as ``name`` came from, and its distribution (``<dist>
    <version>``) when it was installed under the entry points."""
    if name in BUILTIN_PLUGINS:
        return "built-in", ""
    plugin = pm.get_plugin(name)
    for loaded, dist in pm.list_plugin_distinfo():
        if loaded is plugin:
            return "entry point", f"{dist.metadata['name']} {dist.version}"
    if isinstance(name, str) and all(part.isidentifier() for part in name.split(".")) and getattr(plugin, "__name__", None) == name:
        return "configuration", ""
    return "passed in", ""


@lru_cache(maxsize=1)
def default_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager (built-ins and installed plugins), built once: what a service
    or a terminal host uses unless given its own."""
    return make_plugin_manager()


# --- start-up and shut-down ----------------------------------------------------------------------

#: The processes that start plugins.
PROCESSES = ("web", "terminal", "worker", "cli")


class PluginStartupFailed(RuntimeError):
    """A plugin's ``kimia_startup`` raised: the process must not run with it half started. The
    plugins started before it were told ``kimia_shutdown`` already."""

    def __init__(self, plugin: str, process: str, error: BaseException) -> None:
        super().__init__(f"plugin {plugin} failed to start in the {process} process: {type(error).__name__}: {error}")
        self.plugin = plugin
        self.process = process
        self.error = error


def _call(impl: Any, **args: Any) -> None:
    impl.function(**{name: args[name] for name in impl.argnames})


def started(pm: pluggy.PluginManager, services: Services, process: str) -> None:
    """Call every plugin's ``kimia_startup(services, process)``, kimia's built-ins first, before the
    process serves. One that raises stops the start: those started before it are told
    ``kimia_shutdown`` (in reverse order) and :class:`PluginStartupFailed` names the plugin."""
    if process not in PROCESSES:
        raise ValueError(f"process must be one of {PROCESSES}, not {process!r}")
    done: list[Any] = []
    for impl in pm.hook.kimia_startup.get_hookimpls():
        try:
            _call(impl, services=services, process=process)
        except Exception as exc:
            log.error("plugin %s failed to start in the %s process", impl.plugin_name, process, exc_info=True)
            _shut(pm, process, {i.plugin_name for i in done})
            raise PluginStartupFailed(impl.plugin_name, process, exc) from exc
        done.append(impl)


def stopping(pm: pluggy.PluginManager, process: str) -> None:
    """Call every plugin's ``kimia_shutdown(process)``, in the reverse order of start-up, after the
    process stopped serving. One that raises is logged with its name; the others still run."""
    _shut(pm, process, None)


def _shut(pm: pluggy.PluginManager, process: str, only: set[str] | None) -> None:
    for impl in reversed(pm.hook.kimia_shutdown.get_hookimpls()):
        if only is not None and impl.plugin_name not in only:
            continue
        try:
            _call(impl, process=process)
        except Exception:
            log.exception("plugin %s failed to shut down in the %s process", impl.plugin_name, process)


# --- what is loaded (``kimia plugins``) -------------------------------------------------------------


class _TableRecorder:
    """A :class:`kimia.plugins.types.Db` that runs nothing and notes the tables a migration creates."""

    def __init__(self, dialect: Literal["sqlite", "postgresql"]) -> None:
        self.dialect = dialect
        self.tables: list[str] = []

    def execute(self, sql: str, params: Any = ()) -> int:
        import re

        for match in re.finditer(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", sql, re.IGNORECASE):
            if match.group(1) not in self.tables:
                self.tables.append(match.group(1))
        return 0

    def one(self, sql: str, params: Any = ()) -> None:
        self.execute(sql)
        return None

    def all(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.execute(sql)
        return []

    def insert(self, table: str, row: Any) -> int:
        return 0

    def emit(self, event: str, **kwargs: Any) -> str:
        return event

    def audit(self, **kwargs: Any) -> None:
        return None


def _items(impl: Any) -> list[Any]:
    found = impl.function()
    if found is None:
        return []
    return list(found) if isinstance(found, (list, tuple)) else [found]


def describe(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Every loaded plugin, kimia's built-ins first: its name, where it came from, the hooks it
    implements and what its registration hooks register (terminal operations, dialects, API
    routes, pages, templates, static folders, words, tables, channels, periodic tasks). Commands
    are the command line's to list (they need its group)."""
    out: list[dict[str, Any]] = []
    for name, plugin in _in_order(pm):
        where, dist = origin(pm, name)
        entry: dict[str, Any] = {"name": name, "origin": where, "distribution": dist or None,
                                 "hooks": sorted(caller.name for caller in (pm.get_hookcallers(plugin) or []))}
        for hook, impl in _impls(pm, plugin):
            if hook == "kimia_register_terminal_operations":
                entry["terminal_operations"] = [{"name": op.name, "mtis": list(op.mtis), "processing_codes": list(op.processing_codes)}
                                                for op in _items(impl)]
            elif hook == "kimia_register_dialects":
                entry["dialects"] = [{"name": d.name, "description": d.description} for d in _items(impl)]
            elif hook == "kimia_register_api_routes":
                entry["api_routes"] = [{"method": r.method, "path": "/api/v1" + r.path, "access": sorted(r.access), "summary": r.summary,
                                        "tag": r.tag} for r in _items(impl)]
            elif hook == "kimia_register_pages":
                entry["pages"] = [{"site": p.site, "path": f"/{p.site}{p.rule}", "name": p.name, "roles": sorted(p.roles),
                                   "methods": list(p.methods),
                                   "menu": None if p.menu is None else {"fa": p.menu.label_fa, "en": p.menu.label_en, "order": p.menu.order}}
                                  for p in _items(impl)]
            elif hook == "kimia_register_templates":
                entry["templates"] = [t.path for t in _items(impl)]
            elif hook == "kimia_register_static":
                entry["static"] = [{"name": s.name, "path": s.path} for s in _items(impl)]
            elif hook == "kimia_register_words":
                entry["words"] = len(impl.function() or {})
            elif hook == "kimia_register_schema":
                entry["schema"] = _schema(impl)
            elif hook == "kimia_register_notification_channels":
                entry["notification_channels"] = [str(getattr(c, "name", type(c).__name__)) for c in _items(impl)]
            elif hook == "kimia_register_periodic_tasks":
                entry["periodic_tasks"] = [{"name": t.name, "every_s": t.every_s} for t in _items(impl)]
        out.append(entry)
    return out


def _in_order(pm: pluggy.PluginManager) -> list[tuple[str, Any]]:
    """(name, plugin) in registration order (kimia's built-ins first)."""
    named = [(name, plugin) for name, plugin in pm.list_name_plugin() if plugin is not None]
    order = {name: i for i, name in enumerate(BUILTIN_PLUGINS)}
    return sorted(named, key=lambda item: order.get(item[0], len(order)))


def _impls(pm: pluggy.PluginManager, plugin: Any) -> list[tuple[str, Any]]:
    found = []
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin:
                found.append((caller.name, impl))
    return sorted(found, key=lambda item: item[0])


def _schema(impl: Any) -> dict[str, Any] | None:
    schema = impl.function()
    if schema is None:
        return None
    recorder = _TableRecorder("sqlite")
    for step in schema.migrations:
        try:
            step.upgrade(recorder)
        except Exception:  # a step that reads what it migrates: its tables are not all known
            log.debug("could not list the tables of %s %s", schema.name, step.revision, exc_info=True)
    return {"name": schema.name, "migrations": [m.revision for m in schema.migrations], "tables": recorder.tables}
