"""The built-in terminal handlers are registered as a plugin, and a plugin can add a terminal
operation without touching the server (every hook is documented: test_docs.py)."""

from __future__ import annotations

import pytest

from kimia.plugins import hookimpl, make_plugin_manager
from kimia.plugins.types import TerminalOperation, TerminalReply, TerminalRequest
from kimia.terminal.handlers import BUILTIN
from kimia.terminal.server import HandlerConflict, build_registry


def test_builtin_handlers_are_a_plugin() -> None:
    pm = make_plugin_manager(load_entry_points=False)
    registry = build_registry(pm)
    for handler in BUILTIN:
        for mti in handler.mtis:
            for code in handler.processing_codes:
                assert registry[(mti, code)] is handler


class AttendancePlugin:
    @staticmethod
    def clock_in(request: TerminalRequest) -> TerminalReply:
        return TerminalReply("00", items=[("RL", "ورود ثبت شد")])

    @hookimpl
    def kimia_register_terminal_operations(self) -> list[TerminalOperation]:
        return [TerminalOperation("attendance", ("0200",), ("92",), self.clock_in)]


def test_a_plugin_adds_a_terminal_operation() -> None:
    pm = make_plugin_manager([AttendancePlugin()], load_entry_points=False)
    assert build_registry(pm)[("0200", "92")].name == "attendance"


class Clash:
    @hookimpl
    def kimia_register_terminal_operations(self) -> list[TerminalOperation]:
        return [TerminalOperation("clash", ("0200",), ("00",), AttendancePlugin.clock_in)]


def test_two_plugins_claiming_one_operation_fail_at_start() -> None:
    pm = make_plugin_manager([Clash()], load_entry_points=False)
    with pytest.raises(HandlerConflict):
        build_registry(pm)
