"""Issue 13, items 5, 11, 12 and 14, against the real host over loopback TCP on SQLite and PostgreSQL:

* terminal MAC keys are stored only under the key-encryption key, with a version and check value;
  the migration encrypts clear keys (and refuses to without a KEK); ``rotate-kek`` re-encrypts; a
  terminal changes its own key with an 0800 (70 = 161);
* a production host refuses unkeyed terminals and MAC-less dialects; a keyed terminal sending no
  MAC gets 63;
* every authentication failure gets the same unsigned 63 and is logged and counted;
* connections are capped in total and per address, requests waiting for a worker are bounded
  (91), the writer's queue is bounded (``overloaded``), and a deactivated merchant's terminals
  neither refund nor enrol.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncio
import json
import logging
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from sqlalchemy import create_engine, text

from kimia.cli import main
from kimia.errors import KimiaError
from kimia.service import Admin, Kimia
from kimia.service.writer import Writer
from kimia.store.engine import connect_url, make_engine
from kimia.store.migrate import alembic_config
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import Message, decode
from kimia.terminal.dialect import KIMIA_V1, dialect_from_json, dialect_to_json
from kimia.terminal.framing import frame
from kimia.terminal.keys import Kek, kcv
from kimia.terminal.mac import verify_message
from kimia.terminal.registry import set_terminal_key
from kimia.terminal.server import TerminalServer

from .conftest import TEST_KEK, connected, serving

TID, MID = "T0000001", "M00000000000001"
KEY = bytes(range(16))
MOBILE = "+989121234567"
PAN = "6037991234567893"
LOGGER = "kimia.terminal.server"
RULES: dict[str, Any] = {"rules": [{"id": "base", "name": {"en": "1 point / 10,000", "fa": "امتیاز"},
                                    "effects": [{"type": "points", "per_rial": 10000, "points": 1, "rounding": "floor"}],
                                    "funding": {"club_owner": 10000}}]}
MK = [(tlv.MK, f"M:{MOBILE}")]
NO_MAC = dialect_from_json({**dialect_to_json(KIMIA_V1), "name": "no-mac", "mac_fields": []})


def build(service: Kimia, *, mac_key: bytes | None = KEY) -> tuple[int, int, TerminalIdentity]:
    admin = Admin(service)
    club = admin.create_club(admin.create_owner("مالک"), "باشگاه آزمون")
    merchant = admin.create_merchant(club, "کافه")
    admin.create_terminal(merchant, TID, MID, mac_key_hex=mac_key.hex() if mac_key else None)
    admin.publish_rules(club, RULES, actor="test")
    member = int(service.enroll(club, idem_key="setup-member", identifiers=[("mobile", MOBILE)])["member_id"])
    service.charge(club, member, idem_key="setup-credit", kind="gift_credit", amount_rial=100_000, source={"type": "club", "id": club},
                   actor="test", reason="setup")
    return club, merchant, TerminalIdentity(TID, MID, mac_key=mac_key)


def cells(url: str) -> list[str]:
    """Every text cell of every table: what a database dump shows."""
    engine = create_engine(url)
    out: list[str] = []
    try:
        with engine.connect() as conn:
            tables = [t for t in engine.dialect.get_table_names(conn) if t != "alembic_version"]
            for table in tables:
                for row in conn.execute(text(f"SELECT * FROM {table}")):
                    out.extend(str(v) for v in row if v is not None)
    finally:
        engine.dispose()
    return out


def key_forms(key: bytes) -> tuple[str, str]:
    return key.hex(), key.hex().upper()


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Alembic to ``revision`` on a connection of our own (closed afterwards, whatever happens)."""
    engine = make_engine(connect_url(url))
    try:
        with engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- item 5: keys at rest, rotation, key change ------------------------------------------------------


def test_terminal_keys_are_stored_only_encrypted_with_a_version_and_check_value(service: Kimia, db_url: str) -> None:
    build(service)
    other = bytes(range(100, 132))
    set_terminal_key(service, TID, MID, other, actor="test")
    dump = "\n".join(cells(db_url))
    for key in (KEY, other):
        for form in key_forms(key):
            assert form not in dump, "a terminal MAC key is in the database in clear"
    with service.reading() as tx:
        row = tx.one("SELECT mac_key_version, mac_key_kcv, mac_key_enc FROM terminals WHERE terminal_code = ?", (TID,))
    assert row is not None and row[0] == 2 and row[1] == kcv(other) and str(row[2]).startswith(f"k1:{Kek.from_hex(TEST_KEK).kid}:")
    terminal = service.terminal(TID, MID)
    assert terminal.mac_key == other and other.hex() not in repr(terminal)


