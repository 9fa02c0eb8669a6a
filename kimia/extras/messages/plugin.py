"""The messages extra's hooks (registered as a built-in plugin: kimia.plugins.manager)."""

from __future__ import annotations

from pathlib import Path

from kimia.plugins import hookimpl
from kimia.plugins.types import ApiRoute, NotificationChannel, PanelPage, PluginSchema, TemplateDir

from . import api, channels, pages, schema, words


@hookimpl
def kimia_register_schema() -> PluginSchema:
    return schema.SCHEMA


@hookimpl
def kimia_register_notification_channels() -> list[NotificationChannel]:
    return [channels.SmsChannel(), channels.EmailChannel(), channels.WebhookChannel()]


@hookimpl
def kimia_register_api_routes() -> list[ApiRoute]:
    return api.routes()


@hookimpl
def kimia_register_pages() -> list[PanelPage]:
    return pages.pages()


@hookimpl
def kimia_register_templates() -> list[TemplateDir]:
    return [TemplateDir(str(Path(__file__).parent / "templates"))]


@hookimpl
def kimia_register_words() -> dict[str, tuple[str, str]]:
    return dict(words.WORDS)
