"""Faults: a lossy network between terminal and host, malformed input, and fuzzing, against the
real server on loopback TCP (SQLite and PostgreSQL).

* A TCP proxy drops frames, delays them past the terminal's timeout and cuts connections after k
  bytes (seeded, bounded randomness). Terminals retry with the same STAN (repeat MTI) and reverse
  what was never answered. Afterwards the ledger is consistent (``kimia check``), every purchase a
  terminal saw approved is posted exactly once, none twice, and every reversed one is reversed.
* The simulator itself runs through the proxy; what its store-and-forward file keeps is delivered
  by a second run.
* A matrix of malformed frames over a raw socket: each gets a clean 30 or a closed connection,
  never a hang, and the server keeps serving.
* A bounded hypothesis fuzz run of random and mutated frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import select
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimia.service import Admin, Kimia
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import DecodeError, Message, decode, encode, response_mti
from kimia.terminal.dialect import KIMIA_V1
from kimia.terminal.handlers import idempotency_key
from kimia.terminal.framing import FramingError
from kimia.terminal.server import TerminalServer

from .conftest import serving
from kimia.terminal import simulator
from kimia.terminal.simulator import simulate

#: These tests are not about cardholder verification (test_verification.py and
#: test_cardholder.py are): the club lets members spend without a PIN, code or card.
OPEN_SPENDING: dict[str, object] = {"verification": {"redeem": [], "bind": []}}

TID, MID = "T0000001", "M00000000000001"
RULES: dict[str, Any] = {
    "rules": [
        {
            "id": "base",
            "name": {"en": "One point per 10,000 rials", "fa": "یک امتیاز به ازای هر ۱۰٬۰۰۰ ریال"},
            "effects": [{"type": "points", "per_rial": 10000, "points": 1, "rounding": "floor"}],
            "funding": {"club_owner": 10000},
        }
    ]
}


@dataclass
class World:
    service: Kimia
    club: int
    terminals: list[TerminalIdentity]
    mobiles: list[str]


def build(service: Kimia, *, terminals: int = 1, members: int = 1) -> World:
    admin = Admin(service)
    club = admin.create_club(admin.create_owner("مالک"), "باشگاه آزمون", settings=OPEN_SPENDING)
    merchant = admin.create_merchant(club, "کافه")
    admin.publish_rules(club, RULES, actor="test")
    ids = []
    for i in range(terminals):
        admin.create_terminal(merchant, f"T{i + 1:07d}", MID)
        ids.append(TerminalIdentity(f"T{i + 1:07d}", MID))
    mobiles = []
    for i in range(members):
        mobile = f"+98912{i + 1:07d}"
        member = int(service.enroll(club, idem_key=f"m{i}", identifiers=[("mobile", mobile)])["member_id"])
        service.charge(club, member, actor="test", reason="test-setup", idem_key=f"c{i}", kind="gift_credit", amount_rial=10_000_000, source={"type": "club", "id": club})
        mobiles.append(mobile)
    return World(service, club, ids, mobiles)


@pytest.fixture
def world(service: Kimia) -> World:
    return build(service)


def rows(service: Kimia, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with service.reading() as tx:
        return tx.all(sql, params)


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.name.startswith("kimia") and r.levelno >= logging.ERROR]


# -- a lossy proxy ------------------------------------------------------------------------------


@dataclass
class FaultyProxy:
    """Forwards length-prefixed frames between terminals and the host, and sometimes drops one,
    delays one (up to ``max_delay_s``) or cuts the connection after a random part of one. The
    draws come from one seeded generator; after ``max_faults`` faults it forwards everything."""

    upstream_port: int
    seed: int
    drop: float = 0.08
    cut: float = 0.08
    delay: float = 0.15
    max_delay_s: float = 0.6
    max_faults: int = 400
    stats: dict[str, int] = field(default_factory=lambda: {"frames": 0, "dropped": 0, "cut": 0, "delayed": 0, "connections": 0})

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _fault(self) -> str:
        faults = self.stats["dropped"] + self.stats["cut"] + self.stats["delayed"]
        r = self.rng.random()
        if faults >= self.max_faults:
            return "pass"
        if r < self.drop:
            return "drop"
        if r < self.drop + self.cut:
            return "cut"
        if r < self.drop + self.cut + self.delay:
            return "delay"
        return "pass"

    async def _accept(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats["connections"] += 1
        swriter: asyncio.StreamWriter | None = None
        pumps: list[asyncio.Task[None]] = []
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            pumps = [asyncio.create_task(self._pump(creader, swriter)), asyncio.create_task(self._pump(sreader, cwriter))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for w in (cwriter, swriter):
                if w is not None:
                    w.close()
                    with contextlib.suppress(OSError, asyncio.CancelledError):
                        await w.wait_closed()
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                prefix = await reader.readexactly(2)
                body = await reader.readexactly(struct.unpack(">H", prefix)[0])
                frame = prefix + body
                self.stats["frames"] += 1
                fault = self._fault()
                if fault == "drop":
                    self.stats["dropped"] += 1
                    continue
                if fault == "cut":
                    self.stats["cut"] += 1
                    writer.write(frame[: self.rng.randrange(1, len(frame))])
                    await writer.drain()
                    return
                if fault == "delay":
                    self.stats["delayed"] += 1
                    await asyncio.sleep(self.rng.uniform(0.0, self.max_delay_s))
                writer.write(frame)
                await writer.drain()


# -- terminals that retry and reverse -------------------------------------------------------------


@dataclass
class Outcome:
    approved: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (client, amount)
    reversed: dict[str, tuple[int, int]] = field(default_factory=dict)
    pending_reversals: list[tuple[TerminalIdentity, Message]] = field(default_factory=list)
    timeouts: int = 0
    repeats: int = 0


def key_of(msg: Message) -> str:
    """The operation key the host gives a purchase (its local date with the year)."""
    return idempotency_key(Message("0200", msg.fields), int(time.time()))


class RetryingTerminal:
    """Sends purchases through the proxy; a purchase never answered after ``attempts`` is reversed
    (0420, repeated as 0421); a reversal that cannot get through is kept for later."""

    def __init__(self, index: int, identity: TerminalIdentity, mobile: str, port: int, outcome: Outcome, seed: int) -> None:
        self.index, self.t, self.mobile, self.port, self.outcome = index, identity, mobile, port, outcome
        self.rng = random.Random(seed)
        self.conn: Connection | None = None

    async def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close()

    async def send(self, msg: Message, *, timeout_s: float) -> Message | None:
        try:
            if self.conn is None:
                self.conn = await asyncio.wait_for(Connection.open("127.0.0.1", self.port), timeout_s)
            raw = await self.conn.send_raw(to_bytes(msg, self.t), timeout_s=timeout_s)
            answer = decode(raw, KIMIA_V1)
        except (TimeoutError, FramingError, OSError, DecodeError):
            self.outcome.timeouts += 1
            await self.drop()
            return None
        assert answer.mti == response_mti(msg.mti) and answer.stan == msg.stan, f"a stray answer {answer!r} to {msg!r}"
        return answer

    async def transmit(self, msg: Message, *, attempts: int, timeout_s: float) -> Message | None:
        for attempt in range(attempts):
            sent = msg if attempt == 0 else Message({"0200": "0201", "0420": "0421"}[msg.mti], msg.fields)
            if attempt:
                self.outcome.repeats += 1
            answer = await self.send(sent, timeout_s=timeout_s)
            if answer is not None:
                return answer
        return None

    async def run(self, purchases: int) -> None:
        try:
            for i in range(purchases):
                amount = self.rng.randrange(1, 200) * 10_000
                msg = request(self.t, "0200", "000000", amount_rial=amount, items=[(tlv.MK, f"M:{self.mobile}")],
                              rrn=f"F{self.index:03d}{i:08d}")
                answer = await self.transmit(msg, attempts=4, timeout_s=0.4)
                if answer is not None:
                    assert answer.response_code == "00", answer
                    self.outcome.approved[key_of(msg)] = (self.index, amount)
                    continue
                self.outcome.reversed[key_of(msg)] = (self.index, amount)
                rev = request(self.t, "0420", "000000", amount_rial=amount, original=msg)
                ack = await self.transmit(rev, attempts=4, timeout_s=0.4)
                if ack is None:
                    self.outcome.pending_reversals.append((self.t, rev))
                else:
                    assert ack.response_code == "00"
        finally:
            await self.drop()


def test_lossy_network_retries_and_reversals_keep_the_ledger_exact(caplog: pytest.LogCaptureFixture, service: Kimia) -> None:
    world = build(service, terminals=4, members=4)
    outcome = Outcome()

    async def body() -> dict[str, int]:
        async with serving(service) as srv:
            proxy = FaultyProxy(srv.port, seed=8583)
            await proxy.start()
            try:
                clients = [RetryingTerminal(i, t, world.mobiles[i], proxy.port, outcome, seed=i) for i, t in enumerate(world.terminals)]
                await asyncio.gather(*(c.run(25) for c in clients))
            finally:
                await proxy.close()
            # The network is back: the reversals still waiting are sent straight to the host.
            conn = await Connection.open("127.0.0.1", srv.port)
            try:
                for t, rev in outcome.pending_reversals:
                    ack = await conn.send(Message("0421", rev.fields), t, timeout_s=10)
                    assert ack.response_code == "00"
                ans = await conn.send(request(world.terminals[0], "0800", None, network_code="301"), world.terminals[0])
                assert ans.response_code == "00"
            finally:
                await conn.close()
            return proxy.stats

    stats = run(body())
    # The proxy did its job: every kind of fault happened, and some purchases were never answered.
    assert stats["dropped"] and stats["cut"] and stats["delayed"], stats
    assert outcome.timeouts and outcome.repeats and outcome.approved
    assert len(outcome.approved) + len(outcome.reversed) == 100
    report = service.check()
    assert report.ok, report.summary()
    ops = {key: (kind, status, amount, refunded) for key, kind, status, amount, refunded in rows(
        service, "SELECT idem_key, kind, status, amount_rial, refunded_rial FROM operations WHERE idem_key LIKE 'iso:%:0200'")}
    for key in outcome.approved:
        kind, status, amount, refunded = ops[key]
        assert (kind, status, refunded) == ("purchase", "done", 0), key
        assert amount == outcome.approved[key][1]
    for key in outcome.reversed:
        if key in ops:  # posted then reversed, or voided before it arrived
            kind, status, amount, refunded = ops[key]
            assert (kind == "void" and status == "void") or (kind == "purchase" and refunded == amount), (key, ops[key])
    assert set(ops) <= set(outcome.approved) | set(outcome.reversed)
    # Nothing doubled: each member's points are exactly those of the purchases its terminal saw approved.
    for i, mobile in enumerate(world.mobiles):
        expected = sum(amount // 10_000 for client, amount in outcome.approved.values() if client == i)
        found = rows(service, "SELECT balance FROM balances WHERE account = (SELECT 'member:' || member_id || '/points'"
                              " FROM member_identifiers WHERE kind = 'mobile' AND lookup = ?)", (mobile,))
        points = int(found[0][0]) if found else 0
        assert points == expected, (mobile, points, expected)
    assert server_errors(caplog) == []


def test_the_simulator_through_a_lossy_network(service: Kimia, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    world = build(service, terminals=4, members=6)
    members = [f"M:{m}" for m in world.mobiles]
    queue = tmp_path / "saf.sqlite"

    async def body() -> None:
        async with serving(service) as srv:
            proxy = FaultyProxy(srv.port, seed=1987, drop=0.1, cut=0.1, delay=0.15)
            await proxy.start()
            try:
                lossy = await simulate("127.0.0.1", proxy.port, terminals=world.terminals, members=members, requests=120,
                                       timeout_s=0.4, retries=3, queue_path=queue, seed=5, drain_s=0.5)
            finally:
                await proxy.close()
            assert lossy.mismatches == 0, lossy.format()
            assert lossy.timeouts > 0 and lossy.retries > 0 and lossy.durable_purchases > 0, lossy.format()
            assert sum(lossy.operations.values()) == 120
            # A second run, straight to the host, first delivers what the file kept; its STANs go on.
            clean = await simulate("127.0.0.1", srv.port, terminals=world.terminals, members=members, requests=40,
                                   timeout_s=5, retries=1, queue_path=queue, seed=6)
            assert clean.mismatches == 0 and clean.queue_leftovers == 0 and clean.timeouts == 0, clean.format()

    run(body())
    report = service.check()
    assert report.ok, report.summary()
    assert server_errors(caplog) == []
    (n,) = rows(service, "SELECT COUNT(*) FROM operations WHERE kind = 'hold' AND status = 'held'")[0]
    assert n == 0  # every hold was completed or released


def test_a_terminal_hanging_up_before_its_answer(service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    """The terminal gives up (and resets the connection) while the host is still working: the host
    finishes, cannot deliver the answer, logs no error and keeps serving; the repeat gets the
    stored answer."""
    world = build(service)
    t = world.terminals[0]
    real_submit = service.writer.submit
    buy = request(t, "0200", "000000", amount_rial=300_000, items=[(tlv.MK, f"M:{world.mobiles[0]}")], rrn="HANG00000001")

    real_submit_async = service.writer.submit_async

    def slow_submit(work: Any, timeout_s: float = 30.0) -> Any:
        time.sleep(0.2)
        return real_submit(work, timeout_s)

    async def slow_submit_async(work: Any) -> Any:  # a purchase takes the event loop's path
        await asyncio.sleep(0.2)
        return await real_submit_async(work)

    async def body() -> None:
        async with serving(service) as srv:
            service.writer.submit = slow_submit  # type: ignore[method-assign]
            service.writer.submit_async = slow_submit_async  # type: ignore[method-assign,assignment]
            try:
                for _ in range(2):
                    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
                        sock.sendall(frame(to_bytes(buy, t)))
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.6)
            finally:
                service.writer.submit = real_submit  # type: ignore[method-assign]
                service.writer.submit_async = real_submit_async  # type: ignore[method-assign]
            conn = await Connection.open("127.0.0.1", srv.port)
            try:
                ans = await conn.send(Message("0201", buy.fields), t, timeout_s=5)
                assert ans.response_code == "00" and ans.rrn == "HANG00000001"
            finally:
                await conn.close()

    run(body())
    assert server_errors(caplog) == []
    assert rows(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'")[0][0] == 1


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- malformed input -------------------------------------------------------------------------------


class ServerThread:
    """A TerminalServer on its own event loop in a thread, for blocking-socket tests."""

    def __init__(self, service: Kimia, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-terminal-server", daemon=True)
        kwargs.setdefault("allow_unkeyed", True)
        self.server = TerminalServer(service, **kwargs)

    def call(self, coro: Any, timeout: float = 30) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            await self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    @property
    def port(self) -> int:
        return self.server.port


def frame(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


def talk(port: int, data: bytes, *, half_close: bool = False, timeout: float = 5.0) -> tuple[list[bytes], bool]:
    """Send ``data`` (optionally closing our side), then read until the server closes the
    connection or ``timeout`` passes with nothing more. Returns (answer frames, closed by server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        buf = b""
        closed = False
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
            frames, rest = split_frames(buf)
            if frames and not rest and not half_close:
                # Answered: now we close our side; the server must then close too.
                sock.shutdown(socket.SHUT_WR)
                half_close = True
        frames, rest = split_frames(buf)
        assert rest == b"", "the server sent a partial frame"
        return frames, closed


def split_frames(buf: bytes) -> tuple[list[bytes], bytes]:
    frames = []
    while len(buf) >= 2:
        n = struct.unpack(">H", buf[:2])[0]
        if len(buf) < 2 + n:
            break
        frames.append(buf[2 : 2 + n])
        buf = buf[2 + n :]
    return frames, buf


def valid_purchase(t: TerminalIdentity, **kwargs: Any) -> Message:
    fields: dict[str, Any] = {"amount_rial": 120_000, "items": [(tlv.MK, "M:+989120000001")], "rrn": "FUZZ00000001"}
    fields.update(kwargs)
    return request(t, "0200", "000000", **fields)


def echo(t: TerminalIdentity) -> bytes:
    return frame(encode(request(t, "0800", None, network_code="301"), KIMIA_V1))


def assert_serving(port: int, t: TerminalIdentity) -> None:
    frames, _ = talk(port, echo(t))
    assert len(frames) == 1 and decode(frames[0], KIMIA_V1).response_code == "00"


def _set_field(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new, 1)


def malformed_cases(t: TerminalIdentity) -> dict[str, tuple[bytes, bool, set[str]]]:
    """name -> (bytes to send, close our side after sending, acceptable outcomes among "30",
    "closed" and other response codes)."""
    good = encode(valid_purchase(t), KIMIA_V1)
    bitmap = good[4:12]
    rng = random.Random(30)
    # Unframed garbage starts with a length above the 4096-byte limit, so the host can tell at once.
    garbage = b"\xde\xad" + bytes(rng.randrange(256) for _ in range(198))
    no_fields = b"0200" + bytes(8)
    undefined_field = b"0200" + bytes([0x08]) + bitmap[1:]  # bit 5 (not in kimia-v1)
    empty_secondary = b"0200" + bytes([bitmap[0] | 0x80]) + bitmap[1:] + bytes(8) + good[12:]
    pan_too_long = encode(valid_purchase(t, pan="6037991234567893"), KIMIA_V1)
    pan_too_long = _set_field(pan_too_long, b"166037991234567893", b"256037991234567893")
    bad_lll = _set_field(good, b"020MK", b"0A0MK")
    tlv_broken = _set_field(good, b"MK015", b"MK099")
    with_pan = encode(valid_purchase(t, pan="6037991234567893"), KIMIA_V1)
    return {
        "bad bitmap: no fields": (frame(no_fields), False, {"closed"}),
        "bad bitmap: undefined field": (frame(undefined_field), False, {"closed"}),
        "bad bitmap: empty secondary": (frame(empty_secondary), False, {"closed"}),
        "bad bitmap: truncated": (frame(b"0200\xf2\x3c"), False, {"closed"}),
        "wrong length: PAN over 19": (frame(pan_too_long), False, {"closed"}),
        "wrong length: LLL not digits": (frame(bad_lll), False, {"30"}),
        "wrong length: field 48 TLV overruns": (frame(tlv_broken), False, {"30"}),
        "wrong length: message ends inside a field": (frame(good[:-5]), False, {"30"}),
        "wrong length: trailing bytes in the frame": (frame(good + b"XYZ"), False, {"30"}),
        "non-digits in amount": (frame(_set_field(good, b"000000120000", b"00000012000A")), False, {"30"}),
        "Persian digits in amount": (frame(_set_field(good, b"000000120000", "۰۰۰۰۰۰".encode() )), False, {"closed", "30"}),
        "non-digits in processing code": (frame(_set_field(good, b"0200" + bitmap + b"000000", b"0200" + bitmap + b"00A000")), False, {"30"}),
        "PAN with letters": (frame(_set_field(with_pan, b"6037991234567893", b"60379912345678X3")), False, {"30"}),
        "MTI not digits": (frame(b"02X0" + good[4:]), False, {"closed"}),
        "MTI not in the dialect": (frame(b"0300" + good[4:]), False, {"closed"}),
        "a response MTI": (frame(b"0210" + good[4:]), False, {"closed"}),
        "truncated frame, then close": (frame(good)[: len(good) // 2], True, {"closed"}),
        "truncated length prefix, then close": (b"\x01", True, {"closed"}),
        "oversize length prefix": (b"\xff\xff" + good, False, {"closed"}),
        "length prefix above the limit": (struct.pack(">H", 4097) + bytes(4097), False, {"closed"}),
        "zero length": (b"\x00\x00" + frame(good), False, {"closed"}),
        "random garbage": (garbage, False, {"closed", "30"}),
        "random garbage framed": (frame(garbage), False, {"closed", "30"}),
        "random garbage, then close": (bytes(rng.randrange(256) for _ in range(50)), True, {"closed", "30"}),
        "valid frame then garbage": (frame(good) + garbage, False, {"00"}),
        "no terminal id": (frame(encode(Message("0200", {k: v for k, v in valid_purchase(t).fields.items() if k != "41"}), KIMIA_V1)), False, {"30"}),
        "no local date": (frame(encode(Message("0200", {k: v for k, v in valid_purchase(t).fields.items() if k != "13"}), KIMIA_V1)), False, {"30"}),
    }


def classify(frames: list[bytes], closed: bool) -> str:
    codes = []
    for f in frames:
        msg = decode(f, KIMIA_V1)
        assert not msg.is_request
        assert "2" not in msg.fields and "35" not in msg.fields
        codes.append(msg.response_code or "??")
    if codes:  # answered (we then closed our side, and the server closed too)
        return "+".join(codes)
    return "closed" if closed else "hung"


def test_malformed_input_matrix(service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    world = build(service)
    t = world.terminals[0]
    cases = malformed_cases(t)
    good = valid_purchase(t, rrn="FUZZ00000002")
    raw = encode(good, KIMIA_V1)
    stan = good.stan or ""
    assert raw.count(stan.encode()) == 1
    cases["non-digits in STAN"] = (frame(raw.replace(stan.encode(), b"00A001", 1)), False, {"closed"})
    with ServerThread(service) as srv:
        seen = {}
        for name, (data, half_close, acceptable) in cases.items():
            frames, closed = talk(srv.port, data, half_close=half_close)
            outcome = classify(frames, closed)
            seen[name] = outcome
            assert outcome in acceptable, f"{name}: {outcome}, expected one of {sorted(acceptable)}"
            assert outcome != "hung"
            assert_serving(srv.port, t)  # the next client is served
        # A connection that says nothing is closed by the idle timeout, not held forever.
    assert server_errors(caplog) == [], seen
    assert rows(service, "SELECT COUNT(*) FROM operations WHERE kind = 'purchase'")[0][0] == 1  # the valid frame before the garbage


def test_idle_and_trickling_connections_are_closed(service: Kimia) -> None:
    world = build(service)
    t = world.terminals[0]
    with ServerThread(service, idle_timeout_s=0.5, frame_timeout_s=0.5) as srv:
        # A connection that says nothing is closed by the idle timeout, not held forever.
        assert talk(srv.port, b"", timeout=3) == ([], True)
        # A peer trickling a frame byte by byte cannot hold the connection past the frame timeout.
        data = frame(encode(valid_purchase(t), KIMIA_V1))
        closed_after = None
        with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as sock:
            started = time.monotonic()
            for byte in data:
                try:
                    sock.sendall(bytes([byte]))
                    readable, _, _ = select.select([sock], [], [], 0.05)
                    if readable and sock.recv(1) == b"":
                        closed_after = time.monotonic() - started
                        break
                except OSError:
                    closed_after = time.monotonic() - started
                    break
        assert closed_after is not None and closed_after < 2.0
        assert_serving(srv.port, t)


# -- fuzzing -----------------------------------------------------------------------------------------


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in ops:
        if not buf:
            buf.append(value)
            continue
        i = pos % len(buf)
        if kind == 0:
            buf[i] = value
        elif kind == 1:
            buf.insert(i, value)
        elif kind == 2:
            del buf[i]
        else:
            buf[i] ^= 1 << (value % 8)
    return bytes(buf)


def test_fuzz_random_and_mutated_frames(service: Kimia, caplog: pytest.LogCaptureFixture) -> None:
    world = build(service)
    t = world.terminals[0]
    seeds = [
        encode(valid_purchase(t), KIMIA_V1),
        encode(valid_purchase(t, pan="6037991234567893", items=[(tlv.RC, "1000")]), KIMIA_V1),
        encode(request(t, "0100", "310000", items=[(tlv.MK, "M:+989120000001")]), KIMIA_V1),
        encode(request(t, "0420", "000000", amount_rial=5000, original=valid_purchase(t)), KIMIA_V1),
        encode(request(t, "0800", None, network_code="001"), KIMIA_V1),
        encode(request(t, "0200", "200000", amount_rial=5000, items=[(tlv.OR, "FUZZ00000001")]), KIMIA_V1),
    ]
    mutation = st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255))
    payload = st.one_of(
        st.binary(min_size=1, max_size=300),
        st.builds(_mutate, st.sampled_from(seeds), st.lists(mutation, min_size=1, max_size=6)),
    )
    framing = st.sampled_from(["exact", "exact", "exact", "short", "long", "raw"])
    outcomes: dict[str, int] = {}

    with ServerThread(service, idle_timeout_s=2.0) as srv:

        @settings(max_examples=200, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(data=payload, how=framing, cut=st.integers(0, 50))
        def fuzz(data: bytes, how: str, cut: int) -> None:
            if how == "exact":
                wire, half = frame(data), False
            elif how == "short":  # the prefix promises more than comes: we close our side
                wire, half = struct.pack(">H", len(data) + 1 + cut) + data, True
            elif how == "long":  # the prefix promises less: the rest starts a next frame; we close our side
                wire, half = struct.pack(">H", max(1, len(data) - 1 - cut % max(1, len(data) - 1))) + data, True
            else:
                wire, half = data, True
            frames, closed = talk(srv.port, wire, half_close=half, timeout=3.0)
            outcome = classify(frames, closed)
            assert outcome != "hung", outcome
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            assert_serving(srv.port, t)

        fuzz()
        # Still up, and still posting: a valid purchase after the fuzz run.
        frames, _ = talk(srv.port, frame(encode(valid_purchase(t, rrn="AFTERFUZZ001", stan="987654"), KIMIA_V1)))
        assert [decode(f, KIMIA_V1).response_code for f in frames] == ["00"]
    assert server_errors(caplog) == [], outcomes
    assert sum(outcomes.values()) == 200




# -- the simulator's command line ----------------------------------------------------------------------


def test_the_simulator_command_line(service: Kimia, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = str(tmp_path / "saf.sqlite")
    with ServerThread(service) as srv:
        common = ["--port", str(srv.port), "--terminals", "2", "--requests", "40", "--database", db_url, "--queue", queue]
        assert simulator.main([*common, "--setup", "--members", "10", "--seed", "7"]) == 0
        out = capsys.readouterr().out
        assert "set up club" in out and "durable purchases/s" in out and "mismatches    0" in out
        # Without --setup the terminals and members are read from the database.
        assert simulator.main([*common, "--seed", "8", "--json", "--mix", "purchase=3,refund=1,reversal=1"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["mismatches"] == 0 and report["queue_leftovers"] == 0
        assert set(report["operations"]) <= {"purchase", "refund", "reversal"}
        with pytest.raises(SystemExit):
            simulator.main(["--port", str(srv.port), "--mix", "teleport=1"])
        assert simulator.main(["--port", str(srv.port)]) == 2  # no terminals given
    capsys.readouterr()
