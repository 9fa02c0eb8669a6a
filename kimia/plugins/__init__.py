"""Plugins (pluggy): channels, terminal operations, hardware adapters and extras.

Every built-in terminal operation is itself a plugin (``kimia.terminal.handlers``); a plugin
package adds its own by implementing the hooks in ``kimia.plugins.hookspecs`` and registering
under the ``kimia`` entry-point group. See docs/plugins.md.
"""

from kimia.plugins.hookspecs import hookimpl, hookspec
from kimia.plugins.manager import PROJECT, default_plugin_manager, make_plugin_manager

__all__ = ["PROJECT", "default_plugin_manager", "hookimpl", "hookspec", "make_plugin_manager"]
