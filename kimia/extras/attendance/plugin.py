"""The attendance extra's hooks (registered as a built-in plugin: kimia.plugins.manager).

Staff clock in and out on the merchant's card reader (processing code 93), through the API
(``/attendance/...``) and in the panel (*Attendance*); see ``store`` for the tables and the rules.
This package imports nothing of kimia but ``kimia.plugins`` and ``kimia.web.panel.fmt``.
"""

from __future__ import annotations

from pathlib import Path

from kimia.plugins import hookimpl
from kimia.plugins.types import ApiRoute, PanelPage, PluginSchema, TemplateDir, TerminalOperation

from . import api, pages, store, terminal, words


@hookimpl
def kimia_register_schema() -> PluginSchema:
    return store.SCHEMA


@hookimpl
def kimia_register_terminal_operations() -> list[TerminalOperation]:
    return list(terminal.OPERATIONS)


@hookimpl
def kimia_register_api_routes() -> list[ApiRoute]:
    return list(api.ROUTES)


@hookimpl
def kimia_register_pages() -> list[PanelPage]:
    return list(pages.PAGES)


@hookimpl
def kimia_register_templates() -> list[TemplateDir]:
    return [TemplateDir(str(Path(__file__).parent / "templates"))]


@hookimpl
def kimia_register_words() -> dict[str, tuple[str, str]]:
    return dict(words.WORDS)