def test_a_stored_key_is_useless_without_the_kek(service: Kimia, monkeypatch: pytest.MonkeyPatch) -> None:
    build(service)
    service.caches.clear()
    monkeypatch.setenv("KIMIA_TERMINAL_KEK", "ff" * 32)
    with pytest.raises(KimiaError) as caught:
        service.terminal(TID, MID)
    assert caught.value.code == "terminal_kek_missing"
    monkeypatch.delenv("KIMIA_TERMINAL_KEK")
    monkeypatch.delenv("KIMIA_DEV_MODE", raising=False)
    service.caches.clear()
    with pytest.raises(KimiaError) as caught:
        service.terminal(TID, MID)
    assert caught.value.code == "terminal_kek_missing"


def test_the_migration_encrypts_clear_keys_and_refuses_without_a_kek(db_url: str, monkeypatch: pytest.MonkeyPatch, open_service: Callable[..., Kimia]) -> None:
    with open_service(db_url) as service:
        build(service)
    migrate(db_url, "0003", down=True)  # the schema of before: the key in clear in mac_key_hex
    assert KEY.hex() in cells(db_url)
    monkeypatch.delenv("KIMIA_TERMINAL_KEK")
    monkeypatch.delenv("KIMIA_DEV_MODE", raising=False)
    with pytest.raises(KimiaError) as caught:
        migrate(db_url, "head")
    assert caught.value.code == "terminal_kek_missing"
    assert KEY.hex() in cells(db_url)  # nothing half done: the key is as it was
    monkeypatch.setenv("KIMIA_TERMINAL_KEK", TEST_KEK)
    migrate(db_url, "head")
    dump = "\n".join(cells(db_url))
    assert KEY.hex() not in dump and KEY.hex().upper() not in dump
    monkeypatch.setenv("KIMIA_DEV_MODE", "1")  # the card-hash key is not what this test is about
    with open_service(db_url) as service:
        assert service.terminal(TID, MID).mac_key == KEY

        async def body() -> str | None:
            async with serving(service, allow_unkeyed=False) as srv, connected(srv) as conn:
                t = TerminalIdentity(TID, MID, mac_key=KEY)
                return (await conn.send(request(t, "0800", None, network_code="301"), t)).response_code

        assert run(body()) == "00"


