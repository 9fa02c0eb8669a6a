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
def kimia_operation_committed(kind: str, club_id: int, op_id: int, member_id: int | None, receipt: dict[str, Any]) -> None:
    """Called once for every operation the service committed, whatever the channel (terminal,
    API, panel, CLI, the period close): ``kind`` is the operation's kind (``purchase``, ``hold``,
    ``completion``, ``cancel``, ``refund``, ``reversal``, ``charge``, ``conversion``, ``voucher``,
    ``adjustment``, ``expiry``, ``enroll``), ``club_id`` the club whose ledger holds it, ``op_id``
    its operation id, ``member_id`` its member (``None`` for a reversal that found nothing),
    ``receipt`` the answer stored with it. Runs on the service's event thread after the commit, in
    commit order; an exception is logged and changes nothing. Docs: docs/plugins.md."""
