"""The hooks a kimia plugin may implement. Each one is documented in docs/plugins.md, and a test
fails if a hook here is missing there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from kimia.terminal.handlers import TerminalHandler

hookspec = pluggy.HookspecMarker("kimia")
hookimpl = pluggy.HookimplMarker("kimia")


@hookspec
def kimia_register_terminal_handlers() -> list[TerminalHandler]:
    """Terminal operations this plugin adds: each handler names the request MTIs and processing
    codes (field 3, first two digits) it answers. Two plugins claiming the same pair is an error
    at start-up."""
    return []  # pluggy never runs a specification's body


@hookspec
def kimia_operation_committed(kind: str, club_id: int, receipt: dict[str, Any]) -> None:
    """Called after an operation from a terminal is durable (committed), with its receipt.
    For notifiers (SMS, push) and analytics; must not raise (errors are logged and ignored)."""
