"""Dialects as plugins: kimia's own are registered by a built-in plugin (kimia.terminal.dialect),
``--dialect`` resolves a registered name (a JSON layout file still works), and a plugin's dialect
(a DialectSpec with a pyiso8583 spec) is served over real TCP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kimia.app import assemble
from kimia.cli import main
from kimia.plugins import hookimpl, make_plugin_manager
from kimia.plugins.types import DialectSpec
from kimia.settings import Settings
from kimia.terminal.client import Connection, TerminalIdentity, request
from kimia.terminal.dialect import (KIMIA_V1, DialectError, dialect_of, dialect_to_json, registered_dialects, resolve_dialect,
                                    spec_of)
from kimia.terminal.server import TerminalServer
from kimia.world import WorldBuilder

#: kimia's layout framed as some switches frame it: four ASCII digits of length and a TPDU.
TPDU_SPEC = DialectSpec("acme-tpdu", spec=dialect_to_json(KIMIA_V1)["fields"], length_prefix="ascii4", tpdu=True,
                        mtis=("0800", "0810"), description="kimia-v1 fields, ASCII length, TPDU")


class AcmePlugin:
    @hookimpl
    def kimia_register_dialects(self) -> list[DialectSpec]:
        return [TPDU_SPEC]


class Twin:
    @hookimpl
    def kimia_register_dialects(self) -> list[DialectSpec]:
        return [spec_of(KIMIA_V1)]


class Broken:
    @hookimpl
    def kimia_register_dialects(self) -> list[DialectSpec]:
        return [DialectSpec("broken", spec={"t": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 4}})]


def test_kimias_own_dialect_is_registered_by_a_builtin_plugin() -> None:
    pm = make_plugin_manager(load_entry_points=False)
    known = registered_dialects(pm)
    assert known["kimia-v1"] == ("kimia.terminal.dialect", KIMIA_V1)
    assert resolve_dialect(None, pm) == KIMIA_V1 and resolve_dialect("kimia-v1", pm) == KIMIA_V1
    assert dialect_of(spec_of(KIMIA_V1)) == KIMIA_V1  # the contract's form carries everything


def test_a_json_layout_file_still_works_and_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    pm = make_plugin_manager([AcmePlugin()], load_entry_points=False)
    layout = tmp_path / "psp.json"
    layout.write_text(json.dumps({**dialect_to_json(KIMIA_V1), "name": "from-file"}), encoding="utf-8")
    assert resolve_dialect(str(layout), pm).name == "from-file"
    with pytest.raises(DialectError, match="no dialect named 'nope': the registered ones are acme-tpdu, kimia-v1"):
        resolve_dialect("nope", pm)


def test_two_dialects_with_one_name_or_an_invalid_one_are_refused_with_the_plugin() -> None:
    with pytest.raises(DialectError, match="both register a dialect named 'kimia-v1'"):
        registered_dialects(make_plugin_manager([Twin()], load_entry_points=False))
    pm = make_plugin_manager([Broken()], load_entry_points=False)
    with pytest.raises(DialectError, match=r"plugin \d+: broken: missing required field 'p'"):
        registered_dialects(pm)


def test_terminal_serve_refuses_an_unknown_dialect(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["terminal", "serve", "--dialect", "nope"],
                                env={"KIMIA_DATABASE_URL": f"sqlite:///{tmp_path}/k.db", "KIMIA_PLUGINS": "none"})
    assert result.exit_code == 2 and "no dialect named 'nope'" in result.output and "kimia-v1" in result.output


async def sign_on(port: int, dialect: Any) -> Any:
    terminal = TerminalIdentity("T0000001", "M00000000000001")
    conn = await Connection.open("127.0.0.1", port, dialect)
    try:
        message = request(terminal, "0800", None, network_code="301")
        message.tpdu = bytes.fromhex("6000120034")  # to the host's NII 0012 from the terminal's 0034
        return await conn.send(message, terminal, timeout_s=10)
    finally:
        await conn.close()


def test_a_plugins_dialect_is_served_over_tcp(db_url: str) -> None:
    pm = make_plugin_manager([AcmePlugin()], load_entry_points=False)
    dialect = resolve_dialect("acme-tpdu", pm)
    assert (dialect.length_prefix, dialect.tpdu, dialect.mtis) == ("ascii4", True, frozenset({"0800", "0810"}))
    with assemble(Settings.from_env({}, database_url=db_url, dev_mode=True, migrations="upgrade"), plugins=pm) as service:
        b = WorldBuilder(service)
        shop = b.shop("مالک", "باشگاه", "فروشگاه")
        b.terminal(shop.merchant_id, "T0000001", "M00000000000001")

        async def run() -> Any:
            server = TerminalServer(service, dialect=dialect, allow_unkeyed=True)
            await server.start()
            try:
                return await sign_on(server.port, dialect)
            finally:
                await server.close()

        answer = asyncio.run(run())
    assert answer.mti == "0810" and answer.response_code == "00"
    assert answer.tpdu == bytes.fromhex("6000340012")  # the answer swaps destination and source
