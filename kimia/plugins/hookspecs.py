"""The hooks a kimia plugin may implement, in three families (docs/plugins.md documents each one,
and ``tests/plugins/test_docs.py`` fails when a signature there differs from the one here):

- registration (``kimia_register_*``): what a plugin adds; each returns a list, and kimia
  collects every plugin's;
- notifications (past tense): called after the transaction that caused them committed, from
  every channel, never for what was rolled back, never twice for one thing;
- start-up and shut-down of a process.

This module imports nothing of kimia but the plain types of ``kimia.plugins.types``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from kimia.plugins.types import (ApiRoute, DialectSpec, NotificationChannel, PanelPage, PeriodicTask, PluginSchema, Services,
                                 StaticDir, TemplateDir, TerminalOperation)

hookspec = pluggy.HookspecMarker("kimia")
hookimpl = pluggy.HookimplMarker("kimia")


# --- registration --------------------------------------------------------------------------------


@hookspec
def kimia_register_terminal_operations() -> list[TerminalOperation]:
    """Terminal operations this plugin answers; two claiming the same (MTI, processing code) stop
    the host at start-up."""
    return []  # pluggy never runs a specification's body


@hookspec
def kimia_register_dialects() -> list[DialectSpec]:
    """Terminal dialects (vendor message layouts) the host can speak (``--dialect <name>``)."""
    return []


@hookspec
def kimia_register_api_routes() -> list[ApiRoute]:
    """Routes under ``/api/v1``, served with the API's keys, errors and idempotency."""
    return []


@hookspec
def kimia_register_pages() -> list[PanelPage]:
    """Pages of the panel and the member portal, with their roles and menu entries."""
    return []


@hookspec
def kimia_register_templates() -> list[TemplateDir]:
    """Folders of Jinja templates, searched after kimia's own."""
    return []


@hookspec
def kimia_register_words() -> dict[str, tuple[str, str]]:
    """Words of the plugin's pages, ``key → (Persian, English)``, for ``_("key")`` in its
    templates; name keys ``<plugin>.…``. A key another plugin defined differently is an error."""
    return {}


@hookspec
def kimia_register_static() -> list[StaticDir]:
    """Folders of static files, served at ``/static/plugins/<name>/``."""
    return []


@hookspec
def kimia_register_commands(cli: Any, services: Callable[[], Services]) -> None:
    """Add commands to the ``kimia`` command (``cli`` is its click group: ``@cli.command()``);
    ``services()`` assembles the service from the command's settings when a command needs it."""


@hookspec
def kimia_register_schema() -> PluginSchema | None:
    """The plugin's own tables and their migrations, run by ``kimia init`` after kimia's."""
    return None


@hookspec
def kimia_register_notification_channels() -> list[NotificationChannel]:
    """Ways of delivering notification events (SMS, e-mail, webhooks, ...)."""
    return []


@hookspec
def kimia_register_periodic_tasks() -> list[PeriodicTask]:
    """Work the notification worker runs on a schedule (reminders, expiry warnings)."""
    return []


# --- notifications, after commit ------------------------------------------------------------------


@hookspec
def kimia_operation_committed(kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any]) -> None:
    """An operation committed (``kind``: ``purchase``, ``hold``, ``completion``, ``cancel``,
    ``refund``, ``reversal``, ``charge``, ``conversion``, ``voucher``, ``adjustment``, ``expiry``,
    ``enroll``); ``receipt`` is the answer stored with it."""


@hookspec
def kimia_member_enrolled(club_id: int, member_id: int, via: str) -> None:
    """A member was enrolled (``via``: ``pos``, ``api``, ``panel``, ``app``, ...)."""


@hookspec
def kimia_tier_changed(club_id: int, member_id: int, from_tier: str | None, to_tier: str | None, reason: str) -> None:
    """A member's tier changed (``reason``: ``period_close`` or ``manual``)."""


@hookspec
def kimia_voucher_issued(club_id: int, member_id: int, voucher_id: int, template_id: int | None) -> None:
    """A voucher was issued to a member (bought, or given by a rule)."""


@hookspec
def kimia_lottery_drawn(club_id: int, lottery_id: int, winners: list[int]) -> None:
    """A lottery was drawn; ``winners`` are the winning members' ids, in draw order."""


@hookspec
def kimia_value_expiring(club_id: int, member_id: int, kind: str, amount: int, expires_at: int) -> None:
    """A member's ``amount`` of ``kind`` (``points`` or a credit account) expires at
    ``expires_at`` (Unix s), within the club's warning window; told once per lot."""


# --- start-up and shut-down ------------------------------------------------------------------------


@hookspec
def kimia_startup(services: Services, process: str) -> None:
    """A process started (``process``: ``web``, ``terminal``, ``worker``, ``cli``), before it serves."""


@hookspec
def kimia_shutdown(process: str) -> None:
    """A process is stopping, after it stopped serving."""
