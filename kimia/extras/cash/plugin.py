"""The cash extra's hooks (registered as a built-in plugin: kimia.plugins.manager).

A merchant's daily expenses (SPEC X2) and cash receipts (X3), recorded on the card reader
(``0200/94``, ``0200/95``), through the API (``/api/v1/cash/...``) or in the panel (the cash
book), and the daily income report beside the card sales kimia saw. Everything goes through the
plain contract of ``kimia.plugins.types``.
"""

from __future__ import annotations

from pathlib import Path

from kimia.extras.cash import api, pages, schema, terminal, words
from kimia.plugins import hookimpl
from kimia.plugins.types import ApiRoute, PanelPage, PluginSchema, TemplateDir, TerminalOperation


@hookimpl
def kimia_register_schema() -> PluginSchema:
    return schema.SCHEMA


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
