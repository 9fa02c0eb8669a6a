"""A terminal simulator: N virtual POS terminals driving a kimia terminal host over real TCP.

Each virtual terminal behaves like a careful POS terminal (docs: the research note on ISO 8583,
flows 1-5):

* its own connection (reopened after any failure) and its own STAN counter, persisted in the
  store-and-forward file so a rerun on the same day never reuses a STAN;
* a response timeout and a bounded number of retries; a retried request keeps its STAN and uses
  the repeat MTI (0200 -> 0201, 0220 -> 0221, 0400 -> 0401, 0420 -> 0421);
* a purchase (or hold) that was never answered is reversed (0400 with field 90 of the original):
  the terminal does not know whether the host posted it;
* a persistent store-and-forward queue (a small SQLite file) for reversals and completion advices:
  an item is written *before* it is sent, re-sent with the repeat MTI until it is answered, strictly
  in order per terminal, and drained before every new transaction; what is left at the end (or
  left by a previous run) is reported and sent on the next run;
* every answer is checked: response MTI, echoed STAN (11), terminal (41) and merchant (42), the
  MAC when the terminal has a key, and a response code the operation may get. A failed check is a
  *mismatch*; the report counts them and keeps examples.

Operations (``mix`` weights): ``enrol`` (0100/91 with a new card and mobile), ``purchase``
(0200/00), ``redeem`` (0200/00 spending club credit, 48 RC; 51 is an acceptable answer),
``hold_complete`` (0100/00 hold, then a 0220 completion advice with the bank RRN, or, when the
simulated bank sale fails, a 0420 reversal of the hold), ``reversal`` (a purchase the customer
cancels: 0420 of it) and ``refund`` (0200/20 of an earlier sale of the same terminal by its RRN,
48 OR, partial or the rest; a purchase while the terminal has no sale to refund yet). A refund or
an enrolment that is never answered cannot be reversed (a reversal of a refund is not offered by
the host); the report counts those as *unresolved*.

Run it with ``python -m kimia.terminal.simulator --host 127.0.0.1 --port 8583 --terminals 8
--seconds 10 --database URL --setup`` (``--setup`` first creates a demo club with the terminals and
members in that database). Without ``--setup`` it drives the newest merchant's terminals; members
who hold credit there are named by the cards a ``kimia demo`` left in its roster beside the
database (``--roster``; card numbers are never in the database), so their redemptions are
answered. From code: :func:`simulate`, :func:`setup_demo`, :func:`load_setup`,
:func:`main` (``add_arguments`` / ``run_from_args`` embed the command in another CLI).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kimia.identifiers import luhn_check_digit
from kimia.terminal import tlv
from kimia.terminal.client import Connection, TerminalIdentity, request, to_bytes
from kimia.terminal.codec import DecodeError, EncodeError, Message, decode, response_mti
from kimia.terminal.dialect import KIMIA_V1, Dialect
from kimia.terminal.keys import load_kek, unwrap
from kimia.terminal.framing import FramingError, read_frame, write_frame
from kimia.terminal.mac import MacError, verify_message

if TYPE_CHECKING:
    from kimia.service.api import Kimia
    from kimia.world import Roster

__all__ = [
    "DEFAULT_MIX",
    "EXPECTED_CODES",
    "OPERATIONS",
    "DemoSetup",
    "SimulationReport",
    "StoreAndForward",
    "add_arguments",
    "load_setup",
    "main",
    "run_from_args",
    "setup_demo",
    "simulate",
]

#: The operations a mix may name.
OPERATIONS: tuple[str, ...] = ("enrol", "purchase", "redeem", "hold_complete", "reversal", "refund")

#: A realistic shop-floor mix: mostly purchases, some redemptions, holds beside bank sales, refunds.
DEFAULT_MIX: dict[str, float] = {
    "purchase": 0.60,
    "redeem": 0.10,
    "hold_complete": 0.10,
    "refund": 0.08,
    "reversal": 0.05,
    "enrol": 0.07,
}

#: Response codes (field 39) each message kind may get; anything else is a mismatch.
EXPECTED_CODES: dict[str, frozenset[str]] = {
    "sign_on": frozenset({"00"}),
    "sign_off": frozenset({"00"}),
    "enrol": frozenset({"00"}),
    "purchase": frozenset({"00"}),
    # 51: not enough credit; 57: the member's credit is not valid at this merchant; 55: the
    # member's club asks for the cardholder (a card, PIN or one-time code) and a member named by
    # mobile brings none (all decline the redemption and post nothing).
    "redeem": frozenset({"00", "51", "55", "57"}),
    "hold": frozenset({"00", "51", "55", "57"}),
    "completion": frozenset({"00"}),
    "reversal": frozenset({"00"}),
    "timeout_reversal": frozenset({"00"}),
    "refund": frozenset({"00"}),
}

#: Club credit a redemption spends (48 RC) unless ``simulate`` is told otherwise.
DEFAULT_REDEEM_RIAL = 20_000
#: A demo member is sent to spend only with credit here for this many redemptions (see load_setup).
_SPEND_RUNWAY = 10
#: ... and named at most this many times among the members (in proportion to that credit).
_MAX_SHARE = 10

_REPEAT_MTI = {"0200": "0201", "0220": "0221", "0400": "0401", "0420": "0421", "0800": "0801"}
_RRN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MAX_MISMATCH_EXAMPLES = 20
_STAN_BLOCK = 1000


# -- the report ------------------------------------------------------------------


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


@dataclass
class SimulationReport:
    """What a simulation did and saw. ``format()`` renders it for a terminal window."""

    terminals: int = 0
    elapsed_s: float = 0.0
    requests: int = 0  # transmissions sent (first sends, repeats and store-and-forward sends)
    answered: int = 0  # transmissions that got an answer
    timeouts: int = 0  # transmissions that got no answer in time (or lost their connection)
    retries: int = 0  # transmissions that were repeats
    reconnects: int = 0  # connections opened after the first one of a terminal
    operations: Counter[str] = field(default_factory=Counter)  # mix operations started, by type
    messages: Counter[str] = field(default_factory=Counter)  # transmissions by message kind
    answered_by_kind: Counter[str] = field(default_factory=Counter)
    response_codes: Counter[str] = field(default_factory=Counter)  # field 39 histogram over all answers
    durable_purchases: int = 0  # 0200 purchases (and redemptions) answered 00
    completions: int = 0  # 0220 completion advices answered 00
    unresolved: int = 0  # requests never answered whose outcome no reversal settles (enrol, refund)
    mismatches: int = 0
    mismatch_examples: list[str] = field(default_factory=list)
    queue_leftovers: int = 0  # store-and-forward items still unacknowledged at the end
    queue_path: str = ""
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def throughput(self) -> float:
        """Durable purchases per second: purchases answered 00 per second of the run."""
        return self.durable_purchases / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def answers_per_s(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def latency(self) -> dict[str, float]:
        """Round-trip latency of answered transmissions in ms: p50, p90, p99, max."""
        values = sorted(self.latencies_ms)
        return {
            "p50": _percentile(values, 0.50),
            "p90": _percentile(values, 0.90),
            "p99": _percentile(values, 0.99),
            "max": values[-1] if values else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "terminals": self.terminals,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests": self.requests,
            "answered": self.answered,
            "timeouts": self.timeouts,
            "retries": self.retries,
            "reconnects": self.reconnects,
            "operations": dict(self.operations),
            "messages": dict(self.messages),
            "answered_by_kind": dict(self.answered_by_kind),
            "response_codes": dict(sorted(self.response_codes.items())),
            "durable_purchases": self.durable_purchases,
            "durable_purchases_per_s": round(self.throughput, 1),
            "completions": self.completions,
            "unresolved": self.unresolved,
            "latency_ms": {k: round(v, 2) for k, v in self.latency().items()},
            "mismatches": self.mismatches,
            "mismatch_examples": list(self.mismatch_examples),
            "queue_leftovers": self.queue_leftovers,
            "queue_path": self.queue_path,
        }

    def format(self) -> str:
        lat = self.latency()

        def counts(c: Mapping[str, int]) -> str:
            return " · ".join(f"{k} {v:,}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) or "—"

        lines = [
            f"kimia terminal simulator: {self.terminals} terminal(s), {self.elapsed_s:.2f} s",
            f"  requests      {self.requests:,} sent · {self.answered:,} answered · {self.timeouts:,} timed out"
            f" · {self.retries:,} repeats · {self.reconnects:,} reconnects",
            f"  operations    {counts(self.operations)}",
            f"  messages      {counts(self.messages)}",
            f"  responses     {counts(self.response_codes)}",
            f"  throughput    {self.throughput:,.1f} durable purchases/s ({self.durable_purchases:,} purchases answered 00)"
            f" · {self.answers_per_s:,.1f} answers/s · {self.completions:,} completions",
            f"  latency (ms)  p50 {lat['p50']:.2f} · p90 {lat['p90']:.2f} · p99 {lat['p99']:.2f} · max {lat['max']:.2f}",
            f"  mismatches    {self.mismatches:,}",
        ]
        lines += [f"    - {example}" for example in self.mismatch_examples[:10]]
        lines.append(f"  unresolved    {self.unresolved:,} (never answered, nothing to reverse them with)")
        lines.append(f"  queue         {self.queue_leftovers:,} store-and-forward item(s) left" + (f" in {self.queue_path}" if self.queue_path else ""))
        return "\n".join(lines)


# -- the store-and-forward queue -----------------------------------------------------


@dataclass
class SafItem:
    id: int
    kind: str
    message: Message
    attempts: int


def _fields_to_json(message: Message) -> str:
    fields = {fid: (["b", v.hex()] if isinstance(v, bytes) else ["s", v]) for fid, v in message.fields.items()}
    return json.dumps({"mti": message.mti, "fields": fields}, ensure_ascii=False)


def _fields_from_json(text: str) -> Message:
    data = json.loads(text)
    fields: dict[str, str | bytes] = {}
    for fid, (kind, value) in data["fields"].items():
        fields[str(fid)] = bytes.fromhex(value) if kind == "b" else str(value)
    return Message(str(data["mti"]), fields)


class StoreAndForward:
    """A persistent queue of advices per terminal, and each terminal's STAN high-water mark.

    A small SQLite file. Items never hold a card number (reversals and completions are matched by
    field 90, the hold reference and the RRN), so the file holds no cardholder data."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # Terminals known to have nothing queued (this process is the file's only writer while it
        # runs): ``pending`` answers them without a query; ``push`` forgets the terminal.
        self._empty: set[tuple[str, str]] = set()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS saf (id INTEGER PRIMARY KEY AUTOINCREMENT, terminal TEXT NOT NULL,"
            " merchant TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
            " created_at REAL NOT NULL)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS stan (terminal TEXT NOT NULL, merchant TEXT NOT NULL, reserved INTEGER NOT NULL,"
            " PRIMARY KEY (terminal, merchant))"
        )

    def close(self) -> None:
        self.db.close()

    def push(self, identity: TerminalIdentity, kind: str, message: Message) -> int:
        self._empty.discard((identity.terminal_id, identity.merchant_id))
        cur = self.db.execute(
            "INSERT INTO saf (terminal, merchant, kind, message, attempts, created_at) VALUES (?,?,?,?,0,?)",
            (identity.terminal_id, identity.merchant_id, kind, _fields_to_json(message), time.time()),
        )
        return int(cur.lastrowid or 0)

    def pending(self, identity: TerminalIdentity) -> list[SafItem]:
        key = (identity.terminal_id, identity.merchant_id)
        if key in self._empty:
            return []  # asked before every operation: answered without a query while nothing was queued
        rows = self.db.execute(
            "SELECT id, kind, message, attempts FROM saf WHERE terminal = ? AND merchant = ? ORDER BY id", key
        ).fetchall()
        if not rows:
            self._empty.add(key)
        return [SafItem(int(r[0]), str(r[1]), _fields_from_json(str(r[2])), int(r[3])) for r in rows]

    def attempted(self, item_id: int) -> None:
        self.db.execute("UPDATE saf SET attempts = attempts + 1 WHERE id = ?", (item_id,))

    def remove(self, item_id: int) -> None:
        self.db.execute("DELETE FROM saf WHERE id = ?", (item_id,))

    def count(self, identities: Sequence[TerminalIdentity] | None = None) -> int:
        if identities is None:
            return int(self.db.execute("SELECT COUNT(*) FROM saf").fetchone()[0])
        return sum(len(self.pending(i)) for i in identities)

    def reserve_stans(self, identity: TerminalIdentity, block: int = _STAN_BLOCK) -> int:
        """Reserve the next ``block`` STANs of a terminal; returns the first (STANs start at 1)."""
        row = self.db.execute(
            "SELECT reserved FROM stan WHERE terminal = ? AND merchant = ?", (identity.terminal_id, identity.merchant_id)
        ).fetchone()
        # A terminal new to this file starts at a random block: a rerun with a fresh temporary file
        # on the same day then rarely meets the STANs (the duplicate keys) of an earlier run.
        start = int(row[0]) if row else 1 + secrets.randbelow(900) * block
        self.db.execute(
            "INSERT INTO stan (terminal, merchant, reserved) VALUES (?,?,?)"
            " ON CONFLICT (terminal, merchant) DO UPDATE SET reserved = excluded.reserved",
            (identity.terminal_id, identity.merchant_id, start + block),
        )
        return start