def test_rotate_kek_reencrypts_every_key(service: Kimia, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(service)
    new = Kek.from_hex("42" * 32)
    path = tmp_path / "new.kek"
    path.write_text("42" * 32)
    result = CliRunner().invoke(main, ["--database", db_url, "terminal", "rotate-kek", "--new-kek-file", str(path)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 terminal key(s) re-encrypted" in result.output and KEY.hex() not in result.output.lower()
    again = CliRunner().invoke(main, ["--database", db_url, "terminal", "rotate-kek", "--new-kek-file", str(path)],
                               catch_exceptions=False)
    assert "0 terminal key(s)" in again.output  # a rerun is safe
    with service.reading() as tx:
        (stored,) = tx.one("SELECT mac_key_enc FROM terminals WHERE terminal_code = ?", (TID,)) or (None,)
    assert str(stored).startswith(f"k1:{new.kid}:")
    monkeypatch.delenv("KIMIA_TERMINAL_KEK")
    monkeypatch.setenv("KIMIA_TERMINAL_KEK_FILE", str(path))
    service.caches.clear()
    assert service.terminal(TID, MID).mac_key == KEY


def test_set_key_prints_the_key_once_with_its_check_value(service: Kimia, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    build(service, mac_key=None)
    runner = CliRunner()
    result = runner.invoke(main, ["--database", db_url, "terminal", "set-key", "--terminal", TID, "--merchant", MID],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    key_hex = result.output.split("shown only this once): ")[1].split()[0]
    assert f"KCV {kcv(bytes.fromhex(key_hex))}" in result.output
    listed = runner.invoke(main, ["--database", db_url, "terminal", "list"], catch_exceptions=False)
    assert f"v1 {kcv(bytes.fromhex(key_hex))}" in listed.output and key_hex not in listed.output.upper()
    assert all(key_hex.lower() not in r.getMessage().lower() for r in caplog.records)
    assert all(key_hex.lower() not in cell.lower() for cell in cells(db_url))


def test_a_terminal_changes_its_key_with_an_0800_161(service: Kimia, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The host makes a new key, sends it wrapped under the current one (48 KE, with KC and KV) in
    an answer signed with the current key; the terminal's next messages use it. The old key is
    accepted during the overlap, and a repeated 161 under it gets the same new key."""
    build(service)
    caplog.set_level(logging.INFO)
    old = TerminalIdentity(TID, MID, mac_key=KEY)

    async def body() -> None:
        async with serving(service, allow_unkeyed=False) as srv, connected(srv) as conn:
            change = request(old, "0800", None, network_code="161")
            raw = await conn.send_raw(to_bytes(change, old))
            assert verify_message(raw, KIMIA_V1, KEY)  # signed with the key the terminal has
            answer = decode(raw, KIMIA_V1)
            assert answer.response_code == "00"
            items = dict(tlv.decode_tlv(answer.get_bytes("48") or b""))
            new_key = aes_key_unwrap(KEY, bytes.fromhex(items["KE"]))
            assert len(new_key) == 16 and new_key != KEY
            assert items["KC"] == kcv(new_key) and items["KV"] == "2"
            new = TerminalIdentity(TID, MID, mac_key=new_key, stan=old.stan)
            buy = request(new, "0200", "000000", amount_rial=100_000, items=MK, rrn="KEY000000001")
            raw = await conn.send_raw(to_bytes(buy, new))
            assert decode(raw, KIMIA_V1).response_code == "00" and verify_message(raw, KIMIA_V1, new_key)
            # The old key still works during the overlap; a repeated 161 under it gets the same key.
            assert (await conn.send(request(old, "0800", None, network_code="301"), old)).response_code == "00"
            again = decode(await conn.send_raw(to_bytes(request(old, "0800", None, network_code="161"), old)), KIMIA_V1)
            assert aes_key_unwrap(KEY, bytes.fromhex(dict(tlv.decode_tlv(again.get_bytes("48") or b""))["KE"])) == new_key
            # A stranger's key changes nothing.
            wrong = TerminalIdentity(TID, MID, mac_key=bytes(16))
            assert (await conn.send(request(wrong, "0800", None, network_code="161"), wrong)).response_code == "63"

    run(body())
    assert service.terminal(TID, MID).mac_key_version == 2
    dump = "\n".join(cells(db_url)) + "\n".join(r.getMessage() for r in caplog.records)
    new_key = service.terminal(TID, MID).mac_key
    assert new_key is not None
    for key in (KEY, new_key):
        for form in key_forms(key):
            assert form not in dump


# -- item 11: MAC required in production -------------------------------------------------------------


def test_a_production_host_refuses_unkeyed_terminals(service: Kimia) -> None:
    _, _, t = build(service, mac_key=None)

    async def body(allow: bool) -> str | None:
        async with serving(service, allow_unkeyed=allow) as srv, connected(srv) as conn:
            return (await conn.send(request(t, "0200", "000000", amount_rial=100_000, items=MK), t)).response_code

    assert run(body(False)) == "63"
    assert run(body(True)) == "00"  # the demo's explicit setting


def test_a_mac_less_dialect_is_refused_and_never_waves_a_keyed_terminal_through(service: Kimia, tmp_path: Path) -> None:
    _, _, t = build(service)
    with pytest.raises(ValueError, match="allow_unkeyed"):
        TerminalServer(service, dialect=NO_MAC)
    path = tmp_path / "no-mac.json"
    path.write_text(json.dumps(dialect_to_json(NO_MAC)))
    result = CliRunner().invoke(main, ["terminal", "serve", "--port", "0", "--dialect", str(path)])
    assert result.exit_code == 2 and "has no MAC fields" in result.output

    async def body() -> str | None:
        async with serving(service, dialect=NO_MAC, allow_unkeyed=True) as srv:
            conn = await Connection.open("127.0.0.1", srv.port, NO_MAC)
            try:
                return (await conn.send(request(t, "0200", "000000", amount_rial=100_000, items=MK), t)).response_code
            finally:
                await conn.close()

    assert run(body()) == "63"  # the keyed terminal sent no MAC (the dialect has none): refused
    with service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM operations WHERE kind = 'purchase'") == (0,)


def test_a_keyed_terminal_sending_no_mac_gets_63(service: Kimia) -> None:
    _, _, t = build(service)
    unsigned = TerminalIdentity(TID, MID)

    async def body() -> list[str | None]:
        async with serving(service, allow_unkeyed=True) as srv, connected(srv) as conn:
            return [(await conn.send(request(unsigned, "0200", "000000", amount_rial=100_000, items=MK), unsigned)).response_code,
                    (await conn.send(request(unsigned, "0800", None, network_code="301"), unsigned)).response_code]

    assert run(body()) == ["63", "63"]


# -- item 12: authentication failures ----------------------------------------------------------------


def test_unknown_terminals_and_bad_macs_get_the_same_unsigned_answer_logged_and_counted(
        service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    _, _, t = build(service)
    caplog.set_level(logging.INFO, logger=LOGGER)
    senders = {
        "bad_mac": TerminalIdentity(TID, MID, mac_key=bytes(16)),
        "unknown_terminal": TerminalIdentity("T9999999", MID, mac_key=bytes(16)),
        "no_mac": TerminalIdentity(TID, MID),
    }

    async def body() -> tuple[dict[str, Message], dict[str, int]]:
        answers = {}
        async with serving(service, allow_unkeyed=False) as srv, connected(srv) as conn:
            for reason, who in senders.items():
                req = request(who, "0200", "000000", amount_rial=100_000, pan=PAN, items=MK, stan="000042", rrn="PROBE0000001")
                answers[reason] = await conn.send(req, who)
            return answers, srv.metrics()

    answers, metrics = run(body())
    shapes = {reason: (a.mti, a.response_code, sorted(a.fields)) for reason, a in answers.items()}
    assert len(set(map(str, shapes.values()))) == 1, shapes
    assert shapes["bad_mac"] == ("0210", "63", ["11", "39", "41", "42"])
    assert metrics["auth_failures"] == 3
    for reason in senders:
        assert metrics[f"refused:{reason}"] == 1
        assert any("authentication failed" in r.getMessage() and f"reason={reason}" in r.getMessage()
                   and r.levelno == logging.WARNING for r in caplog.records)
    assert all(PAN not in r.getMessage() for r in caplog.records)


# -- item 14: limits -----------------------------------------------------------------------------------


async def _closed_at_once(port: int) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""
    finally:
        writer.close()


def test_connections_are_capped_in_total_and_per_address(service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    _, _, t = build(service)
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def echo(conn: Connection) -> str | None:
        return (await conn.send(request(t, "0800", None, network_code="301"), t)).response_code

    async def body(**limits: int) -> dict[str, int]:
        async with serving(service, allow_unkeyed=False, **limits) as srv:
            first, second = await Connection.open("127.0.0.1", srv.port), await Connection.open("127.0.0.1", srv.port)
            assert [await echo(first), await echo(second)] == ["00", "00"]
            assert await _closed_at_once(srv.port)  # the third is accepted and closed at once
            await first.close()
            for _ in range(100):  # the host notices the close
                if len(srv._connections) < 2:
                    break
                await asyncio.sleep(0.02)
            third = await Connection.open("127.0.0.1", srv.port)
            assert await echo(third) == "00"
            await third.close()
            await second.close()
            return srv.metrics()

    per_address = run(body(max_connections_per_address=2))
    assert per_address["refused_connections"] == 1 and per_address["refused:connection_limit_per_address"] == 1
    total = run(body(max_connections=2))
    assert total["refused_connections"] == 1 and total["refused:connection_limit"] == 1
    assert any("connection refused" in r.getMessage() for r in caplog.records)


def test_requests_beyond_the_pending_bound_are_answered_91(service: Kimia) -> None:
    _, _, t = build(service)
    release = threading.Event()

    async def body() -> tuple[str | None, str | None, dict[str, int]]:
        async with serving(service, allow_unkeyed=False, workers=1, max_pending=1) as srv, connected(srv) as conn:
            assert (await conn.send(request(t, "0800", None, network_code="301"), t)).response_code == "00"  # cached
            loop = asyncio.get_running_loop()
            srv._pending += 1  # a request already on the only worker thread, blocked
            blocked = loop.run_in_executor(srv._executor, release.wait, 30)
            try:
                busy = (await conn.send(request(t, "0100", "310000", items=MK), t)).response_code
            finally:
                release.set()
                await blocked
                srv._pending -= 1
            after = (await conn.send(request(t, "0100", "310000", items=MK), t)).response_code
            return busy, after, srv.metrics()

    busy, after, metrics = run(body())
    assert (busy, after) == ("91", "00")
    assert metrics["overloaded"] == 1 and metrics["refused:overloaded"] == 1


def test_the_writer_queue_is_bounded() -> None:
    gate = threading.Event()
    writer = Writer(lambda: sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False), max_queue=1)
    try:
        running = threading.Event()

        def hold(tx: Any) -> bool:
            running.set()
            return gate.wait(30)

        holder = threading.Thread(target=writer.submit, args=(hold,))
        holder.start()
        assert running.wait(30)  # the writer thread is busy with the first operation; the queue is empty
        queued = threading.Thread(target=writer.submit, args=(lambda tx: 1,))
        queued.start()
        for _ in range(1000):
            if writer._queue.qsize() == 1:
                break
            threading.Event().wait(0.005)
        with pytest.raises(KimiaError) as caught:
            writer.submit(lambda tx: 2)
        assert caught.value.code == "overloaded" and writer.refused == 1
        gate.set()
        holder.join(30)
        queued.join(30)
        assert writer.submit(lambda tx: 3) == 3  # room again
    finally:
        gate.set()
        writer.close()


def test_a_deactivated_merchant_neither_refunds_nor_enrols(service: Kimia) -> None:
    club, merchant, t = build(service)

    async def sale() -> None:
        async with serving(service, allow_unkeyed=False) as srv, connected(srv) as conn:
            buy = request(t, "0200", "000000", amount_rial=100_000, items=MK, rrn="DEACT0000001")
            assert (await conn.send(buy, t)).response_code == "00"

    run(sale())
    service.write(lambda tx: tx.execute("UPDATE merchants SET active = ? WHERE id = ?", (False, merchant)))
    service.caches.clear()
    with service.reading() as tx:
        before = tx.one("SELECT COUNT(*) FROM operations")

    async def body() -> list[str | None]:
        async with serving(service, allow_unkeyed=False) as srv, connected(srv) as conn:
            refund = request(t, "0200", "200000", amount_rial=50_000, items=[(tlv.OR, "DEACT0000001")])
            enrol = request(t, "0100", "910000", pan=PAN)
            return [(await conn.send(refund, t)).response_code, (await conn.send(enrol, t)).response_code]

    assert run(body()) == ["03", "03"]
    with service.reading() as tx:
        assert tx.one("SELECT COUNT(*) FROM operations") == before
    with pytest.raises(KimiaError) as caught:
        service.enroll(club, idem_key="api-enrol", identifiers=[("mobile", "+989121111111")], merchant_id=merchant)
    assert caught.value.code == "unknown_merchant"


def test_the_serve_command_has_the_security_options_with_their_defaults() -> None:
    result = CliRunner().invoke(main, ["terminal", "serve", "--help"])
    for option in ("--allow-unkeyed", "--max-connections", "--max-connections-per-address", "--write-timeout", "--max-pending"):
        assert option in result.output, option
    from kimia.terminal import server

    text = " ".join(result.output.split())
    for default in (server.MAX_CONNECTIONS, server.MAX_CONNECTIONS_PER_ADDRESS, server.MAX_PENDING, server.WRITE_TIMEOUT_S):
        assert f"[default: {default};" in text, default  # the command's defaults are the server's


def test_the_simulator_reads_existing_keyed_terminals_through_the_kek(service: Kimia) -> None:
    from kimia.terminal.simulator import load_setup, setup_demo

    demo = setup_demo(service, terminals=2, members=2, mac=True, seed=5)
    loaded = load_setup(service, terminals=2, members=2)
    assert {t.terminal_id: t.mac_key for t in loaded.terminals} == {t.terminal_id: t.mac_key for t in demo.terminals}


class SmallBufferServer(TerminalServer):
    """The host with a small kernel send buffer per connection, so that a peer that does not read
    fills it after a few hundred answers instead of megabytes (the write path is unchanged)."""

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        await super()._client(reader, writer)


def test_a_peer_that_does_not_read_its_answers_is_disconnected(service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    _, _, t = build(service)
    caplog.set_level(logging.INFO, logger=LOGGER)
    frames = b"".join(frame(to_bytes(request(t, "0800", None, network_code="301"), t), KIMIA_V1) for _ in range(6000))

    async def body() -> dict[str, int]:
        srv = SmallBufferServer(service, write_timeout_s=0.5)
        await srv.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", srv.port))
            sock.setblocking(False)
            sent = 0
            for _ in range(2000):  # send everything we can, never read
                if srv.stats["closed_write_timeout"]:
                    break
                try:
                    sent += sock.send(frames[sent:sent + 65536]) if sent < len(frames) else 0
                except (BlockingIOError, ConnectionError):
                    pass
                await asyncio.sleep(0.01)
            return srv.metrics()
        finally:
            sock.close()
            await srv.close()

    metrics = run(body())
    assert metrics["closed_write_timeout"] == 1
    assert any("answer not taken within 0.5 s" in r.getMessage() for r in caplog.records)
