"""Build the plugin manager: built-in plugins first, then those installed under the ``kimia``
entry-point group, then any passed in (tests)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pluggy

from kimia.plugins import hookspecs

PROJECT = "kimia"

#: Modules that are part of kimia and registered as plugins.
BUILTIN_PLUGINS = (
    "kimia.terminal.handlers",
    "kimia.extras.notifications.plugin",
    "kimia.extras.attendance.plugin",
    "kimia.extras.cash.plugin",
    "kimia.extras.appointments.plugin",
    "kimia.extras.messages.plugin",
)


def make_plugin_manager(extra: Iterable[object] = (), *, load_entry_points: bool = True) -> pluggy.PluginManager:
    import importlib

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


@lru_cache(maxsize=1)
def default_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager (built-ins and installed plugins), built once: what a service
    or a terminal host uses unless given its own."""
    return make_plugin_manager()