# -- the simulation ----------------------------------------------------------------------


@dataclass
class _Sale:
    rrn: str
    amount: int
    refunded: int = 0



def _member_ref(member: str) -> tuple[str | None, list[tuple[str, str]]]:
    """(PAN for field 2, TLV items) naming a member: a PAN, an MK value, or a mobile number."""
    if member.isdigit() and 13 <= len(member) <= 19:
        return member, []
    if ":" in member:
        return None, [(tlv.MK, member)]
    return None, [(tlv.MK, "M:" + member)]


class _Simulation:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        members: Sequence[str],
        mix: Mapping[str, float],
        timeout_s: float,
        retries: int,
        queue: StoreAndForward,
        dialect: Dialect,
        duration_s: float | None,
        requests: int | None,
        rng: random.Random,
        redeem_rial: int,
        timeout_reversal_mti: str,
    ) -> None:
        self.host, self.port = host, port
        self.members = list(members)
        unknown = set(mix) - set(OPERATIONS)
        if unknown:
            raise ValueError(f"unknown operation(s) in mix: {sorted(unknown)}; known: {', '.join(OPERATIONS)}")
        weights = {k: float(v) for k, v in mix.items() if v > 0}
        if not weights:
            raise ValueError("the mix gives no operation a positive weight")
        if not self.members and set(weights) - {"enrol"}:
            raise ValueError("members are needed for every operation but enrol")
        self.kinds = list(weights)
        self.weights = [weights[k] for k in self.kinds]
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.queue = queue
        self.dialect = dialect
        self.requests_left = requests
        self.stop_at = None if duration_s is None else time.monotonic() + duration_s
        self.rng = rng
        self.redeem_rial = redeem_rial
        self.timeout_reversal_mti = timeout_reversal_mti
        self.report = SimulationReport()
        self.run_tag = "".join(rng.choice(_RRN_ALPHABET) for _ in range(3))
        self.run_digits = f"{rng.randrange(10_000):04d}"

    def take_ticket(self) -> bool:
        if self.stop_at is not None and time.monotonic() >= self.stop_at:
            return False
        if self.requests_left is not None:
            if self.requests_left <= 0:
                return False
            self.requests_left -= 1
        return True

    def mismatch(self, text: str) -> None:
        self.report.mismatches += 1
        if len(self.report.mismatch_examples) < _MAX_MISMATCH_EXAMPLES:
            self.report.mismatch_examples.append(text)


