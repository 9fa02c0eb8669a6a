"""The ISO 8583 host: an asyncio TCP server for POS terminals and PC-POS cash registers.

One request crosses as few threads as it can: the event loop decodes it and, for a purchase, queues
it straight to the group-commit writer and gets the answer back with its batch (other operations
run their handler on a worker thread, which waits for the commit); the loop writes the answer. Duplicates are
matched by the natural key (merchant id, terminal id, STAN, local date, message class), which is
also the operation's idempotency key, so an identical repeat is answered from the stored receipt
(the same bytes: responses are a pure function of request and receipt) and a different message
under the same key gets 94. A request not finished before its deadline is rolled back, never
posted, and answered 91.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pluggy

from kimia.errors import KimiaError
from kimia.identifiers import IdentifierError
from kimia.service.api import Deadline, Kimia
from kimia.service.context import TerminalContext
from kimia.terminal import tlv
from kimia.terminal.codec import DecodeError, EncodeError, Message, decode, encode, response_for
from kimia.terminal.dialect import KIMIA_V1, Dialect
from kimia.terminal.framing import FramingError, read_frame, write_frame
from kimia.terminal.handlers import TerminalHandler, TerminalReply, TerminalRequest, response_code_for
from kimia.terminal.mac import sign_message, verify_message

log = logging.getLogger(__name__)


#: How long a terminal found in the database is trusted without asking again (seconds).
TERMINAL_TTL_S = 5.0


class HandlerConflict(RuntimeError):
    pass


def build_registry(pm: pluggy.PluginManager) -> dict[tuple[str, str], TerminalHandler]:
    registry: dict[tuple[str, str], TerminalHandler] = {}
    for handlers in pm.hook.kimia_register_terminal_handlers():
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
        idle_timeout_s: float = 300.0,
        max_frame_bytes: int = 4096,
        workers: int = 64,
        plugins: pluggy.PluginManager | None = None,
    ) -> None:
        self.service = service
        self.dialect = dialect
        self.host = host
        self.port = port
        self.deadline_s = deadline_s
        self.idle_timeout_s = idle_timeout_s
        self.max_frame_bytes = max_frame_bytes
        # The service's own manager by default: kimia_operation_committed is fired by the service.
        self.pm = plugins or service.plugins
        self.handlers = build_registry(self.pm)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kimia-terminal")
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.stats = {"requests": 0, "responses": 0, "closed_bad_input": 0, "timeouts": 0}
        # Registered terminals seen lately, kept on the event loop so a request does not cross to a
        # worker thread just to find its terminal (same lifetime as the service's own cache).
        self._terminals: dict[tuple[str, str], tuple[float, TerminalContext]] = {}

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

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                try:
                    raw = await read_frame(reader, self.dialect, max_frame_bytes=self.max_frame_bytes, timeout_s=self.idle_timeout_s)
                except FramingError as exc:
                    if exc.code not in ("connection_closed", "frame_timeout"):
                        self.stats["closed_bad_input"] += 1
                    break
                self.stats["requests"] += 1
                answer = await self.process(raw)
                if answer is None:
                    self.stats["closed_bad_input"] += 1
                    break
                try:
                    await write_frame(writer, answer, self.dialect)
                except FramingError:
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
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass

    def _answer(self, request: Message, reply: TerminalReply, terminal: TerminalContext | None) -> bytes:
        extra: dict[str, str | bytes] = dict(reply.fields)
        if reply.items:
            extra["48"] = tlv.encode_tlv(reply.items)
        response = response_for(request, reply.response_code, extra)
        if terminal is not None and terminal.mac_key_hex and self.dialect.mac_fields:
            return sign_message(response, self.dialect, bytes.fromhex(terminal.mac_key_hex))
        return encode(response, self.dialect)

    async def process(self, raw: bytes) -> bytes | None:
        """The answer to one framed request, or None to close the connection (unreadable input)."""
        started = time.monotonic()
        try:
            message = decode(raw, self.dialect)
        except DecodeError as exc:
            return self._format_error(exc)
        if not message.is_request:
            return None
        if not message.terminal_id or not message.merchant_id:
            return self._answer(message, TerminalReply("30"), None)
        loop = asyncio.get_running_loop()
        ids = (message.terminal_id, message.merchant_id)
        cached = self._terminals.get(ids)
        if cached is not None and cached[0] > started:
            terminal = cached[1]
        else:
            try:
                terminal = await loop.run_in_executor(self._executor, self.service.terminal, *ids)
            except KimiaError:
                return self._answer(message, TerminalReply("03"), None)
            if len(self._terminals) > 100_000:
                self._terminals.clear()
            self._terminals[ids] = (started + TERMINAL_TTL_S, terminal)
        if terminal.mac_key_hex and self.dialect.mac_fields:
            if not verify_message(raw, self.dialect, bytes.fromhex(terminal.mac_key_hex)):
                return self._answer(message, TerminalReply("63"), terminal)
        key = message.duplicate_key()
        if key is None:
            return self._answer(message, TerminalReply("30"), terminal)
        code = (message.processing_code or "")[:2]
        handler = self.handlers.get((message.original_mti, code)) or self.handlers.get((message.original_mti, "*"))
        if handler is None:
            return self._answer(message, TerminalReply("12"), terminal)
        try:
            items = tlv.decode_tlv(message.get_bytes("48") or b"")
        except tlv.TlvError:
            return self._answer(message, TerminalReply("30"), terminal)
        request = TerminalRequest(message, items, terminal, self.service, "iso:" + ":".join(key))
        guard = Deadline(started + self.deadline_s)
        future: asyncio.Future[TerminalReply]
        if handler.handle_async is not None:
            future = asyncio.ensure_future(self._run_async(handler, request, guard))
        else:
            future = loop.run_in_executor(self._executor, self._run, handler, request, guard)
        reply = await self._reply_within(future, guard)
        if guard.expired:
            # Past its deadline, whoever noticed first: this loop's timer, or the writer's check
            # before it posted (the handler then answers 91 itself). Either way nothing was posted.
            self.stats["timeouts"] += 1
        try:
            answer = self._answer(message, reply, terminal)
        except (EncodeError, tlv.TlvError):
            log.exception("could not encode the answer of %s", handler.name)
            answer = self._answer(message, TerminalReply("96"), terminal)
        return answer

    def _format_error(self, exc: DecodeError) -> bytes | None:
        """Answer 30 when the request is readable enough to be answered, else close."""
        s = exc.salvaged
        if not exc.mti or not all(f in s for f in ("11", "41", "42")):
            return None
        try:
            request = Message(exc.mti, dict(s))
            return self._answer(request, TerminalReply("30"), None)
        except (EncodeError, DecodeError, ValueError):
            return None

    def _run(self, handler: TerminalHandler, request: TerminalRequest, guard: Deadline) -> TerminalReply:
        with self.service.deadline(guard):
            try:
                return handler.handle(request)
            except Exception as exc:
                return self._failed(handler, exc)

    @staticmethod
    def _failed(handler: TerminalHandler, exc: Exception) -> TerminalReply:
        """The answer of a handler that raised: its error's response code (the service lets
        identifier errors through), 30 for unreadable private data, else 96 (and a log line)."""
        if isinstance(exc, (KimiaError, IdentifierError)):
            return TerminalReply(response_code_for(exc))
        if isinstance(exc, (tlv.TlvError, DecodeError)):
            return TerminalReply("30")
        log.error("terminal handler %s failed", handler.name, exc_info=exc)
        return TerminalReply("96")

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

    async def _run_async(self, handler: TerminalHandler, request: TerminalRequest, guard: Deadline) -> TerminalReply:
        assert handler.handle_async is not None
        try:
            return await handler.handle_async(request, guard)
        except Exception as exc:
            return self._failed(handler, exc)


async def serve(service: Kimia, *, host: str, port: int, dialect: Dialect = KIMIA_V1) -> None:
    server = TerminalServer(service, host=host, port=port, dialect=dialect)
    await server.start()
    print(f"kimia terminal host on {host}:{server.port} ({dialect.name})", flush=True)
    await server.serve_forever()
