"""The appointments extra's hooks (registered as a built-in plugin: kimia.plugins.manager).

A merchant publishes services and time slots; members book them from the portal or the API;
staff confirm and check members in at the terminal (``0100/96``, ``0200/96``) or in the panel;
reminders go out through notifications (``appointment.booked``, ``appointment.reminder``,
``appointment.cancelled``). The work is in ``store``; this module only registers it.
"""

from __future__ import annotations

from pathlib import Path

from kimia.extras.appointments import api, pages, schema, store, terminal
from kimia.extras.appointments.words import WORDS
from kimia.plugins import hookimpl
from kimia.plugins.types import (ApiRoute, PanelPage, PeriodicTask, PluginSchema, Services, TemplateDir,
                                 TerminalOperation)

#: How often the notification worker looks for bookings to remind (seconds).
REMINDER_EVERY_S = 60


@hookimpl
def kimia_register_schema() -> PluginSchema:
    return schema.SCHEMA


@hookimpl
def kimia_register_terminal_operations() -> list[TerminalOperation]:
    return terminal.operations()


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
    return dict(WORDS)


def _remind(services: Services, now: int) -> None:
    store.send_reminders(services, now)


@hookimpl
def kimia_register_periodic_tasks() -> list[PeriodicTask]:
    return [PeriodicTask("appointments.reminders", REMINDER_EVERY_S, _remind)]
