"""docs/terminal-protocol.md is all a terminal vendor gets: its pyiso8583 spec must read what the
host sends, its client must make a MAC'd purchase against a real host with the ids and key the
command line gives, and every MTI, field-48 tag, response code and required field the host uses
must be in it, as the host uses it.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import iso8583  # type: ignore[import-untyped, unused-ignore]
import pytest
from click.testing import CliRunner

from kimia.cli import main
from kimia.service import Kimia
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import decode
from kimia.terminal.dialect import KIMIA_MTIS, KIMIA_V1
from kimia.terminal.handlers import BUILTIN, RESPONSE_FOR_ERROR
from kimia.terminal.response_codes import RESPONSE_CODES
from kimia.terminal.server import _HOST_REFUSALS, TerminalServer

from .test_server_flows import MAC_KEY, MK, build

DOC = (Path(__file__).resolve().parents[2] / "docs" / "terminal-protocol.md").read_text(encoding="utf-8")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC, flags=re.S)


def doc_spec() -> dict[str, Any]:
    (block,) = [b for b in python_blocks() if "KIMIA_V1_SPEC = {" in b]
    namespace: dict[str, Any] = {}
    exec(block, namespace)
    return dict(namespace["KIMIA_V1_SPEC"])


def doc_client() -> dict[str, Any]:
    (block,) = [b for b in python_blocks() if "def purchase(" in b]
    namespace: dict[str, Any] = {"KIMIA_V1_SPEC": doc_spec()}
    exec(block, namespace)
    return namespace


class HostThread:
    """A terminal host on its own event loop thread, so synchronous code (the document's client,
    the command line) can talk to it."""

    def __init__(self, service: Kimia) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = TerminalServer(service, allow_unkeyed=True)  # as scripts/run.sh serves the demo

    def __enter__(self) -> TerminalServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def host(service: Kimia) -> Iterator[TerminalServer]:
    with HostThread(service) as srv:
        yield srv


def test_the_documented_spec_is_the_host_layout() -> None:
    assert doc_spec() == {fid: dict(spec) for fid, spec in KIMIA_V1.spec.items()}
    assert doc_spec()["h"]["max_len"] == 0


def test_the_documented_spec_reads_the_documented_example_bytes() -> None:
    spec = doc_spec()
    hexes = re.findall(r"```\n([0-9A-F]{200,})\n```", DOC)
    assert len(hexes) == 2
    for text in hexes:
        framed = bytes.fromhex(text)
        assert int.from_bytes(framed[:2], "big") == len(framed) - 2
        fields, _ = iso8583.decode(framed[2:], spec)
        ours = decode(framed[2:], KIMIA_V1)
        assert fields["t"] == ours.mti
        for fid, value in ours.fields.items():
            assert fields[fid] == (value.hex().upper() if isinstance(value, bytes) else value)


def test_the_documented_spec_reads_what_the_host_sends(service: Kimia) -> None:
    world = build(service, mac_key=MAC_KEY)
    t = world.terminal
    buy = request(t, "0200", "000000", amount_rial=450_000, items=[*MK, (tlv.RC, "10000")], rrn="DOC000000001")
    inquiry = request(t, "0100", "310000", items=MK)

    async def answers() -> list[bytes]:
        srv = TerminalServer(service)
        try:
            return [answer for message in (buy, inquiry) if (answer := await srv.process(to_bytes(message, t))) is not None]
        finally:
            await srv.close()

    spec = doc_spec()
    for raw in asyncio.run(answers()):
        fields, _ = iso8583.decode(raw, spec)
        ours = decode(raw, KIMIA_V1)
        assert fields["39"] == "00"
        assert {fid: (v.hex().upper() if isinstance(v, bytes) else v) for fid, v in ours.fields.items()} == {
            fid: v for fid, v in fields.items() if fid not in ("t", "p", "1")}


def test_a_vendor_gets_from_the_document_to_a_macd_purchase(service: Kimia, db_url: str, host: TerminalServer) -> None:
    """The operator's commands give the ids, a member key and the MAC key; the document's own
    client (section 10) signs on and buys with them."""
    world = build(service)
    runner = CliRunner()
    listed = runner.invoke(main, ["--database", db_url, "terminal", "list"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "T0000001" in listed.output and "M00000000000001" in listed.output and f"A:{world.service.account_number(world.member)}" in listed.output
    keyed = runner.invoke(main, ["--database", db_url, "terminal", "set-key", "--terminal", "T0000001", "--merchant", "M00000000000001"],
                          catch_exceptions=False)
    assert keyed.exit_code == 0, keyed.output
    (key_hex,) = re.findall(r"shown only this once\): ([0-9A-F]{32})", keyed.output)
    client = doc_client()
    code, items = client["purchase"]("127.0.0.1", host.port, "T0000001", "M00000000000001", key_hex, f"A:{world.service.account_number(world.member)}", 250_000, 1)
    assert code == "00"
    assert dict(items)["BP"] == "25" and dict(items)["BC"] == "200000"
    # The key is set: a request signed with another key is refused (63), and the key is in no log.
    wrong = TerminalIdentity("T0000001", "M00000000000001", mac_key=bytes(16))

    async def refused() -> str | None:
        conn = await Connection.open("127.0.0.1", host.port)
        try:
            return (await conn.send(request(wrong, "0800", None, network_code="301"), wrong)).response_code
        finally:
            await conn.close()

    assert asyncio.run(refused()) == "63"
    with service.reading() as tx:
        audit = tx.all("SELECT payload FROM audit_log WHERE action = 'set_terminal_key'")
    assert len(audit) == 1 and key_hex.lower() not in str(audit[0][0]).lower()


def test_the_simulate_command_drives_the_host(service: Kimia, db_url: str, host: TerminalServer) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--database", db_url, "terminal", "simulate", "--port", str(host.port), "--setup",
                                  "--terminals", "2", "--members", "4", "--requests", "12", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "set up club" in result.output and "mismatches    0" in result.output


def test_the_serve_command_has_the_timeouts() -> None:
    result = CliRunner().invoke(main, ["terminal", "serve", "--help"])
    assert "--idle-timeout" in result.output and "--frame-timeout" in result.output
    assert "[default: 60.0" in result.output and "[default: 30.0" in result.output


def _table_rows(heading: str) -> list[list[str]]:
    section = DOC.split(heading, 1)[1].split("\n#", 1)[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|") and not line.startswith("|---")][1:]


def test_every_tag_mti_response_code_and_required_field_is_documented() -> None:
    tags = {row[0] for row in _table_rows("## 4. Field 48 tags")}
    assert set(tlv.TAGS) <= tags
    codes = {row[0] for row in _table_rows("## 6. Response codes")}
    used = set(RESPONSE_FOR_ERROR.values()) | set(_HOST_REFUSALS) | {"00", "13", "30", "63", "94"}
    assert used <= set(RESPONSE_CODES) == codes
    for mti in KIMIA_MTIS:
        assert mti in DOC
    documented = {}
    for row in _table_rows("### Required fields"):
        code = "" if row[2] == "—" else ("*" if row[2] == "any" else row[2])
        for mti in row[1].split(", "):
            documented[(mti, code)] = set(row[3].split())
    host = {(mti, code): set(h.required) for h in BUILTIN for mti in h.mtis for code in h.processing_codes}
    assert documented == host


def test_the_document_needs_nothing_a_vendor_does_not_have() -> None:
    for absent in ("has not been written", "tests/", "kimia/terminal/", "/work/shared", "research", "comes later"):
        assert absent not in DOC, absent
