"""The ISO 8583 host: an asyncio TCP server for POS terminals and PC-POS cash registers.

One request crosses as few threads as it can: the event loop decodes it and, for a purchase, queues
it straight to the group-commit writer and gets the answer back with its batch (other operations
run their handler on a worker thread, which waits for the commit); the loop writes the answer. Duplicates are
matched by the natural key (merchant id, terminal id, STAN, local date, message class), which is
also the operation's idempotency key, so an identical repeat is answered from the stored receipt
(the same bytes: responses are a pure function of request and receipt) and a different message
under the same key gets 94. A request not finished before its deadline is rolled back, never
posted, and answered 91.

Authentication: every request must come from a registered terminal with a MAC key and carry a
valid MAC (fields 64/128), unless the host is run with ``allow_unkeyed`` (demos and tests). Every
failure (unknown terminal, terminal without a key, missing or wrong MAC) gets the same answer, 63,
unsigned and echoing only fields 11, 41 and 42, so that it tells a prober nothing: not which
terminal/merchant pairs exist, and no MAC over fields the sender chose. Each failure is logged at
WARNING with its real reason and counted (``auth_failures``, ``refused:<reason>``); repeated
failures from one address are logged at ERROR (at 10, 100, 1000, ...), for alerting.

Limits: connections in total and per remote address (over either: accepted and closed at once,
logged, counted), a write timeout per answer, and a bound on requests waiting for a worker thread
(over it: 91, ``overloaded``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pluggy

from kimia.errors import KimiaError
from kimia.identifiers import IdentifierError
from kimia.service.api import Deadline, Kimia
from kimia.service.context import TerminalContext
from kimia.terminal import tlv
from kimia.terminal.codec import DecodeError, EncodeError, Message, decode, encode, mask_pan, response_for
from kimia.terminal.dialect import KIMIA_V1, Dialect
from kimia.terminal.framing import FramingError, read_frame, write_frame
from kimia.service.plugin_services import refusal_error
from kimia.plugins.types import Refusal, TerminalOperation, TerminalReply, TerminalRequest
from kimia.terminal.handlers import FRESHNESS_S, HostRequest, idempotency_key, is_stale, response_code_for
from kimia.terminal.codec import response_mti
from kimia.terminal.mac import sign_message, verify_message

log = logging.getLogger(__name__)


#: How long a terminal found in the database is trusted without asking again (seconds).
TERMINAL_TTL_S = 5.0
#: A connection that sends nothing for this long is closed (a terminal reconnects when it needs to).
IDLE_TIMEOUT_S = 60.0
#: A frame whose first byte has arrived must be complete within this long (a trickling peer).
FRAME_TIMEOUT_S = 30.0
#: Connections open at once, in total and from one remote address (an acquirer's concentrator may
#: bring many terminals through one address: raise the second for it).
MAX_CONNECTIONS = 1024
MAX_CONNECTIONS_PER_ADDRESS = 64
#: An answer the peer does not take within this long closes the connection (seconds).
WRITE_TIMEOUT_S = 10.0
#: Requests waiting for or running on a worker thread; beyond this a request is answered 91.
MAX_PENDING = 256
#: The answer to every authentication failure, whatever its reason.
AUTH_FAILED = "63"
#: Field 49 of every request: the Iranian rial (ISO 4217 numeric 364).
RIAL = "364"
#: The host's own refusals (not the service's business answers), logged at WARNING: code → reason.
_HOST_REFUSALS = {"30": "format_error", "63": "bad_mac", "03": "unknown_merchant", "12": "invalid_transaction",
                  "25": "original_not_found", "91": "deadline", "96": "system_malfunction"}


class HandlerConflict(RuntimeError):
    pass


def build_registry(pm: pluggy.PluginManager) -> dict[tuple[str, str], TerminalOperation]:
    registry: dict[tuple[str, str], TerminalOperation] = {}
    for handlers in pm.hook.kimia_register_terminal_operations():
        for handler in handlers:
            for mti in handler.mtis:
                for code in handler.processing_codes:
                    if (mti, code) in registry:
                        raise HandlerConflict(f"{handler.name} and {registry[(mti, code)].name} both claim MTI {mti} code {code!r}")
                    registry[(mti, code)] = handler
    return registry


class TerminalServer:
    """Serve terminals on ``host:port`` (port 0 picks a free port, see ``.port`` after start)."""

    def __init__(
        self,
        service: Kimia,
        *,
        dialect: Dialect = KIMIA_V1,
        host: str = "127.0.0.1",
        port: int = 0,
        deadline_s: float = 20.0,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        frame_timeout_s: float = FRAME_TIMEOUT_S,
        max_frame_bytes: int = 4096,
        workers: int = 64,
        plugins: pluggy.PluginManager | None = None,
        allow_unkeyed: bool = False,
        max_connections: int = MAX_CONNECTIONS,
        max_connections_per_address: int = MAX_CONNECTIONS_PER_ADDRESS,
        write_timeout_s: float = WRITE_TIMEOUT_S,
        max_pending: int = MAX_PENDING,
        freshness_s: float = FRESHNESS_S,
    ) -> None:
        if not allow_unkeyed and not dialect.mac_fields:
            raise ValueError(f"dialect {dialect.name} carries no MAC (fields 64/128): a production host refuses it;"
                             " allow_unkeyed (--allow-unkeyed) is for demos and tests")
        if min(max_connections, max_connections_per_address, max_pending) < 1 or write_timeout_s <= 0:
            raise ValueError("connection, pending and write limits must be positive")
        self.allow_unkeyed = allow_unkeyed
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        self.write_timeout_s = write_timeout_s
        self.max_pending = max_pending
        self._pending = 0  # requests on (or waiting for) a worker thread; touched on the loop only
        self._per_address: Counter[str] = Counter()
        self._failures_by_address: Counter[str] = Counter()
        self.service = service
        self.dialect = dialect
        self.host = host
        self.port = port
        self.deadline_s = deadline_s
        self.idle_timeout_s = idle_timeout_s
        self.frame_timeout_s = frame_timeout_s
        self.max_frame_bytes = max_frame_bytes
        #: A request whose field 7 is further than this from the host's clock is refused (63).
        self.freshness_s = freshness_s
        # The service's own manager by default: kimia_operation_committed is fired by the service.
        self.pm = plugins or service.plugins
        self.handlers = build_registry(self.pm)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kimia-terminal")
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        #: Counters: requests read, responses written, connections closed on unreadable input, idle
        #: connections closed, requests past their deadline (91), bad MACs (63), format errors (30),
        #: frames dropped without an answer, authentication failures (63, any reason), connections
        #: refused over a limit, answers not taken within the write timeout, requests refused 91 as
        #: overloaded. ``reasons`` counts every refusal and drop by reason code.
        self.stats = {"requests": 0, "responses": 0, "closed_bad_input": 0, "closed_idle": 0, "timeouts": 0,
                      "bad_mac": 0, "format_errors": 0, "dropped": 0, "auth_failures": 0, "refused_connections": 0,
                      "closed_write_timeout": 0, "overloaded": 0}
        self.reasons: Counter[str] = Counter()
        # Registered terminals seen lately, kept on the event loop so a request does not cross to a
        # worker thread just to find its terminal (same lifetime as the service's own cache).
        self._terminals: dict[tuple[str, str], tuple[float, TerminalContext]] = {}

    def metrics(self) -> dict[str, int]:
        """The counters and the refusals by reason (``refused:<reason>``), for monitoring and tests."""
        return {**self.stats, **{f"refused:{reason}": n for reason, n in self.reasons.items()}}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port, limit=self.max_frame_bytes * 2)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("terminal host listening on %s:%d (%s)", self.host, self.port, self.dialect.name)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        self._executor.shutdown(wait=True, cancel_futures=False)

    def _over_limit(self, address: str) -> str | None:
        if len(self._connections) >= self.max_connections:
            return "connection_limit"
        if self._per_address[address] >= self.max_connections_per_address:
            return "connection_limit_per_address"
        return None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        address = peer.rsplit(":", 1)[0]
        refusal = self._over_limit(address)
        if refusal is not None:
            # Accept and close at once: a terminal retries later, a flood holds nothing.
            self.stats["refused_connections"] += 1
            self.reasons[refusal] += 1
            log.warning("terminal connection refused: reason=%s peer=%s open=%d from_address=%d", refusal, peer,
                        len(self._connections), self._per_address[address])
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self._per_address[address] += 1
        try:
            while True:
                try:
                    raw = await read_frame(reader, self.dialect, max_frame_bytes=self.max_frame_bytes,
                                           timeout_s=self.frame_timeout_s, idle_timeout_s=self.idle_timeout_s)
                except FramingError as exc:
                    if exc.code == "idle_timeout":
                        self.stats["closed_idle"] += 1
                        log.info("terminal connection %s closed: idle for %g s", peer, self.idle_timeout_s)
                    elif exc.code != "connection_closed":
                        self.stats["closed_bad_input"] += 1
                        self._dropped(exc.code, peer)
                    break
                self.stats["requests"] += 1
                answer = await self.process(raw, peer=peer)
                if answer is None:
                    self.stats["closed_bad_input"] += 1
                    break
                try:
                    await write_frame(writer, answer, self.dialect, timeout_s=self.write_timeout_s)
                except FramingError as exc:
                    if exc.code == "frame_timeout":  # a peer that does not read holds no buffer for long
                        self.stats["closed_write_timeout"] += 1
                        log.warning("terminal connection %s closed: answer not taken within %g s", peer, self.write_timeout_s)
                    break  # the terminal hung up before its answer: it will repeat or reverse
                self.stats["responses"] += 1
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("terminal connection failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass

    def _dropped(self, reason: str, peer: str, message: Message | None = None, *, pan: str | None = None) -> None:
        """A frame dropped without an answer (unreadable): logged, counted; the connection closes."""
        self.stats["dropped"] += 1
        self.reasons[reason] += 1
        log.warning("terminal frame dropped: reason=%s peer=%s mti=%s tid=%s mid=%s stan=%s pan=%s", reason, peer,
                    *_who(message), pan or "-")

    def _refused(self, message: Message, code: str, reason: str, peer: str) -> None:
        """A request answered with a refusal of the host's own (not the service's business answer):
        30, 63, 03, 12, 25, 91, 96. Logged at WARNING with the reason and the masked PAN, counted."""
        self.reasons[reason] += 1
        if code == "30":
            self.stats["format_errors"] += 1
        elif code == "63":
            self.stats["bad_mac"] += 1
        log.warning("terminal request refused: code=%s reason=%s peer=%s mti=%s tid=%s mid=%s stan=%s pan=%s",
                    code, reason, peer, *_who(message), _masked_pan(message))

    def _answer(self, request: Message, reply: TerminalReply, key: bytes | None) -> bytes:
        """The answer, signed with ``key`` (the key the request was authenticated under), if any."""
        extra: dict[str, str | bytes] = dict(reply.fields)
        if reply.items:
            extra["48"] = tlv.encode_tlv(reply.items)
        response = response_for(request, reply.response_code, extra)
        if key is not None and self.dialect.mac_fields:
            return sign_message(response, self.dialect, key)
        return encode(response, self.dialect)

    def _unauthenticated(self, message: Message, reason: str, peer: str) -> bytes:
        """The one answer to every authentication failure: 63, unsigned, echoing 11, 41 and 42 only
        (nothing else the sender chose). The reason goes to the log and the counters only."""
        self.stats["auth_failures"] += 1
        if reason in ("bad_mac", "no_mac"):
            self.stats["bad_mac"] += 1
        self.reasons[reason] += 1
        address = peer.rsplit(":", 1)[0]
        self._failures_by_address[address] += 1
        failures = self._failures_by_address[address]
        if len(self._failures_by_address) > 100_000:
            self._failures_by_address.clear()
        log.warning("terminal authentication failed: code=%s reason=%s peer=%s mti=%s tid=%s mid=%s stan=%s pan=%s",
                    AUTH_FAILED, reason, peer, *_who(message), _masked_pan(message))
        if failures >= 10 and math.log10(failures).is_integer():
            log.error("repeated terminal authentication failures: %d from address %s (last reason %s)", failures, address, reason)
        fields: dict[str, str | bytes] = {fid: message.fields[fid] for fid in ("11", "41", "42") if fid in message.fields}
        fields["39"] = AUTH_FAILED
        return encode(Message(response_mti(message.mti), fields, tpdu=_swapped(message.tpdu)), self.dialect)

    def _authenticate(self, raw: bytes, terminal: TerminalContext | None) -> tuple[bytes | None, str | None]:
        """(the key the request is MAC'd with, None), or (None, why it is not authentic). A terminal
        without a key passes only on a host that allows unkeyed terminals; within the overlap after
        a key change the previous key is accepted too."""
        if terminal is None:
            return None, "unknown_terminal"
        if terminal.mac_key is None:
            return (None, None) if self.allow_unkeyed else (None, "unkeyed_terminal")
        if not self.dialect.mac_fields:
            return None, "no_mac_in_dialect"  # a keyed terminal's MAC cannot be checked: refused, never waved through
        if verify_message(raw, self.dialect, terminal.mac_key):
            return terminal.mac_key, None
        previous = terminal.mac_key_prev
        if previous is not None and time.time() < terminal.mac_key_prev_until and verify_message(raw, self.dialect, previous):
            return previous, None
        has_mac = any(f in decode(raw, self.dialect).fields for f in ("64", "128"))
        return None, "bad_mac" if has_mac else "no_mac"

    def _overloaded(self, message: Message, peer: str, key: bytes | None) -> bytes:
        self.stats["overloaded"] += 1
        self._refused(message, "91", "overloaded", peer)
        return self._answer(message, TerminalReply("91"), key)

    async def process(self, raw: bytes, *, peer: str = "-") -> bytes | None:
        """The answer to one framed request, or None to close the connection (unreadable input)."""
        started = time.monotonic()
        try:
            message = decode(raw, self.dialect)
        except DecodeError as exc:
            return self._format_error(exc, peer)
        if not message.is_request:
            self._dropped("not_a_request", peer, message, pan=_masked_pan(message))
            return None
        if not message.terminal_id or not message.merchant_id:
            self._refused(message, "30", "missing_field:" + ("41" if not message.terminal_id else "42"), peer)
            return self._answer(message, TerminalReply("30"), None)
        if self._pending >= self.max_pending:
            return self._overloaded(message, peer, None)
        try:
            terminal = await self._terminal(message, started)
        except KimiaError as exc:  # the KEK is missing or wrong: the operator's problem, not the terminal's
            log.error("terminal %s/%s cannot be served: %s", message.terminal_id, message.merchant_id, exc.code)
            self._refused(message, "96", exc.code, peer)
            return self._answer(message, TerminalReply("96"), None)
        mac_key, failure = self._authenticate(raw, terminal)
        if failure is not None or terminal is None:
            return self._unauthenticated(message, failure or "unknown_terminal", peer)
        if is_stale(message, self.service.clock(), self.freshness_s):
            # A captured request replayed later, or a terminal whose clock is wrong: refused
            # before anything runs (field 7 is covered by the MAC, so it cannot be refreshed),
            # answered as every other authentication failure is.
            return self._unauthenticated(message, "stale_transmission", peer)
        handler, refusal = self._route(message)
        if handler is None or refusal is not None:
            code, reason = refusal or ("12", "unknown_transaction")
            self._refused(message, code, reason, peer)
            return self._answer(message, TerminalReply(code), mac_key)
        try:
            items = tlv.decode_tlv(message.get_bytes("48") or b"")
        except tlv.TlvError as exc:
            self._refused(message, "30", f"bad_tlv:{exc.code}", peer)
            return self._answer(message, TerminalReply("30"), mac_key)
        try:
            idem_key = idempotency_key(message, self.service.clock())
        except KimiaError:
            self._refused(message, "30", "bad_local_date", peer)
            return self._answer(message, TerminalReply("30"), mac_key)
        request = HostRequest(message, items, terminal, self.service, idem_key, mac_key=mac_key)
        if handler.handle_async is None and self._pending >= self.max_pending:
            return self._overloaded(message, peer, mac_key)
        reply = await self._handle(handler, request, started)
        if reply.response_code == "91" and message.original_mti in ("0100", "0200"):
            self._spend_key(terminal, idem_key)
        if message.mti.startswith("08"):
            self._terminals.pop((message.terminal_id, message.merchant_id), None)  # a key change takes effect at once
        if reply.response_code in _HOST_REFUSALS:
            self._refused(message, reply.response_code, reply.reason or _HOST_REFUSALS[reply.response_code], peer)
        try:
            answer = self._answer(message, reply, mac_key)
        except (EncodeError, tlv.TlvError):
            log.exception("could not encode the answer of %s", handler.name)
            answer = self._answer(message, TerminalReply("96"), mac_key)
        return answer

    def _spend_key(self, terminal: TerminalContext, idem_key: str) -> None:
        """A request answered 91 posted nothing; its key is spent so that replaying it later (when
        it might pass) is answered 91 again. Queued now, ahead of any later request, and not
        waited for: the 91 is answered at the deadline whatever the writer is doing."""

        def done(future: asyncio.Future[Any]) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.error("could not spend the key of a request answered 91", exc_info=future.exception())

        try:
            asyncio.ensure_future(self.service.remember_timeout(terminal.merchant_id, idem_key)).add_done_callback(done)
        except Exception:
            log.exception("could not spend the key of a request answered 91")

    async def _terminal(self, message: Message, started: float) -> TerminalContext | None:
        """The registered terminal of fields 41 + 42 (cached for a few seconds), or None."""
        assert message.terminal_id and message.merchant_id
        ids = (message.terminal_id, message.merchant_id)
        cached = self._terminals.get(ids)
        if cached is not None and cached[0] > started:
            return cached[1]
        self._pending += 1
        try:
            terminal = await asyncio.get_running_loop().run_in_executor(self._executor, self.service.terminal, *ids)
        except KimiaError as exc:
            if exc.code != "unknown_terminal":
                raise
            return None
        finally:
            self._pending -= 1
        if len(self._terminals) > 100_000:
            self._terminals.clear()
        self._terminals[ids] = (started + TERMINAL_TTL_S, terminal)
        return terminal

    def _route(self, message: Message) -> tuple[TerminalOperation | None, tuple[str, str] | None]:
        """The handler of a request and, if it cannot run, (response code, reason): 30 for a missing
        required field (field 3 included: without it no operation is named), 13 for an amount in a
        currency other than rials (49 ≠ 364)."""
        code = (message.processing_code or "")[:2]
        mti = message.original_mti
        handler = self.handlers.get((mti, code)) or self.handlers.get((mti, "*"))
        if handler is None:
            if "3" not in message.fields and (mti, "") not in self.handlers:
                return None, ("30", "missing_field:3")
            return None, None
        for fid in handler.required:
            if fid not in message.fields:
                return handler, ("30", f"missing_field:{fid}")
        currency = message.get_str("49")
        if currency is not None and currency != RIAL:
            return handler, ("13", "currency_not_rial")
        return handler, None

    async def _handle(self, handler: TerminalOperation, request: TerminalRequest, started: float) -> TerminalReply:
        """Run the handler within the request's deadline (91 past it, nothing posted)."""
        guard = Deadline(started + self.deadline_s)
        future: asyncio.Future[TerminalReply]
        if handler.handle_async is not None:
            future = asyncio.ensure_future(self._run_async(handler, request, guard))
        else:
            self._pending += 1
            future = asyncio.get_running_loop().run_in_executor(self._executor, self._run, handler, request, guard)
            future.add_done_callback(self._done)
        reply = await self._reply_within(future, guard)
        if guard.expired:
            # Past its deadline, whoever noticed first: this loop's timer, or the writer's check
            # before it posted (the handler then answers 91 itself). Either way nothing was posted.
            self.stats["timeouts"] += 1
            reply.reason = "deadline"
        return reply

    def _done(self, _: object) -> None:
        self._pending -= 1  # a done callback runs on the loop

    def _format_error(self, exc: DecodeError, peer: str) -> bytes | None:
        """Answer 30 when the request is readable enough to be answered, else close. Either way a
        log line names the decode error (never a field value)."""
        s = exc.salvaged
        reason = f"decode:{exc.code}" + (f":{exc.field}" if exc.field else "")
        if not exc.mti or not all(f in s for f in ("11", "41", "42")):
            self._dropped(reason, peer, Message(exc.mti or "----", dict(s)))
            return None
        try:
            request = Message(exc.mti, dict(s))
            answer = self._answer(request, TerminalReply("30"), None)
        except (EncodeError, DecodeError, ValueError):
            self._dropped(reason, peer, Message(exc.mti, dict(s)))
            return None
        self._refused(request, "30", reason, peer)
        return answer

    def _run(self, handler: TerminalOperation, request: TerminalRequest, guard: Deadline) -> TerminalReply:
        with self.service.deadline(guard):
            try:
                return handler.handle(request)
            except Exception as exc:
                return self._failed(handler, exc)

    @staticmethod
    def _failed(handler: TerminalOperation, exc: Exception) -> TerminalReply:
        """The answer of a handler that raised: its error's response code (the service lets
        identifier errors through), 30 for unreadable private data, else 96 (and a log line)."""
        if isinstance(exc, Refusal):  # a plugin's refusal: a code of the catalogue
            exc = refusal_error(exc)
        if isinstance(exc, (KimiaError, IdentifierError)):
            return TerminalReply(response_code_for(exc), reason=exc.code)
        if isinstance(exc, (tlv.TlvError, DecodeError)):
            return TerminalReply("30", reason=f"bad_tlv:{exc.code}")
        log.error("terminal handler %s failed", handler.name, exc_info=exc)
        return TerminalReply("96", reason="handler_failed")

    async def _reply_within(self, future: asyncio.Future[TerminalReply], guard: Deadline) -> TerminalReply:
        """The handler's reply; at the deadline 91 instead, unless the operation is already sealed
        (its commit is under way: wait for it). The handler is never cancelled: the deadline makes
        the writer roll its operation back. (One timer and one future, cheaper per request than
        ``wait_for(shield(...))``.)"""
        if not future.done():
            loop = asyncio.get_running_loop()
            woken: asyncio.Future[None] = loop.create_future()

            def wake(_: object = None) -> None:
                if not woken.done():
                    woken.set_result(None)

            future.add_done_callback(wake)
            timer = loop.call_later(max(0.0, guard.at - time.monotonic()), wake)
            try:
                await woken
            finally:
                timer.cancel()
                future.remove_done_callback(wake)
            if not future.done() and guard.expire():
                return TerminalReply("91")
        return await future

    async def _run_async(self, handler: TerminalOperation, request: TerminalRequest, guard: Deadline) -> TerminalReply:
        assert handler.handle_async is not None
        try:
            return await handler.handle_async(request, guard)
        except Exception as exc:
            return self._failed(handler, exc)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "-"


def _swapped(tpdu: bytes | None) -> bytes | None:
    """A TPDU with destination and source swapped, for the answer."""
    return tpdu[:1] + tpdu[3:5] + tpdu[1:3] if tpdu is not None and len(tpdu) == 5 else tpdu


def _who(message: Message | None) -> tuple[str, str, str, str]:
    """MTI, terminal, merchant and STAN of a message for a log line ("-" when absent)."""
    if message is None:
        return ("-", "-", "-", "-")
    fields = message.fields
    return tuple(str(v) if isinstance(v, str) else "-" for v in (  # type: ignore[return-value]
        message.mti, fields.get("41", "-"), fields.get("42", "-"), fields.get("11", "-")))


def _masked_pan(message: Message) -> str:
    """The card of a request for a log line: first 6 and last 4 digits at most, never in clear."""
    pan = message.fields.get("2")
    if not isinstance(pan, str):
        track2 = message.fields.get("35")
        pan = track2.replace("D", "=").split("=", 1)[0] if isinstance(track2, str) else None
    return mask_pan(pan) if pan else "-"


async def serve(service: Kimia, *, host: str, port: int, dialect: Dialect = KIMIA_V1, allow_unkeyed: bool = False) -> None:
    server = TerminalServer(service, host=host, port=port, dialect=dialect, allow_unkeyed=allow_unkeyed)
    await server.start()
    print(f"kimia terminal host on {host}:{server.port} ({dialect.name})", flush=True)
    await server.serve_forever()
