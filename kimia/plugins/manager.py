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