class _VirtualTerminal:
    def __init__(self, sim: _Simulation, index: int, identity: TerminalIdentity) -> None:
        self.sim = sim
        self.index = index
        self.identity = identity
        self.rng = random.Random(sim.rng.randrange(2**63))
        self.conn: Connection | None = None
        self.opened = 0
        self.sales: list[_Sale] = []
        self.members: list[str] = list(sim.members)
        self.counter = itertools.count(1)
        self.enrolments = itertools.count(1)
        self.stan_next = self.stan_limit = 0

    # -- plumbing ---------------------------------------------------------------------

    def next_stan(self) -> str:
        """The terminal's next STAN (000001..999999, wrapping), reserved in blocks in the
        store-and-forward file so that no later run reuses it."""
        while True:
            if self.stan_next >= self.stan_limit:
                self.stan_next = self.sim.queue.reserve_stans(self.identity)
                self.stan_limit = self.stan_next + _STAN_BLOCK
            value = self.stan_next % 1_000_000
            self.stan_next += 1
            if value:
                self.identity.stan = itertools.count(self.stan_next)
                return f"{value:06d}"

    def next_rrn(self) -> str:
        n = next(self.counter)
        return f"{self.sim.run_tag}{self.index % 1000:03d}{n % 1_000_000:06d}"

    def new_card_and_mobile(self) -> tuple[str, str]:
        """A fresh card (19 digits; the demo set-up's are 16) and mobile (09 3x...; the set-up's
        are 09 1x...), unique within a run and unlikely to meet another run's."""
        n = next(self.enrolments)
        body = f"603799{self.sim.run_digits}{self.index % 1000:03d}{n % 100_000:05d}"  # 18 digits + check = 19
        mobile = f"+9893{self.sim.run_digits[:2]}{self.index % 100:02d}{n % 10_000:04d}"
        return body + luhn_check_digit(body), mobile

    async def connection(self) -> Connection:
        if self.conn is None:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.sim.host, self.sim.port), self.sim.timeout_s)
            self.conn = Connection(reader, writer, self.sim.dialect)
            self.opened += 1
            if self.opened > 1:
                self.sim.report.reconnects += 1
        return self.conn

    async def drop_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close()

    async def exchange(self, message: Message) -> tuple[bytes, Message] | None:
        """One transmission: the raw answer and its decoding, or None (timeout, lost connection)."""
        try:
            payload = to_bytes(message, self.identity, self.sim.dialect)
        except (EncodeError, MacError) as exc:
            raise RuntimeError(f"the simulator built an unencodable {message.mti}: {exc}") from None
        try:
            conn = await self.connection()
            async with asyncio.timeout(self.sim.timeout_s):
                await write_frame(conn.writer, payload, self.sim.dialect)
                raw = await read_frame(conn.reader, self.sim.dialect, timeout_s=self.sim.timeout_s)
        except (TimeoutError, FramingError, ConnectionError, OSError, EOFError):
            await self.drop_connection()
            return None
        try:
            return raw, decode(raw, self.sim.dialect)
        except DecodeError as exc:
            self.sim.mismatch(f"{self.identity.terminal_id} {message.mti} stan={message.stan}: undecodable answer ({exc.code})")
            await self.drop_connection()
            return raw, Message("9999", {})

    def check(self, kind: str, sent: Message, raw: bytes, answer: Message) -> None:
        sim, rep = self.sim, self.sim.report
        where = f"{self.identity.terminal_id} {kind} {sent.mti} stan={sent.stan}"
        if answer.mti == "9999":
            return  # already counted as undecodable
        problems: list[str] = []
        if answer.mti != response_mti(sent.mti):
            problems.append(f"MTI {answer.mti}, expected {response_mti(sent.mti)}")
        for fid in ("11", "41", "42"):
            if answer.fields.get(fid) != sent.fields.get(fid):
                problems.append(f"field {fid} not echoed")
        code = answer.response_code or "??"
        if code not in EXPECTED_CODES.get(kind, frozenset({"00"})):
            problems.append(f"response code {code}, expected {'/'.join(sorted(EXPECTED_CODES.get(kind, frozenset({'00'}))))}")
        if code == "00" and kind in ("purchase", "redeem") and sent.rrn and answer.rrn != sent.rrn:
            problems.append("RRN (37) not echoed")
        if self.identity.mac_key and self.sim.dialect.mac_fields:
            try:
                if not verify_message(raw, self.sim.dialect, self.identity.mac_key):
                    problems.append("answer MAC does not verify")
            except (DecodeError, MacError):
                problems.append("answer MAC cannot be checked")
        if problems:
            sim.mismatch(f"{where}: " + "; ".join(problems))
        rep.response_codes[code] += 1

    async def transmit(self, message: Message, kind: str, *, attempts: int | None = None, repeat: bool = False) -> Message | None:
        """Send until answered: the first send as given (or as a repeat), then repeats with the
        same STAN. Returns the answer, or None when every attempt timed out."""
        rep = self.sim.report
        total = (1 + self.sim.retries) if attempts is None else attempts
        for attempt in range(total):
            if attempt > 0:
                await asyncio.sleep(min(0.02 * 2**attempt, 0.5) * self.rng.random())
            is_repeat = repeat or attempt > 0
            sent = Message(_REPEAT_MTI.get(message.mti, message.mti), message.fields) if is_repeat else message
            rep.requests += 1
            rep.messages[kind] += 1
            if is_repeat:
                rep.retries += 1
            started = time.perf_counter()
            got = await self.exchange(sent)
            if got is None:
                rep.timeouts += 1
                continue
            raw, answer = got
            rep.latencies_ms.append((time.perf_counter() - started) * 1000.0)
            rep.answered += 1
            rep.answered_by_kind[kind] += 1
            self.check(kind, sent, raw, answer)
            return answer
        return None

    # -- store and forward ------------------------------------------------------------------

    async def forward(self, *, attempts: int = 1) -> bool:
        """Send this terminal's queued advices in order; stops at the first unanswered one.
        True when the queue is empty."""
        for item in self.sim.queue.pending(self.identity):
            answer: Message | None = None
            for _ in range(attempts):
                self.sim.queue.attempted(item.id)
                answer = await self.transmit(item.message, item.kind, attempts=1, repeat=item.attempts > 0)
                item.attempts += 1
                if answer is not None:
                    break
            if answer is None:
                return False
            self.sim.queue.remove(item.id)
            if item.kind == "completion" and answer.response_code == "00":
                self.sim.report.completions += 1
                amount = item.message.amount_rial or 0
                if item.message.rrn:
                    self.sales.append(_Sale(item.message.rrn, amount))
        return True

    async def queue_and_send(self, kind: str, message: Message) -> None:
        self.sim.queue.push(self.identity, kind, message)
        await self.forward(attempts=1 + self.sim.retries)

    async def reverse_unknown(self, original: Message) -> None:
        """The original was never answered: reverse it (0400, field 90), through the queue."""
        reversal = request(
            self.identity, self.sim.timeout_reversal_mti, original.processing_code or "000000",
            amount_rial=original.amount_rial, original=original, stan=self.next_stan(),
        )
        await self.queue_and_send("timeout_reversal", reversal)

    # -- operations -----------------------------------------------------------------------

    def pick_member(self, *, spending: bool = False) -> tuple[str | None, list[tuple[str, str]]]:
        """A member; one who spends credit is taken from the given members (those enrolled during
        the run hold no credit valid here)."""
        pool = self.sim.members if spending and self.sim.members else self.members
        if spending:
            # A card read at the terminal is the cardholder's proof (members named by mobile are 55).
            pool = [ref for ref in pool if _member_ref(ref)[0] is not None] or pool
        return _member_ref(self.rng.choice(pool))

    def amount(self) -> int:
        return self.rng.randrange(5, 300) * 10_000

    async def purchase(self, kind: str = "purchase") -> tuple[Message, Message | None]:
        pan, items = self.pick_member(spending=kind == "redeem")
        if kind == "redeem":
            items = items + [(tlv.RC, str(self.sim.redeem_rial))]
        amount = self.amount()
        msg = request(self.identity, "0200", "000000", amount_rial=amount, pan=pan, items=items or None,
                      rrn=self.next_rrn(), stan=self.next_stan())
        answer = await self.transmit(msg, kind)
        if answer is None:
            await self.reverse_unknown(msg)
        elif answer.response_code == "00":
            self.sim.report.durable_purchases += 1
            self.sales.append(_Sale(msg.rrn or "", amount))
        return msg, answer

    async def reversal(self) -> None:
        msg, answer = await self.purchase("purchase")
        if answer is None or answer.response_code != "00":
            return
        self.sales.pop()  # the customer cancels it: it is no longer refundable
        advice = request(self.identity, "0420", "000000", amount_rial=msg.amount_rial, original=msg, stan=self.next_stan())
        await self.queue_and_send("reversal", advice)

    async def refund(self) -> None:
        candidates = [s for s in self.sales if s.refunded < s.amount]
        if not candidates:
            await self.purchase("purchase")
            return
        sale = self.rng.choice(candidates)
        left = sale.amount - sale.refunded
        amount = left if left <= 10_000 or self.rng.random() < 0.5 else max(1, left // 2)
        msg = request(self.identity, "0200", "200000", amount_rial=amount, items=[(tlv.OR, sale.rrn)],
                      rrn=self.next_rrn(), stan=self.next_stan())
        sale.refunded += amount  # counted before the answer: never refund more than the sale, even after a timeout
        answer = await self.transmit(msg, "refund")
        if answer is None:
            self.sim.report.unresolved += 1

    async def hold_complete(self) -> None:
        spending = self.rng.random() < 0.5
        pan, items = self.pick_member(spending=spending)
        if spending:
            items = items + [(tlv.RC, str(self.sim.redeem_rial))]
        amount = self.amount()
        hold = request(self.identity, "0100", "000000", amount_rial=amount, pan=pan, items=items or None, stan=self.next_stan())
        answer = await self.transmit(hold, "hold")
        if answer is None:
            await self.reverse_unknown(hold)
            return
        if answer.response_code != "00":
            return
        try:
            hr = tlv.tlv_get(tlv.decode_tlv(answer.get_bytes("48") or b""), tlv.HR)
        except (tlv.TlvError, TypeError):
            hr = None
        if not hr:
            self.sim.mismatch(f"{self.identity.terminal_id} hold stan={hold.stan}: approved without a hold reference (48 HR)")
            return
        if self.rng.random() < 0.15:  # the bank sale failed: give the held credit back
            advice = request(self.identity, "0420", "000000", amount_rial=amount, items=[(tlv.HR, hr)], original=hold,
                             stan=self.next_stan())
            await self.queue_and_send("reversal", advice)
            return
        completion = request(self.identity, "0220", "000000", amount_rial=amount, items=[(tlv.HR, hr)],
                             rrn=self.next_rrn(), stan=self.next_stan())
        await self.queue_and_send("completion", completion)

    async def enrol(self) -> None:
        pan, mobile = self.new_card_and_mobile()
        msg = request(self.identity, "0100", "910000", pan=pan, items=[(tlv.MB, mobile)], stan=self.next_stan())
        answer = await self.transmit(msg, "enrol")
        if answer is None:
            self.sim.report.unresolved += 1
        elif answer.response_code == "00":
            self.members.append(pan)

    async def network(self, code: str, kind: str) -> None:
        await self.transmit(request(self.identity, "0800", None, network_code=code, stan=self.next_stan()), kind)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        sim = self.sim
        await self.forward()  # what a previous run left
        await self.network("001", "sign_on")
        while sim.take_ticket():
            kind = self.rng.choices(sim.kinds, sim.weights)[0]
            sim.report.operations[kind] += 1
            if not await self.forward():  # the host is unreachable: back off before going on
                await asyncio.sleep(min(1.0, sim.timeout_s / 4) * (0.5 + self.rng.random()))
            if kind in ("purchase", "redeem"):
                await self.purchase(kind)
            elif kind == "reversal":
                await self.reversal()
            elif kind == "refund":
                await self.refund()
            elif kind == "hold_complete":
                await self.hold_complete()
            else:
                await self.enrol()

    async def finish(self, until: float) -> None:
        """Drain the queue (bounded in time), sign off, close."""
        try:
            while time.monotonic() < until:
                if await self.forward():
                    break
                await asyncio.sleep(0.05)
            await self.network("002", "sign_off")
        finally:
            await self.drop_connection()


async def simulate(
    host: str,
    port: int,
    *,
    terminals: Sequence[TerminalIdentity],
    members: Sequence[str],
    duration_s: float | None = None,
    requests: int | None = None,
    mix: Mapping[str, float] | None = None,
    timeout_s: float = 5.0,
    retries: int = 2,
    queue_path: str | os.PathLike[str] | None = None,
    dialect: Dialect = KIMIA_V1,
    seed: int | None = None,
    redeem_rial: int = DEFAULT_REDEEM_RIAL,
    timeout_reversal_mti: str = "0400",
    drain_s: float | None = None,
) -> SimulationReport:
    """Run ``len(terminals)`` concurrent virtual terminals against the host at ``host:port``.

    ``members`` name the members the terminals serve: card numbers (sent in field 2), ``MK``
    values (``M:+98912...``, ``A:17``, ...) or bare mobile numbers. The run stops after
    ``duration_s`` seconds or after ``requests`` operations in total (whichever comes first; with
    neither it runs 10 s). ``mix`` weights the operations (:data:`OPERATIONS`, default
    :data:`DEFAULT_MIX`). A transmission not answered within ``timeout_s`` is repeated up to
    ``retries`` times. ``queue_path`` is the store-and-forward file (created if missing; items and
    STAN counters left there by an earlier run are used); without it a temporary file is used and
    removed. After the run each terminal drains its queue for up to ``drain_s`` seconds (default
    ``timeout_s * (retries + 1)``) and signs off.
    """
    if not terminals:
        raise ValueError("at least one terminal is needed")
    if timeout_reversal_mti not in ("0400", "0420"):
        raise ValueError("timeout_reversal_mti is 0400 or 0420")
    if duration_s is None and requests is None:
        duration_s = 10.0
    tmpdir: str | None = None
    if queue_path is None:
        tmpdir = tempfile.mkdtemp(prefix="kimia-saf-")
        queue_path = os.path.join(tmpdir, "saf.sqlite")
    queue = StoreAndForward(queue_path)
    try:
        sim = _Simulation(
            host, port, members=members, mix=dict(mix or DEFAULT_MIX), timeout_s=timeout_s, retries=retries,
            queue=queue, dialect=dialect, duration_s=duration_s, requests=requests,
            rng=random.Random(seed), redeem_rial=redeem_rial, timeout_reversal_mti=timeout_reversal_mti,
        )
        vts = [_VirtualTerminal(sim, i, identity) for i, identity in enumerate(terminals)]
        started = time.perf_counter()
        try:
            results = await asyncio.gather(*(vt.run() for vt in vts), return_exceptions=True)
            sim.report.elapsed_s = time.perf_counter() - started
            until = time.monotonic() + (drain_s if drain_s is not None else timeout_s * (retries + 1))
            results += await asyncio.gather(*(vt.finish(until) for vt in vts), return_exceptions=True)
        finally:
            for vt in vts:
                await vt.drop_connection()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        report = sim.report
        report.terminals = len(vts)
        report.queue_leftovers = queue.count(list(terminals))
        report.queue_path = "" if tmpdir else os.fspath(queue_path)
        return report
    finally:
        queue.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


# -- demo set-up ------------------------------------------------------------------------


@dataclass
class DemoSetup:
    club_id: int
    merchant_id: int
    terminals: list[TerminalIdentity]
    members: list[str]  # card numbers and MK values, alternating


def setup_demo(
    service: Kimia,
    *,
    terminals: int,
    members: int = 200,
    credit_rial: int = 100_000_000,
    mac: bool = False,
    rules: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> DemoSetup:
    """Create a demo club (the sample rule set), one merchant with ``terminals`` terminals
    (``T0000001``..., under a fresh merchant code), and ``members`` members enrolled with a bank
    card and a mobile number, each charged ``credit_rial`` of gift credit so redemptions succeed.
    With ``mac`` every terminal gets a fresh AES-128 MAC key (in its :class:`TerminalIdentity`).
    Built with the world builder (kimia.world)."""
    from kimia.samples import demo_rules_for
    from kimia.world import WorldBuilder

    if not 1 <= terminals <= 9_999_999:
        raise ValueError("terminals must be between 1 and 9,999,999")
    rng = random.Random(seed)
    world = WorldBuilder(service)
    shop = world.shop("مالک باشگاه شبیه‌ساز", "باشگاه شبیه‌ساز", "فروشگاه شبیه‌ساز", owner_en="Simulator owner",
                      club_en="Simulator club", merchant_en="Simulator shop")
    club, merchant = shop.club_id, shop.merchant_id
    # The sample rule set, with this club's own merchant, group and lottery in place of the
    # sample's ids, and the club's own settlement settings and the platform's tariffs.
    body = dict(rules) if rules is not None else demo_rules_for(world.admin, club, merchant, actor="simulator")
    world.publish(club, body, actor="simulator", reason="terminal simulator demo set-up")
    merchant_code = "S" + "".join(rng.choice("0123456789") for _ in range(14))
    for i in range(terminals):
        key = bytes(rng.randrange(256) for _ in range(16)) if mac else None
        world.terminal(merchant, f"T{i + 1:07d}", merchant_code, mac_key=key, actor="simulator")
    run = f"{rng.randrange(1000):03d}"

    def enrol(i: int) -> str:
        body = f"603799{run}{i:06d}"
        pan = body + luhn_check_digit(body)
        mobile = f"+9891{run[:2]}{i:06d}"
        member = world.member(club, [("card", pan), ("mobile", mobile)], idem_key=f"sim-setup:{merchant_code}:{i}", via="panel")
        if credit_rial > 0:
            world.gift_credit(club, member, credit_rial, idem_key=f"sim-setup:{merchant_code}:{i}:credit", reason="simulator set-up",
                              actor="simulator")
        return pan if i % 2 == 0 else f"M:{mobile}"

    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="kimia-sim-setup") as pool:
        member_refs = list(pool.map(enrol, range(members)))
    return DemoSetup(club, merchant, list(world.terminals), member_refs)


def load_setup(service: Kimia, *, terminals: int, members: int = 200, roster: Roster | None = None) -> DemoSetup:
    """Terminals and members that already exist: the first ``terminals`` active terminals of the
    most recent merchant that has that many, and members of its club. Card numbers are never
    stored, so without a ``roster`` (what a demo's members carry, kimia.world) members are named by
    mobile (``MK``) and their redemptions are declined 55 (no cardholder); with it, by their cards."""
    with service.reading() as tx:
        row = tx.one(
            "SELECT t.merchant_id, t.merchant_code FROM terminals t WHERE t.active = ? GROUP BY t.merchant_id, t.merchant_code"
            " HAVING COUNT(*) >= ? ORDER BY t.merchant_id DESC LIMIT 1",
            (True, terminals),
        )
        if row is None:
            raise ValueError(f"no merchant in the database has {terminals} active terminals; run with --setup")
        merchant_id, merchant_code = int(row[0]), str(row[1])
        rows = tx.all(
            "SELECT terminal_code, mac_key_enc FROM terminals WHERE merchant_id = ? AND merchant_code = ? AND active = ?"
            " ORDER BY terminal_code LIMIT ?",
            (merchant_id, merchant_code, True, terminals),
        )
        club = tx.one("SELECT club_id FROM merchants WHERE id = ?", (merchant_id,))
        club_id = int(club[0])
        root = service.caches.root_club(tx, club_id)
        mobiles = tx.all(
            "SELECT lookup FROM member_identifiers WHERE club_id = ? AND kind = 'mobile' ORDER BY id DESC LIMIT ?",
            (root, members),
        )
    # Keys are stored under the KEK: the simulator, an operator's tool, decrypts them with the settings' KEK.
    kek = load_kek() if any(stored for _, stored in rows) else None
    identities = [TerminalIdentity(str(code), merchant_code,
                                   mac_key=unwrap(kek, stored, str(code), merchant_code) if kek and stored else None)
                  for code, stored in rows]
    carried = _roster_refs(service, roster, merchant_id, root, members) if roster is not None else []
    return DemoSetup(club_id, merchant_id, identities, carried or [f"M:{m}" for (m,) in mobiles])


def _roster_refs(service: Kimia, roster: Roster, merchant_id: int, root_club: int, members: int) -> list[str]:
    """Up to ``members`` members of ``root_club`` as a terminal names them. The simulator spends
    only as members named by a card (a card read is the cardholder's proof), so a member holding
    credit spendable at the merchant for :data:`_SPEND_RUNWAY` redemptions is named by a card, the
    others by mobile (``MK``): a redemption with too little credit here is refused, 57 when the
    member holds enough elsewhere, else 51. A card is named once per runway of credit (up to
    :data:`_MAX_SHARE` times), so members are sent to spend in proportion to what they hold and a
    short run does not drain the smaller ones. With nobody holding a runway, every card is named."""
    holders = [h for h in roster.of_clubs({root_club}) if h.cards or h.mobiles][:members]
    runway = DEFAULT_REDEEM_RIAL * _SPEND_RUNWAY
    shares = {h.member_id: min(_MAX_SHARE, int(service.member_balances(merchant_id, h.member_id)["credit_rial"]) // runway)
              for h in holders}
    anyone = any(shares.values())
    refs = []
    for h in holders:
        if h.cards and (shares[h.member_id] or not anyone):
            refs += [h.cards[0]] * max(1, shares[h.member_id])
        elif h.mobiles:
            refs.append(f"M:{h.mobiles[0]}")
    return refs


# -- command line --------------------------------------------------------------------------


def _demo_roster(path: str | None, database: str) -> Roster | None:
    """The roster a ``kimia demo`` on ``database`` left (``path``, or its default place), if any;
    a roster of another database is set aside with a word on stderr."""
    from kimia.world import Roster, database_key, roster_path_for

    where = Path(path) if path else roster_path_for(database)
    if where is None or not where.exists():
        return None
    roster = Roster.load(where)
    if roster.database != database_key(database):
        print(f"{where} is the roster of another database: members are named by mobile", file=sys.stderr)
        return None
    return roster


def _parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, weight = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"mix item {part!r} is not name=weight")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"mix weight {weight!r} is not a number") from None
    unknown = set(mix) - set(OPERATIONS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown operation(s) {sorted(unknown)}; known: {', '.join(OPERATIONS)}")
    return mix


def _parse_terminal(text: str) -> TerminalIdentity:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError("a terminal is TERMINAL_ID:MERCHANT_ID[:MAC_KEY_HEX]")
    key = bytes.fromhex(parts[2]) if len(parts) == 3 and parts[2] else None
    return TerminalIdentity(parts[0], parts[1], mac_key=key)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the simulator's options to ``parser`` (for embedding in another command line)."""
    parser.add_argument("--host", default="127.0.0.1", help="terminal host address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="terminal host port")
    parser.add_argument("--terminals", type=int, default=8, help="number of concurrent virtual terminals (default 8)")
    parser.add_argument("--seconds", type=float, default=None, help="run this long (default 10 s unless --requests)")
    parser.add_argument("--requests", type=int, default=None, help="stop after this many operations in total")
    parser.add_argument("--database", default=None, help="database URL: where --setup creates the demo club, or where terminals are read from")
    parser.add_argument("--setup", action="store_true", help="create a demo club with the terminals and members first (needs --database)")
    parser.add_argument("--members", type=int, default=200, help="members to create with --setup or to read (default 200)")
    parser.add_argument("--roster", default=None, metavar="PATH",
                        help="the roster `kimia demo --roster PATH` wrote (default: the one beside an SQLite --database, if any)")
    parser.add_argument("--mac", action="store_true", help="with --setup: give every terminal a MAC key")
    parser.add_argument("--terminal", action="append", type=_parse_terminal, default=[], metavar="TID:MID[:KEY]",
                        help="a terminal to drive (repeatable; instead of --database)")
    parser.add_argument("--member", action="append", default=[], metavar="PAN|MK",
                        help="a member card number or MK value (repeatable; instead of --database)")
    parser.add_argument("--mix", type=_parse_mix, default=None, metavar="op=w,...",
                        help=f"operation weights over {', '.join(OPERATIONS)}")
    parser.add_argument("--timeout", type=float, default=5.0, help="response timeout per transmission in seconds (default 5)")
    parser.add_argument("--retries", type=int, default=2, help="repeats of an unanswered request (default 2)")
    parser.add_argument("--queue", default=None, help="store-and-forward file (default: a temporary file)")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    """Run the simulator for parsed :func:`add_arguments` options; returns the exit status
    (0, or 1 when any answer was a mismatch or store-and-forward items were left)."""
    identities: list[TerminalIdentity] = list(args.terminal)
    members: list[str] = list(args.member)
    if args.setup or (args.database and not identities):
        if not args.database:
            print("--setup needs --database", file=sys.stderr)
            return 2
        from dataclasses import replace

        from kimia.app import assemble
        from kimia.settings import Settings

        roster = _demo_roster(args.roster, args.database)
        settings = Settings.from_env(database_url=args.database)
        # --setup builds a demo club, so it makes or upgrades the schema as the demo does.
        with assemble(replace(settings, migrations="upgrade") if args.setup else settings) as service:
            if args.setup:
                demo = setup_demo(service, terminals=args.terminals, members=args.members, mac=args.mac, seed=args.seed)
                print(f"set up club {demo.club_id}: merchant {demo.merchant_id}, {len(demo.terminals)} terminal(s)"
                      f" under merchant code {demo.terminals[0].merchant_id}, {len(demo.members)} member(s)", flush=True)
            else:
                demo = load_setup(service, terminals=args.terminals, members=args.members, roster=roster)
        identities = identities or demo.terminals
        members = members or demo.members
    if not identities:
        print("no terminals: give --database (with or without --setup) or --terminal", file=sys.stderr)
        return 2
    report = asyncio.run(
        simulate(
            args.host, args.port, terminals=identities, members=members, duration_s=args.seconds, requests=args.requests,
            mix=args.mix, timeout_s=args.timeout, retries=args.retries, queue_path=args.queue, seed=args.seed,
        )
    )
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.format(), flush=True)
    return 1 if report.mismatches or report.queue_leftovers else 0


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m kimia.terminal.simulator") -> int:
    """``kimia terminal simulate`` (or ``python -m kimia.terminal.simulator``) ``--host H --port P
    --terminals N --seconds S --database URL --setup``."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
