"""What the terminal benchmark's machine allows before kimia does any work: two ceilings, measured
in the same run as the host itself, so a missed target can be read against this machine's speed
on the day (its CPU speed has varied by 3× between runs).

* ``echo_rate``: the issue's own anchor. An asyncio server that decodes each 0200 with pyiso8583
  and answers a 0210 encoded with pyiso8583, driven over loopback TCP by a client that does the
  same and nothing else: no database, no rules, no simulator bookkeeping.
* ``HOST_SERVER`` with ``no-db``: the kimia host with its database taken out. The first purchase is
  committed as usual; every later purchase is answered at once with that first receipt, without
  queueing it for the writer. What is left is the host's own path (framing, codec, private data,
  terminal lookup, request checks, receipt lines) and the simulator's, which stays the load
  generator. Nothing it answers is durable: it measures a bound, never a result.
"""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import time

import iso8583

from kimia.terminal import tlv
from kimia.terminal.client import TerminalIdentity, request
from kimia.terminal.codec import Message, encode
from kimia.terminal.dialect import KIMIA_V1

ECHO_SERVER = r"""
import asyncio, struct, sys
import iso8583
from kimia.terminal.dialect import KIMIA_V1

SPEC = KIMIA_V1.spec
ECHO = ("3", "4", "11", "12", "13", "37", "41", "42", "49")

async def client(reader, writer):
    try:
        while True:
            head = await reader.readexactly(2)
            doc, _ = iso8583.decode(await reader.readexactly(struct.unpack(">H", head)[0]), SPEC)
            answer = {fid: doc[fid] for fid in ECHO if fid in doc}
            answer["t"], answer["39"] = "0210", "00"
            raw, _ = iso8583.encode(answer, SPEC)
            writer.write(struct.pack(">H", len(raw)) + bytes(raw))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def main():
    server = await asyncio.start_server(client, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes

asyncio.run(main())
"""

HOST_SERVER = r"""
import asyncio, sys
from kimia.app import assemble
from kimia.settings import Settings
from kimia.terminal.server import TerminalServer

def answer_at_once(service):
    # The ceiling without a database: the first purchase is committed, every later one is answered
    # at once with that receipt instead of going to the writer.
    queue_for_writer = service.writer.submit_async
    first = []

    def submit(work):
        if not first:
            future = queue_for_writer(work)
            future.add_done_callback(lambda f: first.append(f.result()) if not f.exception() and not first else None)
            return future
        future = asyncio.get_running_loop().create_future()
        future.set_result(dict(first[0]))
        return future

    service.writer.submit_async = submit

async def main() -> None:
    service = assemble(Settings.from_env(database_url=sys.argv[1]))
    if sys.argv[2:] == ["no-db"]:
        answer_at_once(service)
    server = TerminalServer(service, port=0, allow_unkeyed=True)  # the bench's terminals have no key
    await server.start()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes stdin
    await server.close()
    service.close()

asyncio.run(main())
"""


def typical_0200() -> Message:
    """The benchmarks' typical purchase request (card, amount, RRN, TLV with a member key, a
    redemption and two basket lines)."""
    t = TerminalIdentity("T0000001", "M00000000000001")
    return request(
        t, "0200", "000000", amount_rial=1_250_000, pan="6037991234567893", rrn="000123456789",
        items=[(tlv.MK, "M:+989121234567"), (tlv.RC, "50000"),
               (tlv.BL, "beans-1kg|coffee-beans|1|900000"), (tlv.BL, "cup|merch|2|350000")],
    )


async def _drive_echo(port: int, terminals: int, seconds: float) -> int:
    doc, _ = iso8583.decode(encode(typical_0200(), KIMIA_V1), KIMIA_V1.spec)
    answered = 0
    stop = time.monotonic() + seconds

    async def terminal() -> None:
        nonlocal answered
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            raw, _ = iso8583.encode(doc, KIMIA_V1.spec)
            writer.write(struct.pack(">H", len(raw)) + bytes(raw))
            await writer.drain()
            head = await reader.readexactly(2)
            iso8583.decode(await reader.readexactly(struct.unpack(">H", head)[0]), KIMIA_V1.spec)
            answered += 1
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(terminal() for _ in range(terminals)))
    return answered


def echo_rate(terminals: int, seconds: float) -> float:
    """Round trips per second of the bare pyiso8583 echo (server in its own process)."""
    with subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            port = int(proc.stdout.readline())
            started = time.perf_counter()
            answered = asyncio.run(_drive_echo(port, terminals, seconds))
            return answered / (time.perf_counter() - started)
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
